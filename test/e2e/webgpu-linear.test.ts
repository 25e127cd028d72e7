import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { linear as tfjsLinear } from "../../runtime/ops/tensorOps.js";
import { linear } from "../../runtime/webgpu/ops/tensorOps.js";
import { relativeError } from "../support/fixtures.js";
import { errorAgainst, pipelineKeys, webgpuTest } from "../support/webgpu.js";
import { seededUniform } from "../support/seeded.js";

/**
 * fxc's linear (runtime/webgpu/gemm.ts's GEMM) against tfjs's linear on the same webgpu device
 * (lavapipe in CI). The source's specialization is checked without a GPU in
 * test/unit/webgpu-gemm.test.ts; ViT's linear layers through webgpuKernels "fxc" in
 * test/e2e/webgpu-matmul.test.ts.
 */

webgpuTest("fxc's linear equals tfjs's on aligned and ragged shapes, 2-D and 3-D inputs, with and without a bias", async () => {
  await chooseBackend("webgpu");
  // [leading dims..., K, N]: aligned to the tile, ragged in every dimension, one row, ViT-Ti's MLP widths at a few tokens.
  for (const [lead, inner, outer] of [
    [[300], 64, 128],
    [[2, 5], 7, 3],
    [[3, 17], 70, 33],
    [[1], 36, 1000],
    [[1, 7], 192, 768],
  ] as const) {
    for (const withBias of [true, false]) {
      const x = seededUniform([...lead, inner], 1);
      const w = seededUniform([inner, outer], 2);
      const b = withBias ? seededUniform([outer], 3) : null;
      const ours = linear(x, w, b);
      const theirs = tfjsLinear(x, w, b);
      assert.deepEqual(ours.shape, [...lead, outer]);
      const error = await errorAgainst(ours, theirs);
      assert.ok(error <= 1e-5, `[${lead}, ${inner}] x [${inner}, ${outer}]${withBias ? " + bias" : ""}: relative error ${error}`);
      tf.dispose([x, w, ours, theirs, ...(b === null ? [] : [b])]);
    }
  }
  for (const key of ["fxcGemm_64_128_mat_64x64x16_4x4__bias", "fxcGemm_70_33_mat_32x64x16_2x4", "fxcGemm_192_768_mat_16x64x16_1x4__bias"]) {
    assert.ok(pipelineKeys().some((k) => k.startsWith(key)), `${key} ran: ${pipelineKeys().join(", ")}`);
  }
});

webgpuTest("under gradients, and on another backend, fxc's linear is tfjs's (its programs have no gradients)", async () => {
  await chooseBackend("webgpu");
  const x = seededUniform([4, 6], 4);
  const w = seededUniform([6, 5], 5);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(linear(v, w, null)))(x);
  const want = tf.grad((v: tf.Tensor) => tf.sum(tfjsLinear(v, w, null)))(x);
  assert.ok(relativeError((await grad.data()) as Float32Array, (await want.data()) as Float32Array) <= 1e-6);
  tf.dispose([x, w, grad, want]);
});
