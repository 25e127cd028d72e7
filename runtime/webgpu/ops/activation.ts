import { RowProgram, elementType, rowEpilogue, rowPrologue, type RowPlan } from "../rows.js";
import { softmax as tfjsSoftmax } from "../../ops/activation.js";
import { tf, type Tensor } from "../../ops/tf.js";
import { ownKernelApplies, runProgram } from "../program.js";
import { LOWEST_F32, rowPlan } from "../rows.js";

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
