import { tf, type Tensor, type Tensor1D, type Tensor2D } from "./tf.js";
import { storeAs, torchOrder } from "./layout.js";
import { activate, type FusedActivation } from "./activation.js";
import { layerNorm } from "./shape.js";

/** torch.flatten in torch's dim order, whatever the input's storage. */
export function flatten(x: Tensor, attrs: { readonly startDim: number; readonly endDim: number; readonly inFormat?: string; readonly outFormat?: string }): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    const shape = t.shape;
    const merged = shape.slice(attrs.startDim, attrs.endDim + 1).reduce((a, b) => a * b, 1);
    return storeAs(tf.reshape(t, [...shape.slice(0, attrs.startDim), merged, ...shape.slice(attrs.endDim + 1)]), attrs);
  });
}

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

/** shapeOf's attributes in general (its overloads each narrow `dim`): what lowering writes. */
export type ShapeOfAttrs = { readonly inFormat?: string; readonly dim?: number | null };

/** `x.shape` or `x.size(dim)` in torch's dim order. */
export function shapeOf(x: Tensor, attrs?: { readonly inFormat?: string; readonly dim?: null }): number[];
export function shapeOf(x: Tensor, attrs: { readonly inFormat?: string; readonly dim: number }): number;
export function shapeOf(x: Tensor, attrs: ShapeOfAttrs = {}): number[] | number {
  return torchShape(x.shape, attrs);
}

/** A stored shape in torch's dim order, or one of its sizes: every engine's shapeOf. */
export function torchShape(shape: readonly number[], attrs: ShapeOfAttrs): number[] | number {
  const s = attrs.inFormat === "channelsLast" ? [shape[0]!, shape[3]!, shape[1]!, shape[2]!] : [...shape];
  if (attrs.dim === undefined || attrs.dim === null) return s;
  return s[attrs.dim < 0 ? attrs.dim + s.length : attrs.dim]!;
}

/**
 * `obj[index]` on a shape or tuple known only at run time. A tensor taken from a tuple is
 * a new handle (tfjs shares the data), so freeing the tuple later leaves it intact.
 */
export function getitem<T>(obj: readonly T[], index: number): T {
  const item = obj[index < 0 ? index + obj.length : index]!;
  return item instanceof tf.Tensor ? (tf.clone(item) as T) : item;
}

/** Frees intermediate values as soon as they are dead: tensors, and tensors inside tuples. */
export function dispose(...values: unknown[]): void {
  for (const v of values) {
    if (Array.isArray(v)) dispose(...v);
    else if (v !== null && typeof v === "object" && "dispose" in v && typeof v.dispose === "function") (v as Tensor).dispose();
  }
}
