import { elementCount } from "./dtype.js";

/**
 * Copies a strided view of `values` (torch's size and stride, offsets relative to `values[0]`)
 * into a fresh row-major array: how a non-contiguous checkpoint tensor is read, and how a
 * permutation (a view with permuted strides) is made.
 */
export function copyStrided(values: Float32Array, size: readonly number[], stride: readonly number[]): Float32Array {
  const out = new Float32Array(elementCount(size));
  const rank = size.length;
  if (rank === 0) {
    if (out.length === 1) out[0] = values[0]!;
    return out;
  }
  const inner = size[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  let base = 0;
  let written = 0;
  while (written < out.length) {
    for (let i = 0; i < inner; i++) out[written++] = values[base + i * innerStride]!;
    // Odometer over the outer dimensions.
    for (let dim = rank - 2; dim >= 0; dim--) {
      index[dim]!++;
      base += stride[dim]!;
      if (index[dim]! < size[dim]!) break;
      base -= stride[dim]! * size[dim]!;
      index[dim] = 0;
    }
  }
  return out;
}
