import assert from "node:assert/strict";
import { tf } from "../../runtime/index.js";
import type { GemmPrecision } from "../../runtime/webgpu/gemm.js";
import { relativeError } from "./fixtures.js";

/**
 * fxc's GEMM in half precision (webgpuKernels "fxc-f16") against the same GEMM in f32, within a
 * bound derived from f16's rounding: test/e2e/webgpu-f16.test.ts, and split-K's f16 slices in
 * test/e2e/webgpu-splitk.test.ts.
 */

/** f16's unit roundoff: 11 significant bits, round to nearest. */
const F16_ROUNDOFF = 2 ** -11;
/** f32's. */
const F32_ROUNDOFF = 2 ** -24;

/**
 * The most |f16 GEMM - f32 GEMM| may be at an output whose sum of |a_k|·|b_k| is `absSum`:
 * - a BK step rounds each of a_k and b_k to f16 (2u, u = 2^-11), its product (u; none when the FMA
 *   is fused) and each of its BK running sums in f16 (BK·u): each product is off by at most
 *   (BK + 3)·u of |a_k b_k| to first order (1% added for the second order), summed over k;
 * - the f32 side (the reference, and the f16 side's f32 sum of its steps' partials and its
 *   epilogue) is off by at most (K + 4)·2^-24 of the same sum;
 * - f16's subnormals (below 2^-14) round to a fixed 2^-25 rather than relatively: an operand that
 *   small is off by 2^-25 times the other's magnitude, a running sum that small by 2^-25: with
 *   |a|, |b| at most `maxA` and `maxB`, K·2^-24·(1 + maxA + maxB) in all. (This takes the device
 *   to keep f16 subnormals, as lavapipe does; WGSL lets one flush them to zero.)
 * A ReLU or ReLU6 after the sum does not widen the difference (both are 1-Lipschitz).
 */
function f16Bound(absSum: number, k: number, bk: number, maxA: number, maxB: number): number {
  return ((bk + 3) * F16_ROUNDOFF + (k + 4) * F32_ROUNDOFF) * 1.01 * absSum + k * F32_ROUNDOFF * (1 + maxA + maxB);
}

export interface F16Check {
  readonly name: string;
  readonly k: number;
  readonly bk: number;
  readonly run: (precision: GemmPrecision) => tf.Tensor;
  /** Per output, Σ_k |a_k|·|b_k| (the product of the operands' magnitudes, computed in f32). */
  readonly absSum: () => tf.Tensor;
  readonly maxA: number;
  readonly maxB: number;
}

export const maxAbs = async (t: tf.Tensor): Promise<number> => (await tf.max(tf.abs(t)).data())[0]!;

/** Runs a check: the f16 result differs from f32's (the f16 path ran) and lies within f16Bound at every output; its error relative to the largest magnitude. */
export async function checkF16(c: F16Check): Promise<number> {
  const [f16, f32, sums] = [c.run("f16"), c.run("f32"), c.absSum()];
  const [got, want, absSum] = (await Promise.all([f16.data(), f32.data(), sums.data()])) as Float32Array[];
  tf.dispose([f16, f32, sums]);
  let worst = 0;
  for (let i = 0; i < want!.length; i++) {
    const bound = f16Bound(absSum![i]!, c.k, c.bk, c.maxA, c.maxB);
    const diff = Math.abs(got![i]! - want![i]!);
    assert.ok(diff <= bound, `${c.name}: output ${i} is ${got![i]} in f16, ${want![i]} in f32: off by ${diff}, over the bound ${bound}`);
    worst = Math.max(worst, diff / bound);
  }
  const error = relativeError(got!, want!);
  assert.ok(error > 1e-6, `${c.name}: the f16 result is within ${error} of f32's: half precision did not run`);
  console.log(`${c.name}: f16 against f32, ${error.toExponential(2)} of the largest magnitude; at worst ${(worst * 100).toFixed(1)}% of the derived bound`);
  return error;
}
