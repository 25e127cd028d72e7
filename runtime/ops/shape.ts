import { storeAs, torchOrder } from "./support/layout.js";
import { expandedShape } from "./support/shape.js";
import { tf, type Tensor } from "./tf.js";

/** Kernels that move, join, split, flatten or rearrange dims. Axes arrive already mapped to storage by the compiler. */

/** A transpose of storage; the identity is free (a new handle on the same data). */
export function permute(x: Tensor, attrs: { readonly perm: readonly number[] }): Tensor {
  return attrs.perm.every((p, i) => p === i) ? tf.clone(x) : tf.transpose(x, [...attrs.perm]);
}

/** torch's view/reshape, in torch's dim order. */
export function reshape(x: Tensor, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): Tensor {
  if (!attrs.inFormat && !attrs.outFormat) return tf.reshape(x, [...shape]);
  return tf.tidy(() => storeAs(tf.reshape(torchOrder(x, attrs), [...shape]), attrs));
}

export function concat(xs: readonly Tensor[], attrs: { readonly axis: number }): Tensor {
  return tf.concat([...xs], attrs.axis);
}

export function split(x: Tensor, attrs: { readonly sizes: readonly number[]; readonly axis: number }): Tensor[] {
  return tf.split(x, [...attrs.sizes], attrs.axis);
}

/** torch's expand: broadcasting to a larger shape (tfjs copies; torch makes a view). */
export function expand(x: Tensor, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    return storeAs(tf.broadcastTo(t, expandedShape(shape, t.shape)), attrs);
  });
}

/** torch.flatten in torch's dim order, whatever the input's storage. */
export function flatten(x: Tensor, attrs: { readonly startDim: number; readonly endDim: number; readonly inFormat?: string; readonly outFormat?: string }): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    const shape = t.shape;
    const merged = shape.slice(attrs.startDim, attrs.endDim + 1).reduce((a, b) => a * b, 1);
    return storeAs(tf.reshape(t, [...shape.slice(0, attrs.startDim), merged, ...shape.slice(attrs.endDim + 1)]), attrs);
  });
}

/**
 * A chain of views and permutes folded at compile time: the input's storage reshaped into
 * the axes the chain moves, one transpose of them, and a reshape into the result (-1 is the
 * batch).
 */
export function rearrange(x: Tensor, attrs: { readonly split: readonly number[]; readonly perm: readonly number[]; readonly shape: readonly number[] }): Tensor {
  if (attrs.perm.every((p, i) => p === i)) return tf.reshape(x, [...attrs.shape]);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [...attrs.split]), [...attrs.perm]), [...attrs.shape]));
}
