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

/** A new handle on the same data (tfjs shares it), for a value returned under two keys. */
export function clone(x: Tensor): Tensor {
  return tf.clone(x);
}
