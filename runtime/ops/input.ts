import { checkInputShape, type InputAttrs, inputItem } from "./support/input.js";
import { tf, type Tensor, type Tensor4D } from "./tf.js";
export { InputShapeError } from "./support/input.js";

/**
 * Checks the caller's input against the compiled shape and stores it channels-last.
 * The result is always a tensor of our own (a cheap clone in NHWC), so it can be freed.
 */
export function input(inputs: Tensor | readonly Tensor[], attrs: InputAttrs): Tensor4D {
  const x = inputItem(inputs, attrs);
  checkInputShape(x.shape, attrs);
  return attrs.layout === "nchw" ? tf.transpose(x as Tensor4D, [0, 2, 3, 1]) : tf.clone(x as Tensor4D);
}
