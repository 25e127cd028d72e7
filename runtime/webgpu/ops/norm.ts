import { tf, type Tensor } from "../../ops/tf.js";
import { layerNorm as tfjsLayerNorm, matmul as tfjsMatmul, softmax as tfjsSoftmax } from "../../ops/shape.js";
import { gemmFits, runGemm } from "../gemm.js";
import { ownKernelApplies, runProgram, type WebgpuProgram } from "../program.js";
import { LOWEST_F32, ROW_DISPATCH_LAYOUT, WORKGROUP_INDEX, powerOfTwoAtLeast, rowReductions, wgslFloat, workgroupsFor } from "../rows.js";

/** The number of matrices in a batch shape (1 for none). */
const batchSize = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** numpy's broadcast of two batch shapes (tfjs's rule), or undefined when they do not broadcast. */
function broadcastBatch(a: readonly number[], b: readonly number[]): number[] | undefined {
  try {
    return tf.backend_util.assertAndGetBroadcastShape([...a], [...b]);
  } catch {
    return undefined; // tfjs's matmul says what is wrong
  }
}

/**
 * torch.matmul of two operands of rank >= 2 as fxc's GEMM (runtime/webgpu/gemm.ts), the batch in
 * the dispatch: an operand with one matrix per output batch entry (ViT's attention, q @ kᵀ and
 * attn @ v) is read batched, one with a single matrix (x @ W) is read once for every entry, and
 * a partial broadcast ([2, 1] against [1, 3], which tfjs's batched product gets wrong) is expanded
 * first. Vectors and mismatched sizes run runtime/ops's matmul (tfjs's, which says what is wrong).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!ownKernelApplies(a, b) || a.rank < 2 || b.rank < 2) return tfjsMatmul(a, b);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [kb, n] = b.shape.slice(-2) as [number, number];
  const batchDims = broadcastBatch(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = batchSize(batchDims ?? []);
  if (k !== kb || batchDims === undefined || !gemmFits(batch, m, k, n)) return tfjsMatmul(a, b);
  return tf.tidy(() => {
    // An operand keeps one matrix for the whole batch, or has (after expanding) one per entry.
    const operand = (t: Tensor, rows: number, cols: number): Tensor => {
      const count = batchSize(t.shape.slice(0, -2));
      const full = count === 1 || count === batch ? t : tf.broadcastTo(t, [...batchDims, rows, cols]);
      return tf.reshape(full, [count === 1 ? 1 : batch, rows, cols]);
    };
    const [left, right] = [operand(a, m, k), operand(b, k, n)];
    const y = runGemm({
      a: left,
      b: right,
      bias: null,
      addend: null,
      activation: undefined,
      loader: { kind: "matrix" },
      batch,
      m,
      k,
      n,
      aBatched: left.shape[0]! > 1,
      bBatched: right.shape[0]! > 1,
    });
    return tf.reshape(y, [...batchDims, m, n]);
  });
}


/**
 * torch's layer_norm and softmax as fxc's WGSL kernels (runtime/ops/shape.ts's otherwise):
 * one workgroup per row, the row read once into registers (vec4 loads where its length is a
 * multiple of 4), reduced through workgroup memory, and written once. The row length is a
 * constant of the shader (an ahead-of-time compiler knows it per layer); the number of rows
 * (the batch) is read at run time.
 */

