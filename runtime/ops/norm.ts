import { tf, type Tensor, type Tensor1D } from "./tf.js";

/** Normalization layers: batch norm and layer norm. */

/**
 * torch's batch_norm on a channels-last input. Eval mode uses the running statistics; train
 * mode normalizes with the batch's own mean and biased variance, as torch does, and where the
 * running statistics are variables (an extractor loaded for training) updates them as torch does:
 * `(1 - momentum) * running + momentum * batch`, with the batch's unbiased variance.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  attrs: { readonly eps: number; readonly training: boolean; readonly momentum?: number },
): Tensor {
  if (!attrs.training) return tf.batchNorm(x, runningMean as Tensor1D, runningVar as Tensor1D, (bias as Tensor1D | null) ?? undefined, (weight as Tensor1D | null) ?? undefined, attrs.eps);
  return tf.tidy(() => {
    const { mean, variance } = channelMoments(x);
    if (attrs.momentum !== undefined && runningMean instanceof tf.Variable && runningVar instanceof tf.Variable) {
      updateRunningStats(runningMean, runningVar, mean, variance, x.size / mean.size, attrs.momentum);
    }
    return tf.batchNorm(x, mean, variance, (bias as Tensor1D | null) ?? undefined, (weight as Tensor1D | null) ?? undefined, attrs.eps);
  });
}

/** torch's running statistics update (momentum not None); n values per channel make the batch's statistics. */
function updateRunningStats(runningMean: tf.Variable, runningVar: tf.Variable, mean: Tensor1D, variance: Tensor1D, n: number, momentum: number): void {
  const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
  runningMean.assign(tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum)));
  runningVar.assign(tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(unbiased, momentum)));
}

/**
 * Per-channel mean and biased variance over every other axis. A float32 sum over a whole
 * feature map (2 x 149 x 149 values in Inception v3) drifts by far more than torch's, which
 * accumulates in double; summing sqrt(n) blocks of sqrt(n) values first keeps each partial
 * sum short, and the statistics as close to torch's as float32 allows.
 */
function channelMoments(x: Tensor): { mean: Tensor1D; variance: Tensor1D } {
  const channels = x.shape[x.rank - 1]!;
  const n = x.size / channels;
  const rows = tf.reshape(x, [n, channels]);
  const mean = blockMean(rows, n);
  const variance = blockMean(tf.square(tf.sub(rows, mean)), n);
  return { mean, variance };
}

/** The mean over axis 0 of an [n, C] tensor, summed in blocks (zero padding leaves sums unchanged). */
function blockMean(rows: Tensor, n: number): Tensor1D {
  const block = Math.max(1, Math.ceil(Math.sqrt(n)));
  const blocks = Math.ceil(n / block);
  const padded = blocks * block === n ? rows : tf.pad(rows, [[0, blocks * block - n], [0, 0]]);
  const partial = tf.sum(tf.reshape(padded, [blocks, block, rows.shape[1]!]), 1);
  return tf.div(tf.sum(partial, 0), n) as Tensor1D;
}

/** torch's layer_norm over the last `dims` dims (biased variance, as torch). */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, attrs: { readonly dims: number; readonly eps: number }): Tensor {
  return tf.tidy(() => {
    const axes = [...Array(attrs.dims).keys()].map((i) => x.rank - attrs.dims + i);
    const { mean: mu, variance } = tf.moments(x, axes, true);
    let y = tf.mul(tf.sub(x, mu), tf.rsqrt(tf.add(variance, attrs.eps)));
    if (weight !== null) y = tf.mul(y, weight);
    if (bias !== null) y = tf.add(y, bias);
    return y;
  });
}
