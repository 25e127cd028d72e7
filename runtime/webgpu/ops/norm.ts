import { RowProgram, elementType, rowEpilogue, rowPrologue, type RowPlan } from "../rows.js";
import { layerNorm as tfjsLayerNorm } from "../../ops/norm.js";
import { tf, type Tensor } from "../../ops/tf.js";
import { ownKernelApplies, runProgram } from "../program.js";
import { rowPlan, wgslFloat } from "../rows.js";

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
