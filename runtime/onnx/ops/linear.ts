import { torchShape, type LayerNormLinearAttrs, type LinearAttrs } from "../../ops/linear.js";
import { storeAs, torchOrder } from "./layout.js";
import { OnnxValue, add, matmul, reshape } from "./onnx.js";
import { activate } from "./activation.js";
import { layerNorm } from "./shape.js";

/** runtime/ops/linear.ts over ONNX. */

export function flatten(x: OnnxValue, attrs: { readonly startDim: number; readonly endDim: number; readonly inFormat?: string; readonly outFormat?: string }): OnnxValue {
  const t = torchOrder(x, attrs);
  const merged = t.shape.slice(attrs.startDim, attrs.endDim + 1).reduce((a, b) => a * b, 1);
  return storeAs(reshape(t, [...t.shape.slice(0, attrs.startDim), merged, ...t.shape.slice(attrs.endDim + 1)]), attrs);
}

/** torch's linear over the last dim; the weight is [in, out] as the tfjs kernel takes it. */
export function linear(x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, attrs: LinearAttrs = {}): OnnxValue {
  const y = matmul(x, weight);
  return activate(bias === null ? y : add(y, bias), attrs.activation);
}

/**
 * The nodes the unfused linear, add and activation calls made (MatMul, Add, Add, then the
 * activation's), which ONNX Runtime's optimizer fuses as it did them.
 */
export function linearAdd(x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, addend: OnnxValue, attrs: LinearAttrs = {}): OnnxValue {
  return activate(add(linear(x, weight, bias), addend), attrs.activation);
}

/** LayerNormalization, then the linear's nodes: the graph the two calls made. */
export function layerNormLinear(x: OnnxValue, gamma: OnnxValue | null, beta: OnnxValue | null, weight: OnnxValue, bias: OnnxValue | null, attrs: LayerNormLinearAttrs): OnnxValue {
  const { eps, ...linearAttrs } = attrs;
  return linear(layerNorm(x, gamma, beta, { dims: 1, eps }), weight, bias, linearAttrs);
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
