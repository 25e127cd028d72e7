import { torchShape } from "./support/python.js";
import { tf, type Tensor } from "./tf.js";

/** Python's values in a traced program, known only at run time: shapes and items of tuples. */

/** shapeOf's attributes in general (its overloads each narrow `dim`): what lowering writes. */
export type ShapeOfAttrs = { readonly inFormat?: string; readonly dim?: number | null };

/** `x.shape` or `x.size(dim)` in torch's dim order. */
export function shapeOf(x: Tensor, attrs?: { readonly inFormat?: string; readonly dim?: null }): number[];
export function shapeOf(x: Tensor, attrs: { readonly inFormat?: string; readonly dim: number }): number;
export function shapeOf(x: Tensor, attrs: ShapeOfAttrs = {}): number[] | number {
  return torchShape(x.shape, attrs);
}

/**
 * `obj[index]` on a shape or tuple known only at run time. A tensor taken from a tuple is
 * a new handle (tfjs shares the data), so freeing the tuple later leaves it intact.
 */
export function getitem<T>(obj: readonly T[], index: number): T {
  const item = obj[index < 0 ? index + obj.length : index]!;
  return item instanceof tf.Tensor ? (tf.clone(item) as T) : item;
}
