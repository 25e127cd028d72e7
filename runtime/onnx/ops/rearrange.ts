import { OnnxValue, reshape, transpose } from "./onnx.js";

/** runtime/ops/rearrange.ts over ONNX. */
export function rearrange(x: OnnxValue, attrs: { readonly split: readonly number[]; readonly perm: readonly number[]; readonly shape: readonly number[] }): OnnxValue {
  if (attrs.perm.every((p, i) => p === i)) return reshape(x, attrs.shape);
  return reshape(transpose(reshape(x, attrs.split), attrs.perm), attrs.shape);
}
