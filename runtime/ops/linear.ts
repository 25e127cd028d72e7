import { layerNorm } from "./norm.js";
import { activate, type FusedActivation } from "./support/activation.js";
import { parseEinsum } from "./support/linear.js";
import { tf, type Tensor, type Tensor1D, type Tensor2D } from "./tf.js";

/** torch's linear (fused forms included), matmul and einsum: the kernels that are matrix products. */

/** A linear's fused activation, applied after the bias (and after linearAdd's addend). */
export interface LinearAttrs {
  readonly activation?: FusedActivation;
}

/** layerNormLinear's: the layer norm's eps, then the product's activation. */
export interface LayerNormLinearAttrs extends LinearAttrs {
  readonly eps: number;
}

/**
 * torch's linear over the last dim, with the weight already transposed to [in, out] at load, and
 * the activation the compiler fused into it (compiler/passes/fuse.ts): tfjs's fused matMul applies
 * relu and relu6; it has no GELU, which runs after it.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, attrs: LinearAttrs = {}): Tensor {
  const weightT = weight as Tensor2D;
  const b = (bias as Tensor1D | null) ?? undefined;
  const { activation } = attrs;
  const fusedActivation = activation === "gelu" ? undefined : activation;
  const product = (a: Tensor2D): Tensor => tf.fused.matMul({ a, b: weightT, bias: b, activation: fusedActivation ?? "linear" });
  if (x.rank === 2 && activation !== "gelu") return product(x as Tensor2D);
  return tf.tidy(() => {
    const inFeatures = x.shape[x.rank - 1]!;
    const y = tf.reshape(product(tf.reshape(x, [-1, inFeatures]) as Tensor2D), [...x.shape.slice(0, -1), weightT.shape[1]]);
    return activation === "gelu" ? activate(y, activation) : y;
  });
}

/**
 * A residual added to a linear's result, then the activation: act(x @ w + bias + addend), the
 * addend of the result's shape (the compiler fuses linear → add [→ activation] into it, as
 * conv2dAdd for convolutions). Here the add and the activation are their own tfjs ops; fxc's
 * webgpu GEMM adds the residual in the product's epilogue.
 */
export function linearAdd(x: Tensor, weight: Tensor, bias: Tensor | null, addend: Tensor, attrs: LinearAttrs = {}): Tensor {
  return tf.tidy(() => activate(tf.add(linear(x, weight, bias), addend), attrs.activation));
}

/**
 * A layer norm over the last dim read only by a linear (a transformer block's ln → in_proj or
 * ln_2 → fc1): linear(layerNorm(x, gamma, beta), w, b) with the activation. Composed of the two
 * kernels here; fxc's webgpu GEMM normalizes A's rows as it loads them (its prologue).
 */
export function layerNormLinear(x: Tensor, gamma: Tensor | null, beta: Tensor | null, weight: Tensor, bias: Tensor | null, attrs: LayerNormLinearAttrs): Tensor {
  const { eps, ...linearAttrs } = attrs;
  return tf.tidy(() => linear(layerNorm(x, gamma, beta, { dims: 1, eps }), weight, bias, linearAttrs));
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
 * torch.matmul with batch broadcasting. tfjs-wasm multiplies a batch of matrices with a generic
 * loop, but one pair with XNNPACK. From 250K multiply-adds per pair (near 100K the two are even;
 * ViT's q @ kᵀ, 2.4M, runs 4-5 times faster), equal batches go pair by pair there, cut from
 * the data directly since tfjs-wasm's slicing copies the whole input each time.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 2 && b.rank === 2) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  const batch = a.shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const perPair = m * k * b.shape[b.rank - 1]!;
  // Cutting from the data leaves the gradient tape: under tf.grads or an optimizer tfjs's own batched product runs.
  const recording = tf.engine().state.gradientDepth > 0;
  if (recording || tf.getBackend() !== "wasm" || perPair < 250_000 || a.rank !== b.rank || batch.join() !== b.shape.slice(0, -2).join()) return tf.matMul(a, b);
  return tf.tidy(() => {
    const left = matrices(a);
    const right = matrices(b);
    const products = left.map((m, i) => tf.matMul(m, right[i]!));
    return tf.reshape(tf.stack(products), [...batch, m, b.shape[b.rank - 1]!]);
  });
}

/** The matrices of a batch, as separate tensors. */
function matrices(t: Tensor): tf.Tensor2D[] {
  const [rows, cols] = t.shape.slice(-2) as [number, number];
  const size = rows * cols;
  const data = t.dataSync() as Float32Array;
  return Array.from({ length: data.length / size }, (_, i) => tf.tensor2d(data.subarray(i * size, (i + 1) * size), [rows, cols]));
}
