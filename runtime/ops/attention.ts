import { softmax } from "./activation.js";
import { mul } from "./elementwise.js";
import { matmul } from "./linear.js";
import { HEADS_FIRST, KEYS_TRANSPOSED, packedHeads } from "./support/attention.js";
import { tf, type Tensor, type Tensor3D } from "./tf.js";

/** Kernels of attention layers with torch's semantics: scaled dot-product attention, on its own and from a packed q|k|v product. */

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale)·v over [...batch, tokens, headDim], as torch's
 * multi_head_attention_forward computes it: q scaled first, then the kernels the unfused program
 * runs (so that fusing changes no digit on tfjs). `keysTransposed` is kᵀ, [...batch, headDim,
 * keys], as the lowering stores keys for q·kᵀ (the matmul's right operand); `values` is [...batch,
 * keys, valueDim]. The compiler fuses the four calls into this one (compiler/passes/fuse.ts), which
 * an engine may run as one kernel (runtime/webgpu/ops/attention.ts).
 */
export function attention(q: Tensor, keysTransposed: Tensor, values: Tensor, attrs: { readonly scale: number }): Tensor {
  return tf.tidy(() => {
    const scores = matmul(attrs.scale === 1 ? q : mul(q, attrs.scale), keysTransposed);
    return matmul(softmax(scores, { axis: scores.rank - 1 }), values);
  });
}

/**
 * torch's multi_head_attention_forward from its in-projection's packed product: qkv [B, T, 3E]
 * holds q, k and v as its three E-wide column blocks, each `heads` heads of D = E / heads; the
 * result is each head's attention, concatenated as torch's reshape does, [B, T, E]. The
 * compiler fuses the split, the head moves, the attention and the merge into this one call
 * (compiler/passes/fuse.ts); here it is those kernels, so that fusing changes no digit on tfjs,
 * and an engine may run it as one kernel (runtime/webgpu/ops/attention.ts).
 */
export function multiHeadAttention(qkv: Tensor, attrs: { readonly heads: number; readonly scale: number }): Tensor3D {
  const { batch, tokens, embed, headDim } = packedHeads(qkv.shape, attrs.heads);
  return tf.tidy(() => {
    const [q, k, v] = tf.split(qkv, 3, 2) as [Tensor, Tensor, Tensor];
    const split = (t: Tensor, perm: readonly number[]): Tensor => tf.transpose(tf.reshape(t, [batch, tokens, attrs.heads, headDim]), [...perm]);
    const heads = attention(split(q, HEADS_FIRST), split(k, KEYS_TRANSPOSED), split(v, HEADS_FIRST), attrs);
    return tf.reshape(tf.transpose(heads, [...HEADS_FIRST]), [batch, tokens, embed]);
  });
}
