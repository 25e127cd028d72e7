import { tf, type Tensor, type Tensor3D } from "./tf.js";
import { mul } from "./elementwise.js";
import { matmul, softmax } from "./shape.js";

/** Kernels of attention layers with torch's semantics: scaled dot-product attention, einsum, and rows picked by an index tensor. */

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale)·v over [...batch, tokens, headDim], as torch's
 * multi_head_attention_forward computes it: q scaled first, then the kernels the unfused program
 * runs (so that fusing changes no digit on tfjs). `keysTransposed` is kᵀ, [...batch, headDim,
 * keys], as the lowering stores keys for q·kᵀ (the matmul's right operand); `values` is [...batch,
 * keys, valueDim]. The compiler fuses the four calls into this one (compiler/passes/fuse.ts), which
 * an engine may run as one kernel (runtime/webgpu/ops/attention.ts).
 */
export function attention(q: Tensor, keysTransposed: Tensor, values: Tensor, attrs: { readonly scale: number }): Tensor {
  return tf.tidy(() => {
    const scores = matmul(attrs.scale === 1 ? q : mul(q, attrs.scale), keysTransposed);
    return matmul(softmax(scores, { axis: scores.rank - 1 }), values);
  });
}

/** The sizes of a packed q|k|v product [B, T, 3E] split into `heads` heads: B, T, E and D = E / heads. */
export function packedHeads(shape: readonly number[], heads: number): { batch: number; tokens: number; embed: number; headDim: number } {
  const [batch, tokens, width] = shape as [number, number, number];
  const embed = width / 3;
  const headDim = embed / heads;
  if (shape.length !== 3 || !Number.isInteger(headDim) || headDim < 1) throw new Error(`multiHeadAttention: a packed q|k|v product [B, T, 3E] with E a multiple of ${heads} heads expected, got [${shape.join(", ")}]`);
  return { batch, tokens, embed, headDim };
}

/** Where torch's head split moves q and v ([B, T, H, D] to [B, H, T, D]) and k (to kᵀ, [B, H, D, T]); the first is also the merge of the heads back. */
export const HEADS_FIRST: readonly number[] = [0, 2, 1, 3];
export const KEYS_TRANSPOSED: readonly number[] = [0, 2, 3, 1];

/**
 * torch's multi_head_attention_forward from its in-projection's packed product: qkv [B, T, 3E]
 * holds q, k and v as its three E-wide column blocks, each `heads` heads of D = E / heads; the
 * result is each head's attention, concatenated as torch's reshape does, [B, T, E]. The
 * compiler fuses the split, the head moves, the attention and the merge into this one call
 * (compiler/passes/fuse.ts); here it is those kernels, so that fusing changes no digit on tfjs,
 * and an engine may run it as one kernel (runtime/webgpu/ops/attention.ts).
 */
export function multiHeadAttention(qkv: Tensor, attrs: { readonly heads: number; readonly scale: number }): Tensor3D {
  const { batch, tokens, embed, headDim } = packedHeads(qkv.shape, attrs.heads);
  return tf.tidy(() => {
    const [q, k, v] = tf.split(qkv, 3, 2) as [Tensor, Tensor, Tensor];
    const split = (t: Tensor, perm: readonly number[]): Tensor => tf.transpose(tf.reshape(t, [batch, tokens, attrs.heads, headDim]), [...perm]);
    const heads = attention(split(q, HEADS_FIRST), split(k, KEYS_TRANSPOSED), split(v, HEADS_FIRST), attrs);
    return tf.reshape(tf.transpose(heads, [...HEADS_FIRST]), [batch, tokens, embed]);
  });
}

/** An einsum equation read into one list of labels per operand and the output's labels. */
export interface EinsumPlan {
  readonly inputs: readonly (readonly string[])[];
  readonly output: readonly string[];
}

/**
 * Reads an equation as torch.einsum does: letters are labels, spaces are ignored, and without
 * `->` the output is the labels used once, in alphabetical order (capitals first, as torch).
 * Ellipses and a label repeated within one operand (diagonals) are not supported.
 */
export function parseEinsum(equation: string, operands: number): EinsumPlan {
  const text = equation.replace(/\s+/g, "");
  if (text.includes(".")) throw new Error(`einsum '${equation}': ellipses (...) are not supported`);
  const [lhs, rhs, ...extra] = text.split("->");
  if (extra.length > 0) throw new Error(`einsum '${equation}' has more than one '->'`);
  const inputs = lhs!.split(",").map((term) => [...term]);
  if (inputs.length !== operands) throw new Error(`einsum '${equation}' names ${inputs.length} operands, got ${operands}`);
  const labels = (term: readonly string[], what: string): readonly string[] => {
    const bad = term.find((l) => !/^[A-Za-z]$/.test(l));
    if (bad !== undefined) throw new Error(`einsum '${equation}': '${bad}' in ${what} is not a letter`);
    if (new Set(term).size !== term.length) throw new Error(`einsum '${equation}': a label repeated in ${what} (a diagonal) is not supported`);
    return term;
  };
  inputs.forEach((term, i) => labels(term, `operand ${i}`));
  const all = inputs.flat();
  if (rhs === undefined) return { inputs, output: [...new Set(all)].filter((l) => all.indexOf(l) === all.lastIndexOf(l)).sort() };
  const output = labels([...rhs], "the output");
  const unknown = output.find((l) => !all.includes(l));
  if (unknown !== undefined) throw new Error(`einsum '${equation}': output label '${unknown}' is in no operand`);
  return { inputs, output };
}

