import type { PoolAttrs } from "../pool.js";
import { tf, type Tensor4D } from "../tf.js";

/** Helpers that the pooling (and interpolation) kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** torch's output size along one axis, ceil_mode included. */
function outputSize(size: number, kernel: number, stride: number, padding: number, ceilMode: boolean): number {
  const span = size + 2 * padding - kernel;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out -= 1;
  return out;
}

/** Padding [before, after] per axis of an NHWC shape so that a 'valid' window walk gives torch's output size. */
export function windowPadding(shape: readonly number[], attrs: PoolAttrs): { pads: [[number, number], [number, number]]; out: [number, number] } {
  const pads: [number, number][] = [];
  const out: number[] = [];
  for (let axis = 0; axis < 2; axis++) {
    const size = shape[axis + 1]!;
    const [k, s, p] = [attrs.kernel[axis]!, attrs.stride[axis]!, attrs.padding[axis]!];
    const o = outputSize(size, k, s, p, attrs.ceilMode ?? false);
    const after = Math.max(0, (o - 1) * s + k - size - p);
    pads.push([p, after]);
    out.push(o);
  }
  return { pads: pads as [[number, number], [number, number]], out: out as [number, number] };
}

/** torch's adaptive bins along one axis: bin i covers [floor(i*n/o), ceil((i+1)*n/o)). */
export function bins(n: number, o: number): [number, number][] {
  return Array.from({ length: o }, (_, i) => [Math.floor((i * n) / o), Math.ceil(((i + 1) * n) / o)] as [number, number]);
}

/**
 * The largest plane an average to 1x1 sums at once (64x64, every classification model's squeeze-excitation at
 * 224 px but the first stages'); larger ones average rows first (here and in runtime/onnx's global pool).
 */
export const GLOBAL_POOL_ONE_SUM_MAX = 64 * 64;

/**
 * An NHWC value with H mixed by `rows` ([oh, H]) and W by `cols` ([ow, W]): separable
 * resampling (adaptive average pooling, bilinear interpolation) as two matrix products.
 */
export function alongHeightAndWidth(x: Tensor4D, rows: tf.Tensor2D, cols: tf.Tensor2D): Tensor4D {
  const [n, h, w, c] = x.shape;
  const [oh, ow] = [rows.shape[0], cols.shape[0]];
  return tf.tidy(() => {
    // H: [H, N*W*C] -> [oh, N*W*C]; then W the same way.
    const byH = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
    const pooledH = tf.reshape(tf.matMul(rows, byH), [oh, n, w, c]);
    const byW = tf.reshape(tf.transpose(pooledH, [2, 1, 0, 3]), [w, n * oh * c]);
    const pooled = tf.reshape(tf.matMul(cols, byW), [ow, n, oh, c]);
    return tf.transpose(pooled, [1, 2, 0, 3]) as Tensor4D;
  });
}
