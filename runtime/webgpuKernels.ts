import { tf } from "./ops/tf.js";

/**
 * fxc's own WGSL kernels for tfjs's webgpu backend (issue #11, point 3), started with one: the
 * matrix product of linear layers, `x[M, K] @ w[K, N] + bias[N]`, as tf.fused.matMul calls it
 * (runtime/ops's `linear`). The shader is written for the layer's K and N, which an ahead-of-time
 * compiler knows: the loop over K has a constant trip count and the bounds checks a shape does not
 * need are left out (K a multiple of the tile, N a multiple of the tile); only M (the batch) is
 * read at run time. Other products (transposed operands, batched weights, a fused activation)
 * go to tfjs's own kernel.
 *
 * Opt-in (`useFxcWebgpuKernels()`) until it is measured against tfjs's kernel on a GPU
 * (`npm run bench:gpu -- --fxc-kernels`); checked against tfjs's kernel in test/e2e/webgpu-linear.test.ts.
 */

/** Output tile edge: a workgroup computes TILE x TILE outputs, stepping TILE along K through workgroup memory. */
const TILE = 16;

/** What tfjs-webgpu's program runner reads of a program (its WebGPUProgram, minus what fxc leaves unset). */
interface WebgpuProgram {
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  readonly dispatch: [number, number, number];
  readonly variableNames: string[];
  readonly workgroupSize: [number, number, number];
  getUserCode(): string;
}

interface WebgpuBackend extends tf.KernelBackend {
  runWebGPUProgram(program: WebgpuProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
}

/** The WGSL body of a linear layer's product for these K and N; M is the output's rows (all batch dims). */
export function linearShader(inner: number, outer: number, bias: boolean): string {
  const kChecked = inner % TILE !== 0;
  const nChecked = outer % TILE !== 0;
  const tiles = Math.ceil(inner / TILE);
  // The bounds checks this shape needs, and no others; indices are clamped so that a discarded read stays in the buffer.
  const xIndex = `safeRow * K + ${kChecked ? "min(kx, K - 1)" : "kx"}`;
  const xLoad = `select(0.0, X[${xIndex}], ${kChecked ? "inRow && kx < K" : "inRow"})`;
  const wIndex = `${kChecked ? "min(kw, K - 1)" : "kw"} * N + ${nChecked ? "min(col, N - 1)" : "col"}`;
  const wGuard = [kChecked ? "kw < K" : "", nChecked ? "inCol" : ""].filter(Boolean).join(" && ");
  const wLoad = wGuard === "" ? `W[${wIndex}]` : `select(0.0, W[${wIndex}], ${wGuard})`;
  return `
  const K : i32 = ${inner};
  const N : i32 = ${outer};
  var<workgroup> xTile : array<array<f32, ${TILE}>, ${TILE}>;
  var<workgroup> wTile : array<array<f32, ${TILE}>, ${TILE}>;

  fn main() {
    let rows = uniforms.outShape[0] * uniforms.outShape[1];
    let localRow = i32(localId.y);
    let localCol = i32(localId.x);
    let row = i32(workgroupId.y) * ${TILE} + localRow;
    let col = i32(workgroupId.x) * ${TILE} + localCol;
    let inRow = row < rows;
    let inCol = col < N;
    // select evaluates both sides: rows past the end read row 0, and the value is discarded.
    let safeRow = select(0, row, inRow);
    var acc = 0.0;
    for (var t = 0; t < ${tiles}; t = t + 1) {
      let kx = t * ${TILE} + localCol;
      let kw = t * ${TILE} + localRow;
      xTile[localRow][localCol] = ${xLoad};
      wTile[localRow][localCol] = ${wLoad};
      workgroupBarrier();
      for (var k = 0; k < ${TILE}; k = k + 1) {
        acc = fma(xTile[localRow][k], wTile[k][localCol], acc);
      }
      workgroupBarrier();
    }
    if (inRow && inCol) {
      result[row * N + col] = acc${bias ? " + Bias[col]" : ""};
    }
  }
  `;
}

class LinearProgram implements WebgpuProgram {
  readonly variableNames: string[];
  readonly workgroupSize: [number, number, number] = [TILE, TILE, 1];
  readonly dispatchLayout = { x: [2], y: [0, 1] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly inner: number,
    private readonly bias: boolean,
  ) {
    const [batch, rows, outer] = outputShape as [number, number, number];
    this.variableNames = bias ? ["X", "W", "Bias"] : ["X", "W"];
    this.dispatch = [Math.ceil(outer / TILE), Math.ceil((batch * rows) / TILE), 1];
    // The source depends on K, N and the bias: so does the key tfjs caches pipelines by.
    this.shaderKey = `fxcLinear_${inner}_${outer}_${bias}`;
  }

