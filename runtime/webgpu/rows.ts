import { MAX_WORKGROUPS_PER_DIMENSION, type WebgpuProgram } from "./program.js";

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

/**
 * torch's layer_norm and softmax as fxc's WGSL kernels (runtime/webgpu/ops/norm.ts and activation.ts; tfjs's kernels otherwise):
 * one workgroup per row, the row read once into registers (vec4 loads where its length is a
 * multiple of 4), reduced through workgroup memory, and written once. The row length is a
 * constant of the shader (an ahead-of-time compiler knows it per layer); the number of rows
 * (the batch) is read at run time.
 */

/** How a workgroup covers one row of `length` floats. */
export interface RowPlan {
  readonly length: number;
  /** Floats per load: 4 (vec4) where the length allows. */
  readonly components: 1 | 4;
  /** Loads per row: length / components. */
  readonly vectors: number;
  /** Invocations per workgroup, a power of two from 32 to 256, about a quarter of the loads. */
  readonly workgroupSize: number;
  /** Loads per invocation, held in registers between the passes over them. */
  readonly items: number;
  /** Whether the last loads of some invocations fall past the row's end (checked in the shader). */
  readonly ragged: boolean;
}
/** Loads an invocation holds at most: longer rows go to tfjs's kernels (registers would spill). */
const MAX_ITEMS = 32;

export function rowPlan(length: number): RowPlan | undefined {
  const components = length % 4 === 0 ? 4 : 1;
  const vectors = length / components;
  const workgroupSize = Math.min(256, Math.max(32, powerOfTwoAtLeast(Math.ceil(vectors / 4))));
  const items = Math.ceil(vectors / workgroupSize);
  return length > 0 && items <= MAX_ITEMS ? { length, components, vectors, workgroupSize, items, ragged: vectors % workgroupSize !== 0 } : undefined;
}

/** WGSL pieces for the element type of a plan: its name, and a sum and a max over its components. */
export function elementType(plan: RowPlan): { type: string; sum: (v: string) => string; max: (v: string) => string } {
  return plan.components === 4
    ? { type: "vec4<f32>", sum: (v) => `dot(${v}, vec4<f32>(1.0))`, max: (v) => `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))` }
    : { type: "f32", sum: (v) => v, max: (v) => v };
}

/**
 * The start of a row shader: constants, reductions, this workgroup's row and the row loaded into
 * `values` (loads past the row's end are `padding`: they must not change the reductions).
 */
export function rowPrologue(plan: RowPlan, padding: string): string {
  const { type } = elementType(plan);
  const load = plan.ragged ? `select(${padding}, X[base + min(i, V - 1)], i < V)` : "X[base + i]";
  return `
  const V : i32 = ${plan.vectors};
  const WG : i32 = ${plan.workgroupSize};
  const ITEMS : i32 = ${plan.items};
  ${rowReductions(plan.workgroupSize)}

  fn main() {
    let rows = uniforms.outShape[0];
    let row = ${WORKGROUP_INDEX};
    // Workgroups past the last row (a 2-D dispatch's remainder) still reach every barrier; they read row 0 and write nothing.
    let inRows = row < rows;
    let base = select(0, row, inRows) * V;
    let tid = i32(localId.x);
    var values : array<${type}, ITEMS>;
    for (var j = 0; j < ITEMS; j = j + 1) {
      let i = tid + j * WG;
      values[j] = ${load};
    }`;
}

/** The end of a row shader: `values[j]` transformed by `expression` (of `v` and `i`) written back. */
export function rowEpilogue(plan: RowPlan, expression: string): string {
  return `
    if (inRows) {
      for (var j = 0; j < ITEMS; j = j + 1) {
        let i = tid + j * WG;
        let v = values[j];
        ${plan.ragged ? "if (i < V) {" : "{"}
          result[base + i] = ${expression};
        }
      }
    }
  }`;
}

/** A program over [rows, length] with one workgroup per row. */
export class RowProgram implements WebgpuProgram {
  readonly dispatchLayout = ROW_DISPATCH_LAYOUT;
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  outputComponent: number;

  constructor(
    readonly shaderKey: string,
    readonly outputShape: number[],
    readonly variableNames: string[],
    plan: RowPlan,
    private readonly source: string,
  ) {
    this.dispatch = workgroupsFor(outputShape[0]!);
    this.workgroupSize = [plan.workgroupSize, 1, 1];
    this.outputComponent = plan.components;
  }

  getUserCode(): string {
    return this.source;
  }
}
