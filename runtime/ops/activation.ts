import { tf, type Tensor } from "./tf.js";

/** Elementwise activations with torch's definitions. */

/**
 * The activations a product applies in its epilogue (the compiler fuses `linear → relu | relu6 |
 * gelu` into linear, compiler/passes/fuse.ts). GELU is torch's exact one (erf), not the tanh form.
 */
export type FusedActivation = "relu" | "relu6" | "gelu";

/** Those a convolution applies: tfjs's fused convolutions have no GELU, so no convolution takes one. */
export type ConvActivation = Exclude<FusedActivation, "gelu">;

/** `y` through a fused activation (none: `y` itself). */
export function activate(y: Tensor, activation: FusedActivation | undefined): Tensor {
  if (activation === "relu") return tf.relu(y);
  if (activation === "relu6") return tf.relu6(y);
  if (activation === "gelu") return gelu(y);
  return y;
}

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

/** Dropout as in train mode (eval-mode dropout is compiled away); p = 1 zeroes everything, as torch does (tfjs's dropout refuses a rate of 1). */
export const dropout = (x: Tensor, attrs: { readonly p: number }): Tensor => (attrs.p >= 1 ? tf.zerosLike(x) : tf.dropout(x, attrs.p));