/** How a workgroup covers one row of `length` floats. */
interface RowPlan {
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
function elementType(plan: RowPlan): { type: string; sum: (v: string) => string; max: (v: string) => string } {
  return plan.components === 4
    ? { type: "vec4<f32>", sum: (v) => `dot(${v}, vec4<f32>(1.0))`, max: (v) => `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))` }
    : { type: "f32", sum: (v) => v, max: (v) => v };
}

/**
 * The start of a row shader: constants, reductions, this workgroup's row and the row loaded into
 * `values` (loads past the row's end are `padding`: they must not change the reductions).
 */
function rowPrologue(plan: RowPlan, padding: string): string {
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
function rowEpilogue(plan: RowPlan, expression: string): string {
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

/**
 * layer_norm of each row: the mean, then the sum of squares about it from the registers (two
 * reductions, one read: as stable as two passes over memory), then normalize and the affine.
 */
export function layerNormShader(plan: RowPlan, eps: number, weight: boolean, bias: boolean): string {
  const { type, sum } = elementType(plan);
  const zero = `${type}(0.0)`;
  const centered = plan.ragged ? `select(${zero}, values[j] - mean, tid + j * WG < V)` : "values[j] - mean";
  const affine = `v * scale${weight ? " * W[i]" : ""}${bias ? " + B[i]" : ""}`;
  return `${rowPrologue(plan, zero)}
    var total = ${zero};
    for (var j = 0; j < ITEMS; j = j + 1) {
      total = total + values[j];
    }
    let mean = rowSum(${sum("total")}, tid) / ${wgslFloat(plan.length)};
    var squares = ${zero};
    for (var j = 0; j < ITEMS; j = j + 1) {
      values[j] = ${centered};
      squares = squares + values[j] * values[j];
    }
    let variance = rowSum(${sum("squares")}, tid) / ${wgslFloat(plan.length)};
    let scale = inverseSqrt(variance + ${wgslFloat(eps)});${rowEpilogue(plan, affine)}`;
}

/** softmax of each row: its max, the sum of exp(x - max), then exp(x - max) / sum. */
export function softmaxShader(plan: RowPlan): string {
  const { type, sum, max } = elementType(plan);
  const lowest = `${type}(${LOWEST_F32})`;
  // Past the row's end the exponentials are zeroed, not taken of the padding.
  const exponential = plan.ragged ? `select(${type}(0.0), exp(values[j] - rowMaximum), tid + j * WG < V)` : "exp(values[j] - rowMaximum)";
  return `${rowPrologue(plan, lowest)}
    var largest = ${lowest};
    for (var j = 0; j < ITEMS; j = j + 1) {
      largest = max(largest, values[j]);
    }
    let rowMaximum = rowMax(${max("largest")}, tid);
    var total = ${type}(0.0);
    for (var j = 0; j < ITEMS; j = j + 1) {
      values[j] = ${exponential};
      total = total + values[j];
    }
    let scale = 1.0 / rowSum(${sum("total")}, tid);${rowEpilogue(plan, "v * scale")}`;
}

/** A program over [rows, length] with one workgroup per row. */
class RowProgram implements WebgpuProgram {
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

/** torch's layer_norm over the last `dims` dims: fxc's kernel on webgpu, tfjs's elsewhere or for a row too long for registers. */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, attrs: { readonly dims: number; readonly eps: number }): Tensor {
  const length = x.shape.slice(x.rank - attrs.dims).reduce((a, b) => a * b, 1);
  const plan = attrs.dims <= x.rank ? rowPlan(length) : undefined;
  const fits = (t: Tensor | null): boolean => t === null || t.size === length;
  if (!ownKernelApplies(x, weight, bias) || plan === undefined || x.size === 0 || !fits(weight) || !fits(bias)) return tfjsLayerNorm(x, weight, bias, attrs);
  const rows = x.size / length;
  return tf.tidy(() => {
    const operands = [tf.reshape(x, [rows, length]), ...[weight, bias].flatMap((t) => (t === null ? [] : [tf.reshape(t, [length])]))];
    const names = ["X", ...(weight === null ? [] : ["W"]), ...(bias === null ? [] : ["B"])];
    const key = `fxcLayerNorm_${length}_${attrs.eps}_${weight !== null}_${bias !== null}`;
    const program = new RowProgram(key, [rows, length], names, plan, layerNormShader(plan, attrs.eps, weight !== null, bias !== null));
    return tf.reshape(runProgram(program, operands), x.shape);
  });
}

/** softmax over `axis`: fxc's kernel over the last axis on webgpu, tfjs's for another axis, elsewhere, or for a row too long for registers. */
export function softmax(x: Tensor, attrs: { readonly axis: number }): Tensor {
  const length = x.shape[x.rank - 1] ?? 0;
  const plan = rowPlan(length);
  const lastAxis = attrs.axis === x.rank - 1 || attrs.axis === -1;
  if (!ownKernelApplies(x) || !lastAxis || plan === undefined || x.size === 0) return tfjsSoftmax(x, attrs);
  const rows = x.size / length;
  return tf.tidy(() => {
    const program = new RowProgram(`fxcSoftmax_${length}`, [rows, length], ["X"], plan, softmaxShader(plan));
    return tf.reshape(runProgram(program, [tf.reshape(x, [rows, length])]), x.shape);
  });
}