  getUserCode(): string {
    return linearShader(this.inner, this.outputShape[2]!, this.bias);
  }
}

interface FusedMatMulInputs {
  readonly a: tf.TensorInfo;
  readonly b: tf.TensorInfo;
  readonly bias?: tf.TensorInfo;
  readonly preluActivationWeights?: tf.TensorInfo;
}
interface FusedMatMulAttrs {
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly activation?: string | null;
}

/** The product fxc's kernel runs: 3-D `a`, a weight with one batch, no transposes, no activation, a bias of N or none. */
function linearShape(inputs: FusedMatMulInputs, attrs: FusedMatMulAttrs): { readonly batch: number; readonly rows: number; readonly inner: number; readonly outer: number } | undefined {
  const { a, b, bias, preluActivationWeights } = inputs;
  if (attrs.transposeA || attrs.transposeB || (attrs.activation ?? "linear") !== "linear" || preluActivationWeights != null) return undefined;
  if (a.shape.length !== 3 || b.shape.length !== 3 || b.shape[0] !== 1 || a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const [batch, rows, inner] = a.shape as [number, number, number];
  const outer = b.shape[2]!;
  if (b.shape[1] !== inner) return undefined;
  if (bias != null && (bias.shape.length !== 1 || bias.shape[0] !== outer || bias.dtype !== "float32")) return undefined;
  return { batch, rows, inner, outer };
}

/** Runs a linear layer's product with fxc's kernel on the webgpu backend (tfjs's tensors in and out). */
export function fxcLinear(x: tf.Tensor3D, weight: tf.Tensor3D, bias?: tf.Tensor1D): tf.Tensor3D {
  const backend = tf.backend() as WebgpuBackend;
  const shape = linearShape({ a: x, b: weight, bias }, { transposeA: false, transposeB: false });
  if (shape === undefined) throw new Error(`fxcLinear takes x [B, M, K], weight [1, K, N], bias [N]; got ${x.shape}, ${weight.shape}, ${bias?.shape}`);
  const program = new LinearProgram([shape.batch, shape.rows, shape.outer], shape.inner, bias !== undefined);
  const out = backend.runWebGPUProgram(program, bias === undefined ? [x, weight] : [x, weight, bias], "float32");
  return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor3D;
}

let installed: tf.KernelConfig | undefined;

/**
 * Routes tfjs's fused matMul on webgpu through fxc's linear kernel where it applies (else tfjs's
 * own). Call after the webgpu backend is registered; returns a function that restores tfjs's kernel.
 */
export function useFxcWebgpuKernels(): () => void {
  if (installed !== undefined) return restoreTfjsKernels;
  const original = tf.getKernel("_FusedMatMul", "webgpu");
  if (original === undefined) throw new Error("the webgpu backend is not registered; choose it first (chooseBackend('webgpu'))");
  installed = original;
  tf.unregisterKernel("_FusedMatMul", "webgpu");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as FusedMatMulInputs;
      const shape = linearShape(inputs, args.attrs as unknown as FusedMatMulAttrs);
      if (shape === undefined) return original.kernelFunc(args);
      const program = new LinearProgram([shape.batch, shape.rows, shape.outer], shape.inner, inputs.bias != null);
      const operands = inputs.bias != null ? [inputs.a, inputs.b, inputs.bias] : [inputs.a, inputs.b];
      return (args.backend as WebgpuBackend).runWebGPUProgram(program, operands, "float32");
    },
  });
  return restoreTfjsKernels;
}

function restoreTfjsKernels(): void {
  if (installed === undefined) return;
  tf.unregisterKernel("_FusedMatMul", "webgpu");
  tf.registerKernel(installed);
  installed = undefined;
}
