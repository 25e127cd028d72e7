import { tf, type Tensor } from "./tf.js";

/**
 * A chain of views and permutes folded at compile time: the input's storage reshaped into
 * the axes the chain moves, one transpose of them, and a reshape into the result (-1 is the
 * batch).
 */
export function rearrange(x: Tensor, attrs: { readonly split: readonly number[]; readonly perm: readonly number[]; readonly shape: readonly number[] }): Tensor {
  if (attrs.perm.every((p, i) => p === i)) return tf.reshape(x, [...attrs.shape]);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [...attrs.split]), [...attrs.perm]), [...attrs.shape]));
}
