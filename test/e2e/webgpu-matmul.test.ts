import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { matmul as tfjsMatmul } from "../../runtime/ops/linear.js";
import { runGemm } from "../../runtime/webgpu/gemm.js";
import { matmul } from "../../runtime/webgpu/ops/linear.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { fixtureCases, runCase } from "../support/fixtures.js";
import { seededUniform } from "../support/seeded.js";
import { errorAgainst, pipelineKeys, webgpuTest } from "../support/webgpu.js";

/**
 * fxc's matmul (torch.matmul on runtime/webgpu/gemm.ts's GEMM, the batch in the dispatch) against
 * tfjs's on the same webgpu device (lavapipe in CI); the GEMM's addend epilogue on a plain matrix;
 * ViT through webgpuKernels "fxc" (its linear layers, attention products and patch convolution).
 */

webgpuTest("fxc's matmul equals tfjs's: equal batch dims, one side broadcast, partial broadcasts, aligned and ragged", async () => {
  await chooseBackend("webgpu");
  for (const [aShape, bShape] of [
    [[4, 16, 64], [4, 64, 32]],
    [[2, 3, 5, 7], [2, 3, 7, 6]],
    [[2, 3, 17, 8], [2, 3, 8, 17]],
    [[3, 300, 8], [8, 12]],
    [[9, 8], [2, 8, 12]],
    [[1, 1, 9, 4], [5, 4, 3]],
    [[65, 70], [70, 33]],
    [[3, 4, 5], [1, 3, 5, 6]],
    [[2, 1, 4, 5], [1, 3, 5, 6]],
  ] as const) {
    const a = seededUniform(aShape, 1);
    const b = seededUniform(bShape, 2);
    const ours = matmul(a, b);
    // tfjs's batched product gets a partial broadcast wrong: the reference expands it first.
    const batchDims = tf.backend_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
    const expand = (t: tf.Tensor): tf.Tensor => tf.broadcastTo(t, [...batchDims, ...t.shape.slice(-2)]);
    const theirs = tfjsMatmul(expand(a), expand(b));
    const error = await errorAgainst(ours, theirs);
    assert.ok(error <= 1e-5, `[${aShape}] @ [${bShape}]: relative error ${error}`);
    tf.dispose([a, b, ours, theirs]);
  }
  const keys = pipelineKeys();
  for (const key of ["fxcGemm_64_32_mat_16x32x16_1x4_ab_", "fxcGemm_8_12_mat_64x16x8_4x4_a_", "fxcGemm_8_12_mat_16x16x8_1x4_b_", "fxcGemm_4_3_mat_16x16x8_1x4_b_"]) {
    assert.ok(keys.some((k) => k.startsWith(key)), `${key} ran: ${keys.join(", ")}`);
  }
});

webgpuTest("the GEMM's epilogue on a plain matrix: act(A @ B + bias + addend), batched", async () => {
  await chooseBackend("webgpu");
  for (const [batch, m, k, n] of [
    [2, 40, 32, 64],
    [1, 9, 7, 6],
  ] as const) {
    const a = seededUniform([batch, m, k], 3);
    const b = seededUniform([batch, k, n], 4);
    const bias = seededUniform([n], 5);
    const addend = seededUniform([batch, m, n], 6);
    const ours = runGemm({ a, b, bias, addend, activation: "relu6", loader: { kind: "matrix" }, batch, m, k, n, aBatched: true, bBatched: true, precision: "f32" });
    const theirs = tf.relu6(tf.add(tf.add(tf.matMul(a, b), bias), addend));
    const error = await errorAgainst(ours, theirs);
    assert.ok(error <= 1e-5, `[${batch}, ${m}, ${k}] @ [${k}, ${n}]: relative error ${error}`);
    tf.dispose([a, b, bias, addend, ours, theirs]);
  }
});

webgpuTest("with webgpuKernels 'fxc', ViT's linear layers and patch convolution run fxc's GEMM, its attention fxc's one kernel, within the fixture bound", async () => {
  const [c] = fixtureCases((x) => x.id === "vit_tiny_pth");
  assert.ok(c, "the fixture case vit_tiny_pth");
  const result = await runCase(c, { layout: "nhwc", backend: "webgpu", engine: "tfjs", factories: VIT_SWIN_FACTORIES, webgpuKernels: "fxc" });
  assert.equal(result.webgpuKernels, "fxc");
  for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c.tolerance, `${key}: ${error}`);
  // vit_tiny: width 16, 2 heads of 8, 17 tokens, 8x8 patches of a 32x32 image; q·kᵀ, softmax and ·v fused into one attention call.
  for (const key of ["fxcGemm_16_48_mat_", "fxcAttention_17_17_8_8_", "fxcGemm_192_16_im2col32,32,3,8,8,8,8,0,0,1,1,4,4_"]) {
    assert.ok(pipelineKeys().some((k) => k.startsWith(key)), `${key} ran: ${pipelineKeys().join(", ")}`);
  }
});

webgpuTest("under gradients fxc's matmul is tfjs's (its programs have no gradients)", async () => {
  await chooseBackend("webgpu");
  const a = seededUniform([2, 4, 6], 7);
  const b = seededUniform([2, 6, 5], 8);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(matmul(v, b)))(a);
  const want = tf.grad((v: tf.Tensor) => tf.sum(tfjsMatmul(v, b)))(a);
  assert.ok((await errorAgainst(grad, want)) <= 1e-6);
  tf.dispose([a, b, grad, want]);
});
