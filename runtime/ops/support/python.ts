import type { ShapeOfAttrs } from "../python.js";

/** Helpers that the shapeOf kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** A stored shape in torch's dim order, or one of its sizes: every engine's shapeOf. */
export function torchShape(shape: readonly number[], attrs: ShapeOfAttrs): number[] | number {
  const s = attrs.inFormat === "channelsLast" ? [shape[0]!, shape[3]!, shape[1]!, shape[2]!] : [...shape];
  if (attrs.dim === undefined || attrs.dim === null) return s;
  return s[attrs.dim < 0 ? attrs.dim + s.length : attrs.dim]!;
}
