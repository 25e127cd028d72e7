import type { FusedActivation } from "../../ops/support/activation.js";
import * as o from "./onnx.js";
import { OnnxValue, add, relu6 as clip6, div, erf, mul, pow, tanh as tanhOp } from "./onnx.js";

/** runtime/ops/activation.ts over ONNX. */

export const relu = (x: OnnxValue): OnnxValue => o.relu(x);
export const relu6 = (x: OnnxValue): OnnxValue => clip6(x);
export const sigmoid = (x: OnnxValue): OnnxValue => o.sigmoid(x);
export const tanh = (x: OnnxValue): OnnxValue => tanhOp(x);
export const silu = (x: OnnxValue): OnnxValue => mul(x, o.sigmoid(x));
// torch's relu6(x + 3) / 6 is ONNX's HardSigmoid with alpha 1/6, beta 1/2; as one op (not Add, Clip,
// Div and Mul) ORT fuses it, and HardSwish, into the convolution before it, in its blocked layout.
export const hardsigmoid = (x: OnnxValue): OnnxValue => o.unary("HardSigmoid", x, { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
export const hardswish = (x: OnnxValue): OnnxValue => o.unary("HardSwish", x);

export function gelu(x: OnnxValue, attrs: { readonly approximate?: string } = {}): OnnxValue {
  if (attrs.approximate === "tanh") {
    const inner = mul(Math.sqrt(2 / Math.PI), add(x, mul(0.044715, pow(x, 3))));
    return mul(mul(0.5, x), add(1, tanhOp(inner)));
  }
  return mul(mul(0.5, x), add(1, erf(div(x, Math.SQRT2))));
}

/** runtime/ops's `activate`: the nodes the separate activation call would have added, which ONNX Runtime fuses as it did them. */
export function activate(y: OnnxValue, activation: FusedActivation | undefined): OnnxValue {
  if (activation === "relu") return relu(y);
  if (activation === "relu6") return relu6(y);
  if (activation === "gelu") return gelu(y);
  return y;
}

export const softmax = (x: OnnxValue, attrs: { readonly axis: number }): OnnxValue => o.softmax(x, attrs.axis);
