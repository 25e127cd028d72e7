import { checkInputShape, inputItem, type InputAttrs } from "../../ops/support/input.js";
import { identity, OnnxValue, transpose } from "./onnx.js";

/** runtime/ops/input.ts over ONNX: the same shape check (when the graph is built for the input's shape), then channels-last storage. */
export function input(inputs: OnnxValue | readonly OnnxValue[], attrs: InputAttrs): OnnxValue {
  const x = inputItem(inputs, attrs);
  checkInputShape(x.shape, attrs);
  return attrs.layout === "nchw" ? transpose(x, [0, 2, 3, 1]) : identity(x);
}
