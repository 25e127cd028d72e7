import { gelu } from "../activation.js";
import { tf, type Tensor } from "../tf.js";

/** Helpers that the fused-activation (conv, linear) kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

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
