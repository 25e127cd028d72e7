import { tf, type Tensor } from "./tf.js";
import { storeAs, torchOrder } from "./layout.js";

/** Kernels that move, join, split or reduce dims. Axes arrive already mapped to storage by the compiler. */

/** A transpose of storage; the identity is free (a new handle on the same data). */
export function permute(x: Tensor, attrs: { readonly perm: readonly number[] }): Tensor {
  return attrs.perm.every((p, i) => p === i) ? tf.clone(x) : tf.transpose(x, [...attrs.perm]);
}

/** torch's view/reshape, in torch's dim order. */
export function reshape(x: Tensor, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): Tensor {
  if (!attrs.inFormat && !attrs.outFormat) return tf.reshape(x, [...shape]);
  return tf.tidy(() => storeAs(tf.reshape(torchOrder(x, attrs), [...shape]), attrs));
}

export function concat(xs: readonly Tensor[], attrs: { readonly axis: number }): Tensor {
  return tf.concat([...xs], attrs.axis);
}

export function split(x: Tensor, attrs: { readonly sizes: readonly number[]; readonly axis: number }): Tensor[] {
  return tf.split(x, [...attrs.sizes], attrs.axis);
}

type Reduce = { readonly axes: readonly number[]; readonly keepDims: boolean };
export const mean = (x: Tensor, attrs: Reduce): Tensor => tf.mean(x, [...attrs.axes], attrs.keepDims);
export const sum = (x: Tensor, attrs: Reduce): Tensor => tf.sum(x, [...attrs.axes], attrs.keepDims);
export const max = (x: Tensor, attrs: Reduce): Tensor => tf.max(x, [...attrs.axes], attrs.keepDims);

export function softmax(x: Tensor, attrs: { readonly axis: number }): Tensor {
  const last = x.rank - 1;
  if (attrs.axis === last || attrs.axis === -1) return tf.softmax(x);
  // tfjs's softmax works on the last axis only.
  return tf.tidy(() => {
    const perm = [...Array(x.rank).keys()];
    [perm[attrs.axis], perm[last]] = [last, attrs.axis];
    return tf.transpose(tf.softmax(tf.transpose(x, perm)), perm);
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

/** torch's layer_norm over the last `dims` dims (biased variance, as torch). */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, attrs: { readonly dims: number; readonly eps: number }): Tensor {
  return tf.tidy(() => {
    const axes = [...Array(attrs.dims).keys()].map((i) => x.rank - attrs.dims + i);
    const { mean: mu, variance } = tf.moments(x, axes, true);
    let y = tf.mul(tf.sub(x, mu), tf.rsqrt(tf.add(variance, attrs.eps)));
    if (weight !== null) y = tf.mul(y, weight);
    if (bias !== null) y = tf.add(y, bias);
    return y;
  });
}

/** torchvision's stochastic_depth as in train mode (eval mode compiles it away). */
export function stochasticDepth(x: Tensor, attrs: { readonly p: number; readonly mode: string }): Tensor {
  return tf.tidy(() => {
    const survival = 1 - attrs.p;
    const shape = attrs.mode === "row" ? [x.shape[0]!, ...Array(x.rank - 1).fill(1)] : Array(x.rank).fill(1);
    const noise = tf.cast(tf.less(tf.randomUniform(shape), survival), "float32");
    return tf.mul(x, survival > 0 ? tf.div(noise, survival) : noise);
  });
}

/** torch's basic indexing: a strided slice over torch's dims, then the result's shape. */
export function index(
  x: Tensor,
  attrs: { readonly begin: readonly number[]; readonly end: readonly number[]; readonly strides: readonly number[]; readonly shape: readonly number[]; readonly inFormat?: string; readonly outFormat?: string },
): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    // An end of -1 marks the free batch dim: take all of it.
    const end = attrs.end.map((e, i) => (e === -1 ? t.shape[i]! : e));
    return storeAs(tf.reshape(tf.stridedSlice(t, [...attrs.begin], end, [...attrs.strides]), [...attrs.shape]), attrs);
  });
}

/** torch's expand sizes against the input's torch-ordered shape: -1 keeps that dim (the free batch, say), as in torch. */
export function expandedShape(sizes: readonly number[], input: readonly number[]): number[] {
  const lead = sizes.length - input.length;
  return sizes.map((s, i) => (s === -1 ? input[i - lead]! : s));
}

/** torch's expand: broadcasting to a larger shape (tfjs copies; torch makes a view). */
export function expand(x: Tensor, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    return storeAs(tf.broadcastTo(t, expandedShape(shape, t.shape)), attrs);
  });
}
