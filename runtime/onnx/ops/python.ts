import { torchShape } from "../../ops/support/python.js";
import { OnnxValue } from "./onnx.js";

/** runtime/ops/python.ts over ONNX. */

/** `x.shape` or `x.size(dim)` in torch's dim order: known when the graph is built. */
export function shapeOf(x: OnnxValue, attrs?: { readonly inFormat?: string; readonly dim?: null }): number[];
export function shapeOf(x: OnnxValue, attrs: { readonly inFormat?: string; readonly dim: number }): number;
export function shapeOf(x: OnnxValue, attrs: { readonly inFormat?: string; readonly dim?: number | null } = {}): number[] | number {
  return torchShape(x.shape, attrs);
}

export function getitem<T>(obj: readonly T[], index: number): T {
  return obj[index < 0 ? index + obj.length : index]!;
}
