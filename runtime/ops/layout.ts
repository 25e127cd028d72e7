import { tf, type Tensor, type Tensor4D } from "./tf.js";

/**
 * Layout kernels. Image-like 4-D values are stored channels-last (NHWC), as tfjs's
 * convolutions want; torch orders them NCHW. These move between the two.
 */

/** torch order (NCHW) to channels-last storage (NHWC). */
export function toChannelsLast(x: Tensor): Tensor4D {
  return tf.transpose(x as Tensor4D, [0, 2, 3, 1]);
}

/** Channels-last storage (NHWC) back to torch order (NCHW). */
export function toContiguous(x: Tensor): Tensor4D {
  return tf.transpose(x as Tensor4D, [0, 3, 1, 2]);
}

/** A channels-last input as torch orders it, for kernels that work in torch's dims. */
export function torchOrder(x: Tensor, attrs: { readonly inFormat?: string }): Tensor {
  return attrs.inFormat === "channelsLast" ? toContiguous(x) : x;
}

/** A torch-ordered result stored channels-last again when it is 4-D and image-like. */
export function storeAs(x: Tensor, attrs: { readonly outFormat?: string }): Tensor {
  return attrs.outFormat === "channelsLast" ? toChannelsLast(x) : x;
}

/**
 * A lower-rank operand broadcast against a channels-last 4-D value: torch aligns it to
 * [N, C, H, W] from the right, so its dims move as the value's did.
 */
export function alignChannelsLast(t: Tensor): Tensor {
  if (t.rank === 0 || t.rank === 4) return t;
  const shape = [...Array(4 - t.rank).fill(1), ...t.shape];
  return tf.transpose(tf.reshape(t, shape), [0, 2, 3, 1]);
}

/** A new handle on the same data (tfjs shares it), for a value returned under two keys. */
export function clone(x: Tensor): Tensor {
  return tf.clone(x);
}
