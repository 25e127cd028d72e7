import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { attention as tfjsAttention, multiHeadAttention as tfjsMultiHeadAttention } from "../../runtime/ops/attention.js";
import { attention, attentionPlan, attentionShader, multiHeadAttention } from "../../runtime/webgpu/ops/attention.js";
import { fixtureCases, relativeError, runCase } from "../support/fixtures.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { pipelineKeys, webgpuTest } from "../support/webgpu.js";
import { seededUniform } from "../support/seeded.js";

/** fxc's one-kernel WGSL attention against tfjs's attention (its four calls) on the same webgpu device (lavapipe in CI). */

test("the plan: key tiles fit workgroup memory, and what the kernel does not cover is tfjs's", () => {
  assert.deepEqual(attentionPlan([2, 12, 197, 64], [2, 12, 64, 197], [2, 12, 197, 64]), { queries: 197, keys: 197, headDim: 64, valueDim: 64, keyBlock: 32 });
  assert.equal(attentionPlan([2, 50, 32], [2, 32, 50], [2, 50, 32])?.keyBlock, 64);
  assert.equal(attentionPlan([2, 3, 5, 6], [2, 3, 6, 5], [2, 3, 5, 6]), undefined, "a head dim not a multiple of 4");
  assert.equal(attentionPlan([1, 12, 5, 8], [2, 12, 8, 5], [2, 12, 5, 8]), undefined, "broadcast batch dims");
  assert.equal(attentionPlan([1, 5, 8], [1, 9, 5], [1, 5, 8]), undefined, "q and kᵀ disagree on the head dim");
  assert.equal(attentionPlan([1, 5, 2048], [1, 2048, 5], [1, 5, 2048]), undefined, "too wide for 4 keys a tile");
  // Token counts and the scale are constants of the shader; bounds checks only where they are ragged.
  const vit = attentionShader(attentionPlan([1, 12, 197, 64], [1, 12, 64, 197], [1, 12, 197, 64])!, 0.125);
  assert.match(vit, /const T : i32 = 197;/);
  assert.match(vit, /const SCALE : f32 = 0\.125;/);
  assert.match(vit, /min\(s0 \+ j, S - 1\)/);
  // Over torch's packed q|k|v product: one buffer, read at the blocks' and heads' offsets.
  const packed = attentionShader(attentionPlan([1, 12, 197, 64], [1, 12, 64, 197], [1, 12, 197, 64])!, 0.125, 12);
  assert.match(packed, /const H : i32 = 12;/);
  assert.ok(packed.includes("QKV[") && !packed.includes("KT["), "q, k and v from the one packed buffer");
  const aligned = attentionShader(attentionPlan([1, 128, 32], [1, 32, 128], [1, 128, 32])!, 1);
  assert.ok(!aligned.includes("S - 1") && !aligned.includes("T - 1"), "no bounds checks on token counts the tiles cover exactly");
});

/** tfjs's attention, over at most 35000 batch·heads at a time: its batched matmul dispatches one workgroup row per matrix, 65535 at most. */
function reference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number): tf.Tensor {
  if (q.shape[0]! <= 35000) return tfjsAttention(q, k, v, { scale });
  const parts = [q, k, v].map((t) => tf.split(t, 2, 0));
  return tf.concat([0, 1].map((i) => tfjsAttention(parts[0]![i]!, parts[1]![i]!, parts[2]![i]!, { scale })), 0);
}

webgpuTest("fxc's attention equals tfjs's within 1e-5: ragged token counts (197, 50), head dims 64 and 32, a value dim of its own, 3-D and 4-D, a 2-D dispatch", async () => {
  await chooseBackend("webgpu");
  for (const [batch, queries, keys, headDim, valueDim, scale] of [
    [[2, 12], 197, 197, 64, 64, 0.125],
    [[3, 4], 50, 50, 32, 32, 32 ** -0.5],
    [[5], 7, 130, 32, 16, 1],
    [[2, 2], 128, 64, 64, 64, 0.125],
    // More workgroups than one dispatch dimension takes (70000 heads of one query block).
    [[70000], 2, 3, 4, 4, 0.5],
  ] as const) {
    const q = seededUniform([...batch, queries, headDim], 1);
    const k = seededUniform([...batch, headDim, keys], 2);
    const v = seededUniform([...batch, keys, valueDim], 3);
    const ours = attention(q, k, v, { scale });
    const theirs = reference(q, k, v, scale);
    assert.deepEqual(ours.shape, [...batch, queries, valueDim]);
    const error = relativeError((await ours.data()) as Float32Array, (await theirs.data()) as Float32Array);
    assert.ok(error <= 1e-5, `[${batch}] ${queries} queries, ${keys} keys, head dim ${headDim}, value dim ${valueDim}: relative error ${error}`);
    tf.dispose([q, k, v, ours, theirs]);
  }
  assert.ok(pipelineKeys().some((key) => key.startsWith("fxcAttention_197_197_64_64_")), "fxc's shader ran");
});

