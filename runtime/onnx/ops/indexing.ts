import { storeAs, torchOrder } from "./layout.js";
import * as o from "./onnx.js";
import { OnnxValue, gather as gatherRows, reshape } from "./onnx.js";

/** runtime/ops/indexing.ts over ONNX. */

export function gather(x: OnnxValue, index: OnnxValue, attrs: { readonly shape: readonly number[] }): OnnxValue {
  return reshape(gatherRows(x, reshape(index, [-1]), 0), attrs.shape);
}

export function index(
  x: OnnxValue,
  attrs: { readonly begin: readonly number[]; readonly end: readonly number[]; readonly strides: readonly number[]; readonly shape: readonly number[]; readonly inFormat?: string; readonly outFormat?: string },
): OnnxValue {
  const t = torchOrder(x, attrs);
  const end = attrs.end.map((e, i) => (e === -1 ? t.shape[i]! : e));
  return storeAs(o.reshape(o.slice(t, attrs.begin, end, attrs.strides), attrs.shape), attrs);
}
