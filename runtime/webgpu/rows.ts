import { MAX_WORKGROUPS_PER_DIMENSION } from "./program.js";

/**
 * What fxc's row kernels share (layer norm, softmax, attention): one workgroup per row (or block
 * of rows), the workgroups numbered across a 2-D dispatch where a batch has more than one
 * dimension's worth of them, and reductions over a row through workgroup memory.
 */

/**
 * A dispatch of `count` workgroups: along x up to the per-dimension limit, the rest along y (the
 * shader numbers them with `workgroupIndex`, and ignores the few past `count` a 2-D grid adds).
 */
export function workgroupsFor(count: number): [number, number, number] {
  const x = Math.max(1, Math.min(count, MAX_WORKGROUPS_PER_DIMENSION));
  return [x, Math.ceil(count / x), 1];
}

/**
 * The dispatch layout fxc's row programs declare: not tfjs's flat layout, so that tfjs calls
 * `main()` (not `main(globalIndex)`) and leaves the dispatch as given.
 */
export const ROW_DISPATCH_LAYOUT = { x: [1], y: [0] };

/** WGSL: this workgroup's number in a dispatch made by `workgroupsFor`. */
export const WORKGROUP_INDEX = "i32(workgroupId.x + workgroupId.y * numWorkgroups.x)";

/** The largest finite f32, for a max over values none of which is smaller. */
export const LOWEST_F32 = "-3.4028234663852886e+38";

/** A number as a WGSL f32 literal (`1` would be an integer, `1e-6` is fine as it is). */
export function wgslFloat(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`${value} has no WGSL literal`);
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** The smallest power of two ≥ n. */
export function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * WGSL functions that combine one f32 per invocation of a `size`-invocation workgroup (a power
 * of two) into one value every invocation gets: `rowSum(value, tid)`, `rowMax(value, tid)`. A tree
 * through workgroup memory, log2(size) steps; each call ends with a barrier so that the next
 * may reuse the memory. Every invocation must call them (they hold barriers).
 */
export function rowReductions(size: number): string {
  if (size !== powerOfTwoAtLeast(size)) throw new Error(`workgroup size ${size} is not a power of two`);
  const reduction = (name: string, combine: (a: string, b: string) => string): string => `
  fn ${name}(value : f32, tid : i32) -> f32 {
    partials[tid] = value;
    workgroupBarrier();
    for (var stride = ${size / 2}; stride > 0; stride = stride / 2) {
      if (tid < stride) {
        partials[tid] = ${combine("partials[tid]", "partials[tid + stride]")};
      }
      workgroupBarrier();
    }
    let total = partials[0];
    workgroupBarrier();
    return total;
  }`;
  return `
  var<workgroup> partials : array<f32, ${size}>;
  ${reduction("rowSum", (a, b) => `${a} + ${b}`)}
  ${reduction("rowMax", (a, b) => `max(${a}, ${b})`)}
  `;
}
