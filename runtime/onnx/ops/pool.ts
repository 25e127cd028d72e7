import type { PoolAttrs } from "../../ops/pool.js";
import { GLOBAL_POOL_ONE_SUM_MAX, bins, windowPadding } from "../../ops/support/pool.js";
import { OnnxValue, concat, div, matmul, mul, pad, pool, reduce, slice, transpose } from "./onnx.js";

/** runtime/ops/pool.ts over ONNX, with torch's window rules computed as the tfjs kernels compute them. */

const nchw = (x: OnnxValue): OnnxValue => transpose(x, [0, 3, 1, 2]);
const nhwc = (x: OnnxValue): OnnxValue => transpose(x, [0, 2, 3, 1]);

/**
 * The pads of each axis: without ceil_mode, torch's own padding on both sides (ONNX's floor rule
 * then gives torch's windows, and the graph does not depend on the input's size, so that one graph
 * serves every size); with it, the end padding the tfjs kernels compute for this size.
 */
function windowPads(shape: readonly number[], attrs: PoolAttrs): ReturnType<typeof windowPadding> {
  const computed = windowPadding(shape, attrs);
  if (attrs.ceilMode === true) return computed;
  const [ph, pw] = [attrs.padding[0]!, attrs.padding[1]!];
  return { ...computed, pads: [[ph, ph], [pw, pw]] };
}

export function maxPool2d(x: OnnxValue, attrs: PoolAttrs): OnnxValue {
  if (attrs.dilation !== undefined && attrs.dilation.some((d) => d !== 1)) throw new Error("max_pool2d with dilation is not supported by the onnxruntime kernels");
  const { pads } = windowPads(x.shape, attrs);
  const kernel = [attrs.kernel[0]!, attrs.kernel[1]!] as const;
  const strides = [attrs.stride[0]!, attrs.stride[1]!] as const;
  return nhwc(pool("MaxPool", nchw(x), kernel, strides, [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]));
}

/** torch's divisor of each window, [1, oh, ow, 1]: what the tfjs kernel gets by pooling a mask, computed here. */
function divisors(h: number, w: number, attrs: PoolAttrs, out: readonly [number, number]): Float32Array {
  const include = attrs.countIncludePad ?? true;
  const counts = (axis: 0 | 1, size: number): number[] => {
    const [k, s, p] = [attrs.kernel[axis]!, attrs.stride[axis]!, attrs.padding[axis]!];
    // In padded coordinates, the counted region is [lo, hi).
    const [lo, hi] = include ? [0, size + 2 * p] : [p, p + size];
    return Array.from({ length: out[axis] }, (_, i) => Math.max(0, Math.min(i * s + k, hi) - Math.max(i * s, lo)));
  };
  const [rows, cols] = [counts(0, h), counts(1, w)];
  const d = new Float32Array(out[0] * out[1]);
  rows.forEach((r, i) => cols.forEach((c, j) => (d[i * out[1] + j] = r * c)));
  return d;
}

export function avgPool2d(x: OnnxValue, attrs: PoolAttrs): OnnxValue {
  const kernel = [attrs.kernel[0]!, attrs.kernel[1]!] as const;
  const strides = [attrs.stride[0]!, attrs.stride[1]!] as const;
  const { pads, out } = windowPads(x.shape, attrs);
  const include = attrs.countIncludePad ?? true;
  // ONNX's AveragePool divides by the whole window (count_include_pad) or by the input it covers:
  // torch's divisors, except where ceil_mode's last window reaches past the padding, which torch
  // does not count and ONNX would. One op there, not Pad, AveragePool, Mul and Div.
  const withinPadding = pads.every(([, after], axis) => after <= attrs.padding[axis]!);
  if (!include || withinPadding) {
    const onnxPads = [pads[0][0], pads[1][0], pads[0][1], pads[1][1]] as const;
    return nhwc(pool("AveragePool", nchw(x), kernel, strides, onnxPads, { count_include_pad: include ? 1 : 0 }));
  }
  const [, h, w] = x.shape as [number, number, number, number];
  const valid = [0, 0, 0, 0] as const;
  const padded = pad(x, [[0, 0], pads[0], pads[1], [0, 0]]);
  const sums = mul(pool("AveragePool", nchw(padded), kernel, strides, valid), kernel[0] * kernel[1]);
  const counts = x.graph.constant({ dtype: "float", dims: [1, 1, out[0], out[1]], data: divisors(h, w, attrs, out) });
  return nhwc(div(sums, counts));
}

/**
 * The mean or max over H and W of a channels-last value, kept as [N, 1, 1, C]: ONNX's global
 * pools, which ORT runs in its blocked (NCHWc) layout between convolutions (squeeze-excitation
 * blocks) where a ReduceMean over the channels-last axes would reorder the tensor out and back.
 */
export function globalPool(op: "GlobalAveragePool" | "GlobalMaxPool", x: OnnxValue): OnnxValue {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  // ORT's GlobalAveragePool adds the whole plane in one float32 sum, whose rounding grows with its
  // size (2e-5 of the output's magnitude over a 120x128 map, where torch's cascaded sum stays near
  // 1e-6); on large maps each row's mean first, then the mean of the rows (equal rows: the same mean).
  const rowsFirst = op === "GlobalAveragePool" && h * w > GLOBAL_POOL_ONE_SUM_MAX && h > 1 && w > 1;
  const planes = rowsFirst ? pool("AveragePool", nchw(x), [1, w], [1, w], [0, 0, 0, 0]) : nchw(x);
  return nhwc(x.graph.node(op, [planes], {}, [n, c, 1, 1]));
}

/** Each output row averages its bin: adaptive pooling along an axis is a product with this [n, o] matrix. */
function averagingMatrixT(x: OnnxValue, n: number, o: number): OnnxValue {
  const m = new Float32Array(n * o);
  bins(n, o).forEach(([s, e], i) => {
    for (let j = s; j < e; j++) m[j * o + i] = 1 / (e - s);
  });
  return x.graph.constant({ dtype: "float", dims: [n, o], data: m });
}

export function adaptiveAvgPool2d(x: OnnxValue, attrs: { readonly outputSize: readonly number[] }): OnnxValue {
  const [, h, w] = x.shape as [number, number, number, number];
  const [oh, ow] = [attrs.outputSize[0]!, attrs.outputSize[1]!];
  if (h % oh === 0 && w % ow === 0) {
    if (oh === 1 && ow === 1) return globalPool("GlobalAveragePool", x);
    return nhwc(pool("AveragePool", nchw(x), [h / oh, w / ow], [h / oh, w / ow], [0, 0, 0, 0]));
  }
  // [N, W, C, H] x [H, oh], then [N, oh, C, W] x [W, ow], back to [N, oh, ow, C].
  const pooledH = matmul(transpose(x, [0, 2, 3, 1]), averagingMatrixT(x, h, oh));
  const pooled = matmul(transpose(pooledH, [0, 3, 2, 1]), averagingMatrixT(x, w, ow));
  return transpose(pooled, [0, 1, 3, 2]);
}

export function adaptiveMaxPool2d(x: OnnxValue, attrs: { readonly outputSize: readonly number[] }): OnnxValue {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [oh, ow] = [attrs.outputSize[0]!, attrs.outputSize[1]!];
  if (oh === 1 && ow === 1) return globalPool("GlobalMaxPool", x);
  const rows = bins(h, oh).map(([hs, he]) => concat(bins(w, ow).map(([ws, we]) => reduce("ReduceMax", slice(x, [0, hs, ws, 0], [n, he, we, c]), [1, 2], true)), 2));
  return concat(rows, 1);
}
