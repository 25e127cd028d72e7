import { HEADS_FIRST, KEYS_TRANSPOSED, packedHeads, parseEinsum } from "../../ops/attention.js";
import { OnnxValue, gather as gatherRows, matmul, mul, reshape, softmax, split, transpose } from "./onnx.js";

/**
 * runtime/ops/attention.ts's attention over ONNX: Mul, MatMul, Softmax, MatMul, the nodes the
 * unfused program adds, so ONNX Runtime sees (and optimizes) the same graph either way.
 */
export function attention(q: OnnxValue, keysTransposed: OnnxValue, values: OnnxValue, attrs: { readonly scale: number }): OnnxValue {
  const scores = matmul(attrs.scale === 1 ? q : mul(q, attrs.scale), keysTransposed);
  return matmul(softmax(scores, scores.rank - 1), values);
}

/**
 * runtime/ops/attention.ts's multiHeadAttention over ONNX: Split, then per operand the Reshape
 * and Transpose of the head split, the attention's nodes, and the Transpose and Reshape of the
 * merge: the nodes of the unfused program without its Identity copies.
 */
export function multiHeadAttention(qkv: OnnxValue, attrs: { readonly heads: number; readonly scale: number }): OnnxValue {
  const { batch, tokens, embed, headDim } = packedHeads(qkv.shape, attrs.heads);
  const [q, k, v] = split(qkv, [embed, embed, embed], 2) as [OnnxValue, OnnxValue, OnnxValue];
  const heads = (t: OnnxValue, perm: readonly number[]): OnnxValue => transpose(reshape(t, [batch, tokens, attrs.heads, headDim]), perm);
  const attended = attention(heads(q, HEADS_FIRST), heads(k, KEYS_TRANSPOSED), heads(v, HEADS_FIRST), attrs);
  return reshape(transpose(attended, HEADS_FIRST), [batch, tokens, embed]);
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
