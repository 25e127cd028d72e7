import { tf, type Tensor, type Tensor1D, type Tensor2D } from "../../ops/tf.js";
import { linear as tfjsLinear } from "../../ops/tensorOps.js";
import { ownKernelApplies, runProgram, type WebgpuProgram } from "../program.js";

/**
 * torch's linear as fxc's WGSL kernel (runtime/ops/tensorOps.ts's `linear` on tfjs's generic
 * matMul otherwise): `x[M, K] @ w[K, N] + bias[N]`, M every dim of x but its last. The shader is
 * written for the layer's K and N, which an ahead-of-time compiler knows: the loop over K has a
 * constant trip count and the bounds checks a shape does not need are left out (K a multiple of
 * the tile, N a multiple of the tile); only M (the batch) is read at run time.
 */

/** Output tile edge: a workgroup computes TILE x TILE outputs, stepping TILE along K through workgroup memory. */
const TILE = 16;

/** The WGSL body of a linear layer's product for these K and N; M is the output's rows. */
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
    let rows = uniforms.outShape[0];
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
  readonly dispatchLayout = { x: [1], y: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly inner: number,
    private readonly bias: boolean,
  ) {
    const [rows, outer] = outputShape as [number, number];
    this.variableNames = bias ? ["X", "W", "Bias"] : ["X", "W"];
    this.dispatch = [Math.ceil(outer / TILE), Math.ceil(rows / TILE), 1];
    // The source depends on K, N and the bias: so does the key tfjs caches pipelines by.
    this.shaderKey = `fxcLinear_${inner}_${outer}_${bias}`;
  }

  getUserCode(): string {
    return linearShader(this.inner, this.outputShape[1]!, this.bias);
  }
}

/** torch's linear over the last dim, the weight [in, out] as prepared at load: fxc's kernel on webgpu, tfjs's elsewhere. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  if (!ownKernelApplies(x, weight, bias) || weight.rank !== 2 || (bias !== null && bias.rank !== 1)) return tfjsLinear(x, weight, bias);
  const [inner, outer] = weight.shape as [number, number];
  const rows = x.size / inner;
  return tf.tidy(() => {
    const flat = tf.reshape(x, [rows, inner]) as Tensor2D;
    const operands = bias === null ? [flat, weight] : [flat, weight, bias as Tensor1D];
    const y = runProgram<Tensor2D>(new LinearProgram([rows, outer], inner, bias !== null), operands);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outer]);
  });
}
