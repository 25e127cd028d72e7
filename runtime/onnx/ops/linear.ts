import type { LayerNormLinearAttrs, LinearAttrs } from "../../ops/linear.js";
import { parseEinsum } from "../../ops/support/linear.js";
import { activate } from "./activation.js";
import { layerNorm } from "./norm.js";
import * as o from "./onnx.js";
import { OnnxValue, add } from "./onnx.js";

/** runtime/ops/linear.ts over ONNX. */

/** torch's linear over the last dim; the weight is [in, out] as the tfjs kernel takes it. */
export function linear(x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, attrs: LinearAttrs = {}): OnnxValue {
  const y = o.matmul(x, weight);
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

/** torch.einsum over ONNX: ONNX's Einsum, read with the same parser (the same refusals). */
export function einsum(operands: readonly OnnxValue[], attrs: { readonly equation: string }): OnnxValue {
  const plan = parseEinsum(attrs.equation, operands.length);
  if (operands.length > 2) throw new Error(`einsum '${attrs.equation}': more than two operands are not supported`);
  const sizes = new Map<string, number>();
  plan.inputs.forEach((labels, i) => labels.forEach((l, axis) => sizes.set(l, operands[i]!.shape[axis]!)));
  const equation = `${plan.inputs.map((l) => l.join("")).join(",")}->${plan.output.join("")}`;
  return operands[0]!.graph.node("Einsum", operands, { equation }, plan.output.map((l) => sizes.get(l)!));
}

export const matmul = (a: OnnxValue, b: OnnxValue): OnnxValue => o.matmul(a, b);
