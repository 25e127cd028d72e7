import { storeAs, torchOrder } from "./support/layout.js";
import { tf, type Tensor } from "./tf.js";

/** torch's indexing of a tensor: basic (strided slices) and by an integer index tensor. */

/**
 * `x[index]` with an integer index tensor: rows of dim 0, in the index's shape followed by
 * x's other dims (`shape`, with -1 for the free batch). Index buffers are read as float32
 * from checkpoints, so they are cast back to int32 here.
 */
export function gather(x: Tensor, index: Tensor, attrs: { readonly shape: readonly number[] }): Tensor {
  return tf.tidy(() => {
    const rows = tf.reshape(index.dtype === "int32" ? index : tf.cast(index, "int32"), [-1]);
    return tf.reshape(tf.gather(x, rows, 0), [...attrs.shape]);
  });
}

/** torch's basic indexing: a strided slice over torch's dims, then the result's shape. */
export function index(
  x: Tensor,
  attrs: { readonly begin: readonly number[]; readonly end: readonly number[]; readonly strides: readonly number[]; readonly shape: readonly number[]; readonly inFormat?: string; readonly outFormat?: string },
): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    // An end of -1 marks the free batch dim: take all of it.
    const end = attrs.end.map((e, i) => (e === -1 ? t.shape[i]! : e));
    return storeAs(tf.reshape(tf.stridedSlice(t, [...attrs.begin], end, [...attrs.strides]), [...attrs.shape]), attrs);
  });
}
