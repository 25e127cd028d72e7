import { OnnxValue, identity, reshape, transpose } from "./onnx.js";

/** runtime/ops/layout.ts over ONNX: values are stored as the tfjs kernels store them. */

export const toChannelsLast = (x: OnnxValue): OnnxValue => transpose(x, [0, 2, 3, 1]);
export const toContiguous = (x: OnnxValue): OnnxValue => transpose(x, [0, 3, 1, 2]);

export const torchOrder = (x: OnnxValue, attrs: { readonly inFormat?: string }): OnnxValue => (attrs.inFormat === "channelsLast" ? toContiguous(x) : x);
export const storeAs = (x: OnnxValue, attrs: { readonly outFormat?: string }): OnnxValue => (attrs.outFormat === "channelsLast" ? toChannelsLast(x) : x);

/** A lower-rank operand aligned to a channels-last 4-D value, as torch broadcasts it against NCHW. */
export function alignChannelsLast(t: OnnxValue): OnnxValue {
  if (t.rank === 0 || t.rank === 4) return t;
  return transpose(reshape(t, [...Array<number>(4 - t.rank).fill(1), ...t.shape]), [0, 2, 3, 1]);
}

export const clone = (x: OnnxValue): OnnxValue => identity(x);
