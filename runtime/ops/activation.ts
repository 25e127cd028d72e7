import { tf, type Tensor } from "./tf.js";

/** Activations with torch's definitions: elementwise ones, and softmax along an axis. */

export const relu = (x: Tensor): Tensor => tf.relu(x);
export const relu6 = (x: Tensor): Tensor => tf.relu6(x);
export const sigmoid = (x: Tensor): Tensor => tf.sigmoid(x);
export const tanh = (x: Tensor): Tensor => tf.tanh(x);

/** x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => tf.tidy(() => tf.mul(x, tf.sigmoid(x)));

/** relu6(x + 3) / 6. */
export const hardsigmoid = (x: Tensor): Tensor => tf.tidy(() => tf.div(tf.relu6(tf.add(x, 3)), 6));

/** x * relu6(x + 3) / 6. */
export const hardswish = (x: Tensor): Tensor => tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)));

/** torch's GELU: exact (erf) by default, or the tanh approximation. */
export function gelu(x: Tensor, attrs: { readonly approximate?: string } = {}): Tensor {
  return tf.tidy(() => {
    if (attrs.approximate === "tanh") {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    }
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
  });
}

export function softmax(x: Tensor, attrs: { readonly axis: number }): Tensor {
  const last = x.rank - 1;
  if (attrs.axis === last || attrs.axis === -1) return tf.softmax(x);
  // tfjs's softmax works on the last axis only.
  return tf.tidy(() => {
    const perm = [...Array(x.rank).keys()];
    [perm[attrs.axis], perm[last]] = [last, attrs.axis];
    return tf.transpose(tf.softmax(tf.transpose(x, perm)), perm);
  });
}
