import { HEADS_FIRST, KEYS_TRANSPOSED, packedHeads } from "../../ops/support/attention.js";
import { OnnxValue, matmul, mul, reshape, softmax, split, transpose } from "./onnx.js";

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
