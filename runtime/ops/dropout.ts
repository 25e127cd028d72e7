import { tf, type Tensor } from "./tf.js";

/** Random zeroing in train mode: dropout, and torchvision's stochastic depth. */

/** Dropout as in train mode (eval-mode dropout is compiled away); p = 1 zeroes everything, as torch does (tfjs's dropout refuses a rate of 1). */
export const dropout = (x: Tensor, attrs: { readonly p: number }): Tensor => (attrs.p >= 1 ? tf.zerosLike(x) : tf.dropout(x, attrs.p));

/** torchvision's stochastic_depth as in train mode (eval mode compiles it away). */
export function stochasticDepth(x: Tensor, attrs: { readonly p: number; readonly mode: string }): Tensor {
  return tf.tidy(() => {
    const survival = 1 - attrs.p;
    const shape = attrs.mode === "row" ? [x.shape[0]!, ...Array(x.rank - 1).fill(1)] : Array(x.rank).fill(1);
    const noise = tf.cast(tf.less(tf.randomUniform(shape), survival), "float32");
    return tf.mul(x, survival > 0 ? tf.div(noise, survival) : noise);
  });
}
