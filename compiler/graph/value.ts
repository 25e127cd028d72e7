import { BATCH, ShapeError, type Dim } from "../../models/nn/shape.js";
/**
 * Abstract values: what the tracer knows about each node's result at compile time.
 *
 * Shapes are static except the batch dimension, which stays symbolic (`"N"`) so that
 * one compiled module serves every batch size.
 */

// Declared with the module library, which reads static shapes too (MaxViT's input check).
export { BATCH, ShapeError, type Dim } from "../../models/nn/shape.js";

export type AbstractValue =
  | {
      readonly kind: "tensor";
      readonly shape: readonly Dim[];
      /**
       * A 4-D value whose dims are not image-like [N, C, H, W] (MaxViT's windows [B, G, P*P, C]):
       * shape ops store it in torch's order, and it is returned so, whatever the layout.
       */
      readonly torchOrder?: true;
      /** An integer table read from the checkpoint (an index buffer), not a float tensor. */
      readonly integer?: true;
    }
  | { readonly kind: "int"; readonly value: Dim }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "size"; readonly dims: readonly Dim[] }
  | {
      readonly kind: "tuple";
      readonly items: readonly AbstractValue[];
      /** A dict (torch's OrderedDict, as FeaturePyramidNetwork returns): the items' keys, in order. */
      readonly keys?: readonly string[];
    }
  | { readonly kind: "none" };

export type TensorValue = Extract<AbstractValue, { kind: "tensor" }>;

export const tensor = (shape: readonly Dim[]): TensorValue => ({ kind: "tensor", shape: [...shape] });

/** A dim as runtime shape attributes take it: the free batch is -1, as in a tf.reshape. */
export const runtimeDim = (d: Dim): number => (d === BATCH ? -1 : d);

/** `[N, 64, 56, 56]`: the way shapes appear in messages and doc comments. */
export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(", ")}]`;
}

/** torch's `dim` argument may be negative; this resolves it against a rank. */
export function normalizeDim(dim: number, rank: number, what = "dim"): number {
  const d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank) {
    throw new ShapeError(`${what} ${dim} is out of range for a tensor of rank ${rank}`);
  }
  return d;
}

/** Product of static dims; throws when a symbolic dim is involved. */
export function numel(dims: readonly Dim[]): number {
  let n = 1;
  for (const d of dims) {
    if (d === BATCH) throw new ShapeError("the batch dimension cannot be folded into a static size");
    n *= d;
  }
  return n;
}