webgpuTest("fxc's attention reading torch's packed q|k|v product equals tfjs's split, head moves, attention and merge within 1e-5: 197, 5 and 1 tokens, 1 to 12 heads", async () => {
  await chooseBackend("webgpu");
  for (const [batch, tokens, heads, headDim, scale] of [
    [2, 197, 12, 64, 0.125],
    [3, 5, 4, 8, 8 ** -0.5],
    [2, 1, 3, 16, 0.25],
    [1, 50, 1, 32, 1],
  ] as const) {
    const qkv = seededUniform([batch, tokens, 3 * heads * headDim], 10);
    const ours = multiHeadAttention(qkv, { heads, scale });
    const theirs = tfjsMultiHeadAttention(qkv, { heads, scale });
    assert.deepEqual(ours.shape, [batch, tokens, heads * headDim]);
    const error = relativeError((await ours.data()) as Float32Array, (await theirs.data()) as Float32Array);
    assert.ok(error <= 1e-5, `[${batch}, ${tokens}], ${heads} heads of ${headDim}: relative error ${error}`);
    tf.dispose([qkv, ours, theirs]);
  }
  const packed = pipelineKeys().filter((key) => key.startsWith("fxcAttention_") && key.includes("_packed12"));
  assert.ok(packed.some((key) => key.startsWith("fxcAttention_197_197_64_64_")), "fxc's packed shader ran");
  // A head dim its vec4 loads do not cover: tfjs's kernels, the same numbers.
  const odd = seededUniform([1, 5, 18], 11);
  assert.deepEqual(await multiHeadAttention(odd, { heads: 2, scale: 0.5 }).data(), await tfjsMultiHeadAttention(odd, { heads: 2, scale: 0.5 }).data());
});

webgpuTest("large scores (a sharp softmax) stay finite: the online softmax subtracts the running max", async () => {
  await chooseBackend("webgpu");
  const q = tf.mul(seededUniform([1, 2, 20, 8], 4), 40);
  const k = tf.mul(seededUniform([1, 2, 8, 90], 5), 40);
  const v = seededUniform([1, 2, 90, 8], 6);
  const ours = attention(q, k, v, { scale: 1 });
  const data = (await ours.data()) as Float32Array;
  assert.ok(data.every(Number.isFinite), "finite");
  const error = relativeError(data, (await tfjsAttention(q, k, v, { scale: 1 }).data()) as Float32Array);
  assert.ok(error <= 1e-5, `relative error ${error}`);
});

webgpuTest("under gradients fxc's attention is tfjs's (its programs have no gradients)", async () => {
  await chooseBackend("webgpu");
  const q = seededUniform([2, 5, 8], 7);
  const k = seededUniform([2, 8, 5], 8);
  const v = seededUniform([2, 5, 8], 9);
  const grad = tf.grad((x: tf.Tensor) => tf.sum(attention(x, k, v, { scale: 0.5 })))(q);
  const want = tf.grad((x: tf.Tensor) => tf.sum(tfjsAttention(x, k, v, { scale: 0.5 })))(q);
  assert.ok(relativeError((await grad.data()) as Float32Array, (await want.data()) as Float32Array) <= 1e-6);
});

webgpuTest("with webgpuKernels 'fxc', the fused (multi-head) attention and ViT's layer norms and softmax run fxc's kernels within the fixture bound", async () => {
  for (const id of ["vit_sdpa_fused", "vit_tiny_pth", "vit_sdpa_softmax_returned"]) {
    const [c] = fixtureCases((x) => x.id === id);
    const result = await runCase(c!, { layout: "nhwc", backend: "webgpu", engine: "tfjs", factories: VIT_SWIN_FACTORIES, webgpuKernels: "fxc" });
    for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c!.tolerance, `${id} ${key}: ${error}`);
  }
  // vit_sdpa: 25 tokens, 2 heads of 4; vit_tiny: 17 tokens, 2 heads of 8, rows of 16; the unfused softmax over 25 keys.
  // Both attentions read their packed q|k|v product (multiHeadAttention).
  const keys = pipelineKeys();
  for (const pattern of [/^fxcAttention_25_25_4_4_.*_packed2/, /^fxcAttention_17_17_8_8_.*_packed2/, /^fxcLayerNorm_16_/, /^fxcSoftmax_25/]) {
    assert.ok(keys.some((key) => pattern.test(key)), `${pattern} among ${keys.filter((k) => k.startsWith("fxc")).join(", ")}`);
  }
});
