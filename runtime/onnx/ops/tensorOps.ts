import { torchShape } from "../../ops/tensorOps.js";
import { storeAs, torchOrder } from "./layout.js";
import { OnnxValue, add, matmul, reshape } from "./onnx.js";

/** runtime/ops/tensorOps.ts over ONNX. */

export function flatten(x: OnnxValue, attrs: { readonly startDim: number; readonly endDim: number; readonly inFormat?: string; readonly outFormat?: string }): OnnxValue {
  const t = torchOrder(x, attrs);
  const merged = t.shape.slice(attrs.startDim, attrs.endDim + 1).reduce((a, b) => a * b, 1);
  return storeAs(reshape(t, [...t.shape.slice(0, attrs.startDim), merged, ...t.shape.slice(attrs.endDim + 1)]), attrs);
}

/** torch's linear over the last dim; the weight is [in, out] as the tfjs kernel takes it. */
export function linear(x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null): OnnxValue {
  const y = matmul(x, weight);
  return bias === null ? y : add(y, bias);
}

/** `x.shape` or `x.size(dim)` in torch's dim order: known when the graph is built. */
export function shapeOf(x: OnnxValue, attrs?: { readonly inFormat?: string; readonly dim?: null }): number[];
export function shapeOf(x: OnnxValue, attrs: { readonly inFormat?: string; readonly dim: number }): number;
export function shapeOf(x: OnnxValue, attrs: { readonly inFormat?: string; readonly dim?: number | null } = {}): number[] | number {
  return torchShape(x.shape, attrs);
}

export function getitem<T>(obj: readonly T[], index: number): T {
  return obj[index < 0 ? index + obj.length : index]!;
}
