import { tf, type Tensor, type Tensor1D, type Tensor2D } from "./tf.js";
import { storeAs, torchOrder } from "./layout.js";

/** torch.flatten in torch's dim order, whatever the input's storage. */
export function flatten(x: Tensor, attrs: { readonly startDim: number; readonly endDim: number; readonly inFormat?: string; readonly outFormat?: string }): Tensor {
  return tf.tidy(() => {
    const t = torchOrder(x, attrs);
    const shape = t.shape;
    const merged = shape.slice(attrs.startDim, attrs.endDim + 1).reduce((a, b) => a * b, 1);
    return storeAs(tf.reshape(t, [...shape.slice(0, attrs.startDim), merged, ...shape.slice(attrs.endDim + 1)]), attrs);
  });
}

/** torch's linear over the last dim, with the weight already transposed to [in, out] at load. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const weightT = weight as Tensor2D;
  const b = (bias as Tensor1D | null) ?? undefined;
  if (x.rank === 2) return tf.fused.matMul({ a: x as Tensor2D, b: weightT, bias: b });
  return tf.tidy(() => {
    const inFeatures = x.shape[x.rank - 1]!;
    const flat = tf.reshape(x, [-1, inFeatures]) as Tensor2D;
    const y = tf.fused.matMul({ a: flat, b: weightT, bias: b });
    return tf.reshape(y, [...x.shape.slice(0, -1), weightT.shape[1]]);
  });
}

/** shapeOf's attributes in general (its overloads each narrow `dim`): what lowering writes. */
export type ShapeOfAttrs = { readonly inFormat?: string; readonly dim?: number | null };

/** `x.shape` or `x.size(dim)` in torch's dim order. */
export function shapeOf(x: Tensor, attrs?: { readonly inFormat?: string; readonly dim?: null }): number[];
export function shapeOf(x: Tensor, attrs: { readonly inFormat?: string; readonly dim: number }): number;
export function shapeOf(x: Tensor, attrs: ShapeOfAttrs = {}): number[] | number {
  return torchShape(x.shape, attrs);
}

/** A stored shape in torch's dim order, or one of its sizes: every engine's shapeOf. */
export function torchShape(shape: readonly number[], attrs: ShapeOfAttrs): number[] | number {
  const s = attrs.inFormat === "channelsLast" ? [shape[0]!, shape[3]!, shape[1]!, shape[2]!] : [...shape];
  if (attrs.dim === undefined || attrs.dim === null) return s;
  return s[attrs.dim < 0 ? attrs.dim + s.length : attrs.dim]!;
}

/**
 * `obj[index]` on a shape or tuple known only at run time. A tensor taken from a tuple is
 * a new handle (tfjs shares the data), so freeing the tuple later leaves it intact.
 */
export function getitem<T>(obj: readonly T[], index: number): T {
  const item = obj[index < 0 ? index + obj.length : index]!;
  return item instanceof tf.Tensor ? (tf.clone(item) as T) : item;
}

/** Frees intermediate values as soon as they are dead: tensors, and tensors inside tuples. */
export function dispose(...values: unknown[]): void {
  for (const v of values) {
    if (Array.isArray(v)) dispose(...v);
    else if (v !== null && typeof v === "object" && "dispose" in v && typeof v.dispose === "function") (v as Tensor).dispose();
  }
}
