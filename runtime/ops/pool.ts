import { alongHeightAndWidth, bins, GLOBAL_POOL_ONE_SUM_MAX, windowPadding } from "./support/pool.js";
import { tf, type Tensor, type Tensor4D } from "./tf.js";

export interface PoolAttrs {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly ceilMode?: boolean;
  readonly dilation?: readonly number[];
  readonly countIncludePad?: boolean;
}

/** torch's max_pool2d: padding never wins the max, and ceil_mode adds windows at the end. */
export function maxPool2d(input: Tensor, attrs: PoolAttrs): Tensor4D {
  const x = input as Tensor4D;
  if (attrs.dilation !== undefined && attrs.dilation.some((d) => d !== 1)) {
    throw new Error("max_pool2d with dilation is not supported by the tfjs kernels");
  }
  const { pads, out } = windowPadding(x.shape, attrs);
  const [sh, sw] = [attrs.stride[0]!, attrs.stride[1]!];
  // A 1x1 window (FPN's LastLevelMaxPool) picks every stride-th value: a reshape and a slice, whose
  // gradient is right, where tfjs's MaxPoolGrad drops some positions for a 1x1 window with stride 2.
  if (attrs.kernel[0] === 1 && attrs.kernel[1] === 1 && pads.flat().every((p) => p === 0)) return everyStride(x, out, [sh, sw]);
  return tf.maxPool(x, [attrs.kernel[0]!, attrs.kernel[1]!], [sh, sw], [[0, 0], pads[0], pads[1], [0, 0]]);
}

/**
 * x[:, ::sh, ::sw, :] for an output of `out` rows and columns, with ops that tfjs has gradients for.
 * Rows, then columns, each a slice of a 3-D view: tfjs's webgpu backend gets a 6-D slice wrong
 * under the gradient tape (zeros for the values and the gradient), which one 6-D view made it do.
 */
function everyStride(x: Tensor4D, out: readonly [number, number], [sh, sw]: readonly [number, number]): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [oh, ow] = out;
    const whole = tf.slice(tf.pad(x, [[0, 0], [0, Math.max(0, oh * sh - h)], [0, Math.max(0, ow * sw - w)], [0, 0]]), [0, 0, 0, 0], [n, oh * sh, ow * sw, c]);
    const rows = tf.slice(tf.reshape(whole, [n * oh, sh, ow * sw * c]), [0, 0, 0], [n * oh, 1, ow * sw * c]);
    const columns = tf.slice(tf.reshape(rows, [n * oh * ow, sw, c]), [0, 0, 0], [n * oh * ow, 1, c]);
    return tf.reshape(columns, [n, oh, ow, c]);
  });
}

/**
 * torch's avg_pool2d. The divisor is what torch uses: the window clipped to the padded input
 * (count_include_pad) or to the real input only; windows added by ceil_mode count only
 * what they cover. Sums come from tfjs's average pool, divisors from pooling a mask.
 */
export function avgPool2d(input: Tensor, attrs: PoolAttrs): Tensor4D {
  const x = input as Tensor4D;
  const [kh, kw] = [attrs.kernel[0]!, attrs.kernel[1]!];
  const strides: [number, number] = [attrs.stride[0]!, attrs.stride[1]!];
  const { pads } = windowPadding(x.shape, attrs);
  const noPadding = pads.every(([a, b]) => a === 0 && b === 0);
  if (noPadding) return tf.avgPool(x, [kh, kw], strides, "valid");
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const padded = tf.pad(x, [[0, 0], pads[0], pads[1], [0, 0]]);
    const sums = tf.mul(tf.avgPool(padded, [kh, kw], strides, "valid"), kh * kw);
    // 1 where an element counts towards the divisor.
    const include = attrs.countIncludePad ?? true;
    const [ph, pw] = [attrs.padding[0]!, attrs.padding[1]!];
    const maskH = include ? h + 2 * ph : h;
    const maskW = include ? w + 2 * pw : w;
    const before: [number, number] = include ? [0, 0] : [ph, pw];
    const ones = tf.ones([1, maskH, maskW, 1]);
    const mask = tf.pad(ones, [
      [0, 0],
      [before[0], pads[0][0] + pads[0][1] + h - maskH - before[0]],
      [before[1], pads[1][0] + pads[1][1] + w - maskW - before[1]],
      [0, 0],
    ]) as Tensor4D;
    const counts = tf.mul(tf.avgPool(mask, [kh, kw], strides, "valid"), kh * kw);
    return tf.div(sums, counts) as Tensor4D;
  });
}

/** Each output row averages its bin: adaptive pooling along an axis is a matrix product. */
function averagingMatrix(n: number, o: number): tf.Tensor2D {
  const m = new Float32Array(o * n);
  bins(n, o).forEach(([s, e], i) => {
    for (let j = s; j < e; j++) m[i * n + j] = 1 / (e - s);
  });
  return tf.tensor2d(m, [o, n]);
}

/** torch's adaptive_avg_pool2d to any output size. */
export function adaptiveAvgPool2d(input: Tensor, attrs: { readonly outputSize: readonly number[] }): Tensor4D {
  const x = input as Tensor4D;
  const [, h, w] = x.shape;
  const [oh, ow] = [attrs.outputSize[0]!, attrs.outputSize[1]!];
  // A large plane to 1x1: each row's mean first, then the rows' mean (equal rows: the same mean). webgpu's pool
  // adds the whole window in one float32 sum, whose rounding grows with its size (Mask R-CNN's mobilenet_v3_small
  // squeeze-excitation over 120x160 moved a fixture detection's score by 1.1e-4, torch's cascaded sum stays near 1e-6).
  if (oh === 1 && ow === 1 && h * w > GLOBAL_POOL_ONE_SUM_MAX && h > 1 && w > 1) return tf.tidy(() => tf.avgPool(tf.avgPool(x, [1, w], [1, w], "valid"), [h, 1], [h, 1], "valid"));
  // Equal bins are one average pool; to 1x1 too, which is ~5x faster than tfjs's mean over H and W (it transposes first).
  if (h % oh === 0 && w % ow === 0) return tf.avgPool(x, [h / oh, w / ow], [h / oh, w / ow], "valid");
  return tf.tidy(() => alongHeightAndWidth(x, averagingMatrix(h, oh), averagingMatrix(w, ow)));
}

/** torch's adaptive_max_pool2d: the max of each bin. */
export function adaptiveMaxPool2d(input: Tensor, attrs: { readonly outputSize: readonly number[] }): Tensor4D {
  const x = input as Tensor4D;
  const [n, h, w, c] = x.shape;
  const [oh, ow] = [attrs.outputSize[0]!, attrs.outputSize[1]!];
  return tf.tidy(() => {
    const rows = bins(h, oh).map(([hs, he]) => {
      const cells = bins(w, ow).map(([ws, we]) => tf.max(tf.slice(x, [0, hs, ws, 0], [n, he - hs, we - ws, c]), [1, 2], true));
      return tf.concat(cells, 2);
    });
    return tf.concat(rows, 1) as Tensor4D;
  });
}