interface Labelled {
  readonly t: Tensor;
  readonly labels: readonly string[];
}

/** The tensor with its dims in `order` (a permutation of its labels). */
function arrange(x: Labelled, order: readonly string[]): Tensor {
  const perm = order.map((l) => x.labels.indexOf(l));
  return perm.every((p, i) => p === i) ? x.t : tf.transpose(x.t, perm);
}

const sizeOf = (x: Labelled, l: string): number => x.t.shape[x.labels.indexOf(l)]!;
const product = (x: Labelled, labels: readonly string[]): number => labels.reduce((p, l) => p * sizeOf(x, l), 1);

/**
 * One operand of a batched matmul, [batch, rows, inner] (or its transpose when the data
 * already sits that way, so that the matmul transposes instead of a copy).
 */
function matmulOperand(x: Labelled, batch: readonly string[], outer: readonly string[], inner: readonly string[], innerLast: boolean): { t: Tensor; transposed: boolean } {
  const natural = innerLast ? [...batch, ...outer, ...inner] : [...batch, ...inner, ...outer];
  const flipped = innerLast ? [...batch, ...inner, ...outer] : [...batch, ...outer, ...inner];
  const inPlace = (order: readonly string[]): boolean => order.every((l, i) => x.labels[i] === l);
  const transposed = !inPlace(natural) && inPlace(flipped);
  const order = transposed ? flipped : natural;
  const rows = product(x, outer);
  const depth = product(x, inner);
  const dims = innerLast !== transposed ? [rows, depth] : [depth, rows];
  return { t: tf.reshape(arrange(x, order), [product(x, batch), ...dims]), transposed };
}

/**
 * torch.einsum for one or two operands: labels found in one operand only and not in the
 * output are summed first; two operands then meet in one batched matmul (shared output
 * labels are the batch, shared others are contracted), and the result is put in the
 * output's order.
 */
export function einsum(operands: readonly Tensor[], attrs: { readonly equation: string }): Tensor {
  const plan = parseEinsum(attrs.equation, operands.length);
  if (operands.length > 2) throw new Error(`einsum '${attrs.equation}': more than two operands are not supported`);
  return tf.tidy(() => {
    const reduced: Labelled[] = operands.map((t, i) => {
      const labels = plan.inputs[i]!;
      const kept = labels.map((l) => plan.output.includes(l) || plan.inputs.some((other, j) => j !== i && other.includes(l)));
      const axes = kept.flatMap((k, axis) => (k ? [] : [axis]));
      return { t: axes.length > 0 ? tf.sum(t, axes) : t, labels: labels.filter((_, axis) => kept[axis]) };
    });
    if (reduced.length === 1) return arrange(reduced[0]!, plan.output);
    const [a, b] = reduced as [Labelled, Labelled];
    const batch = plan.output.filter((l) => a.labels.includes(l) && b.labels.includes(l));
    const contracted = a.labels.filter((l) => b.labels.includes(l) && !plan.output.includes(l));
    const aFree = a.labels.filter((l) => !b.labels.includes(l));
    const bFree = b.labels.filter((l) => !a.labels.includes(l));
    const left = matmulOperand(a, batch, aFree, contracted, true);
    const right = matmulOperand(b, batch, bFree, contracted, false);
    const product3 = tf.matMul(left.t, right.t, left.transposed, right.transposed);
    const labels = [...batch, ...aFree, ...bFree];
    const shape = labels.map((l) => (a.labels.includes(l) ? sizeOf(a, l) : sizeOf(b, l)));
    return arrange({ t: tf.reshape(product3, shape), labels }, plan.output);
  });
}

/**
 * `x[index]` with an integer index tensor: rows of dim 0, in the index's shape followed by
 * x's other dims (`shape`, with -1 for the free batch). Index buffers are read as float32
 * from checkpoints, so they are cast back to int32 here.
 */
export function gather(x: Tensor, index: Tensor, attrs: { readonly shape: readonly number[] }): Tensor {
  return tf.tidy(() => {
    const rows = tf.reshape(index.dtype === "int32" ? index : tf.cast(index, "int32"), [-1]);
    return tf.reshape(tf.gather(x, rows, 0), [...attrs.shape]);
  });
}
