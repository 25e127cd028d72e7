import { parseEinsum } from "../../ops/attention.js";
import { OnnxValue, gather as gatherRows, matmul, mul, reshape, softmax } from "./onnx.js";

/**
 * runtime/ops/attention.ts's attention over ONNX: Mul, MatMul, Softmax, MatMul, the nodes the
 * unfused program adds, so ONNX Runtime sees (and optimizes) the same graph either way.
 */
export function attention(q: OnnxValue, keysTransposed: OnnxValue, values: OnnxValue, attrs: { readonly scale: number }): OnnxValue {
  const scores = matmul(attrs.scale === 1 ? q : mul(q, attrs.scale), keysTransposed);
  return matmul(softmax(scores, scores.rank - 1), values);
}

/** runtime/ops/attention.ts over ONNX: einsum is ONNX's Einsum, read with the same parser (the same refusals). */
export function einsum(operands: readonly OnnxValue[], attrs: { readonly equation: string }): OnnxValue {
  const plan = parseEinsum(attrs.equation, operands.length);
  if (operands.length > 2) throw new Error(`einsum '${attrs.equation}': more than two operands are not supported`);
  const sizes = new Map<string, number>();
  plan.inputs.forEach((labels, i) => labels.forEach((l, axis) => sizes.set(l, operands[i]!.shape[axis]!)));
  const equation = `${plan.inputs.map((l) => l.join("")).join(",")}->${plan.output.join("")}`;
  return operands[0]!.graph.node("Einsum", operands, { equation }, plan.output.map((l) => sizes.get(l)!));
}

export function gather(x: OnnxValue, index: OnnxValue, attrs: { readonly shape: readonly number[] }): OnnxValue {
  return reshape(gatherRows(x, reshape(index, [-1]), 0), attrs.shape);
}
