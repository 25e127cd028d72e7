import { tf, type Tensor } from "./tf.js";

/** Reductions over axes already mapped to storage by the compiler. */

type Reduce = { readonly axes: readonly number[]; readonly keepDims: boolean };

export const mean = (x: Tensor, attrs: Reduce): Tensor => tf.mean(x, [...attrs.axes], attrs.keepDims);
export const sum = (x: Tensor, attrs: Reduce): Tensor => tf.sum(x, [...attrs.axes], attrs.keepDims);
export const max = (x: Tensor, attrs: Reduce): Tensor => tf.max(x, [...attrs.axes], attrs.keepDims);
