import { tf, type Tensor, type Tensor1D } from "./tf.js";

/**
 * torch's batch_norm on a channels-last input. Eval mode uses the running statistics; train
 * mode normalizes with the batch's own mean and biased variance, as torch does (the running
 * statistics are not updated: an extractor does not train).
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  attrs: { readonly eps: number; readonly training: boolean },
): Tensor {
  if (!attrs.training) return tf.batchNorm(x, runningMean as Tensor1D, runningVar as Tensor1D, (bias as Tensor1D | null) ?? undefined, (weight as Tensor1D | null) ?? undefined, attrs.eps);
  return tf.tidy(() => {
    const axes = [...Array(x.rank - 1).keys()];
    const { mean, variance } = tf.moments(x, axes);
    return tf.batchNorm(x, mean, variance, (bias as Tensor1D | null) ?? undefined, (weight as Tensor1D | null) ?? undefined, attrs.eps);
  });
}
