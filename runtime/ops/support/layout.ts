import { toChannelsLast, toContiguous } from "../layout.js";
import { tf, type Tensor } from "../tf.js";

/** Helpers that the layout-aware kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

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
