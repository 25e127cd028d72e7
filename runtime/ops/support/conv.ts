/** Helpers that the convolution (and pooling windows) kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** torch's count of a convolution's or pooling's windows along one axis: `before` and `after` padding, dilated kernel. */
export function windowCount(size: number, kernel: number, stride: number, before: number, after: number, dilation = 1): number {
  return Math.floor((size + before + after - (dilation * (kernel - 1) + 1)) / stride) + 1;
}

/** torch's output size of a transposed convolution along one axis (no output_padding, dilation 1). */
export function transposedOutput(size: number, kernel: number, stride: number, padding: number): number {
  return (size - 1) * stride - 2 * padding + kernel;
}
