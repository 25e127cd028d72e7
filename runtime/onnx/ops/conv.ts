import type { Conv2dAttrs, Conv2dTransposeAttrs } from "../../ops/conv.js";
import { transposedOutput } from "../../ops/support/conv.js";
import { activate } from "./activation.js";
import { OnnxValue, add, concat, conv, reshape, transpose } from "./onnx.js";

/**
 * runtime/ops/conv.ts over ONNX. Filters arrive as the tfjs kernels take them (HWIO, or
 * HWIO parts per group) and become ONNX's OIHW here; ONNX Runtime folds these moves of
 * constants when it loads the model. The convolution itself runs NCHW between two transposes
 * that its transpose optimizer cancels against the neighbours'.
 */

const options = (attrs: Conv2dAttrs, group: number) => {
  const [ph, pw] = [attrs.padding[0]!, attrs.padding[1]!];
  return {
    strides: [attrs.stride[0]!, attrs.stride[1]!] as const,
    pads: [ph, pw, ph, pw] as const,
    dilations: [attrs.dilation?.[0] ?? 1, attrs.dilation?.[1] ?? 1] as const,
    group,
  };
};

export function conv2d(input: OnnxValue, weight: OnnxValue | readonly OnnxValue[], bias: OnnxValue | readonly OnnxValue[] | null, attrs: Conv2dAttrs): OnnxValue {
  const parts = Array.isArray(weight) ? (weight as readonly OnnxValue[]) : [weight as OnnxValue];
  // A grouped filter's parts are slices of HWIO's O axis: joined, they are ONNX's grouped OIHW.
  const filter = transpose(concat(parts, 3), [3, 2, 0, 1]);
  const b = bias === null ? null : Array.isArray(bias) ? concat(bias as readonly OnnxValue[], 0) : (bias as OnnxValue);
  const y = conv(transpose(input, [0, 3, 1, 2]), filter, b, options(attrs, parts.length));
  return transpose(activate(y, attrs.activation), [0, 2, 3, 1]);
}

/**
 * conv2d, then the residual added, then the activation: the Conv, Add and Relu (or Clip) the three
 * separate calls made, which ONNX Runtime's graph optimizer fuses as it did them.
 */
export function conv2dAdd(input: OnnxValue, weight: OnnxValue | readonly OnnxValue[], bias: OnnxValue | readonly OnnxValue[] | null, addend: OnnxValue, attrs: Conv2dAttrs): OnnxValue {
  const { activation, ...linear } = attrs;
  return activate(add(conv2d(input, weight, bias, linear), addend), activation);
}

/** One input channel per group; the filter is tfjs's depthwise [kh, kw, C, multiplier]. */
export function depthwiseConv2d(input: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, attrs: Conv2dAttrs): OnnxValue {
  const [kh, kw, c, multiplier] = weight.shape as [number, number, number, number];
  const filter = reshape(transpose(weight, [2, 3, 0, 1]), [c * multiplier, 1, kh, kw]);
  const y = conv(transpose(input, [0, 3, 1, 2]), filter, bias, options(attrs, c));
  return transpose(activate(y, attrs.activation), [0, 2, 3, 1]);
}

/** ONNX ConvTranspose, NCHW between two transposes; the filter arrives as tfjs's [kh, kw, out, in] and becomes ONNX's [in, out, kh, kw]. */
export function conv2dTranspose(input: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, attrs: Conv2dTransposeAttrs): OnnxValue {
  const [n, h, w] = input.shape as [number, number, number, number];
  const [kh, kw, out] = weight.shape as [number, number, number, number];
  const [sh, sw] = [attrs.stride[0]!, attrs.stride[1]!];
  const [ph, pw] = [attrs.padding[0]!, attrs.padding[1]!];
  const shape = [n, out, transposedOutput(h, kh, sh, ph), transposedOutput(w, kw, sw, pw)];
  const x = transpose(input, [0, 3, 1, 2]);
  const filter = transpose(weight, [3, 2, 0, 1]);
  const y = x.graph.node("ConvTranspose", bias === null ? [x, filter] : [x, filter, bias], { strides: [sh, sw], pads: [ph, pw, ph, pw], kernel_shape: [kh, kw] }, shape);
  return transpose(y, [0, 2, 3, 1]);
}
