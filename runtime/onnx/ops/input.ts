import { checkInputShape, type InputAttrs } from "../../ops/input.js";
import { OnnxValue, transpose, identity } from "./onnx.js";

/** runtime/ops/input.ts over ONNX: the same shape check (when the graph is built for the input's shape), then channels-last storage. */
export function input(x: OnnxValue, attrs: InputAttrs): OnnxValue {
  checkInputShape(x.shape, attrs);
  return attrs.layout === "nchw" ? transpose(x, [0, 2, 3, 1]) : identity(x);
}
