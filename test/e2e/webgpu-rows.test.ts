import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseBackend, tf } from "../../runtime/index.js";
import { softmax as tfjsSoftmax } from "../../runtime/ops/activation.js";
import { layerNorm as tfjsLayerNorm } from "../../runtime/ops/norm.js";
import { softmax, softmaxShader } from "../../runtime/webgpu/ops/activation.js";
import { layerNorm, layerNormShader } from "../../runtime/webgpu/ops/norm.js";
import { rowPlan, workgroupsFor } from "../../runtime/webgpu/rows.js";
import { relativeError } from "../support/fixtures.js";
import { seededUniform } from "../support/seeded.js";
import { pipelineKeys, webgpuTest } from "../support/webgpu.js";

/** fxc's WGSL layer norm and softmax against tfjs's kernels on the same webgpu device (lavapipe in CI). */

async function closeTo(ours: tf.Tensor, theirs: tf.Tensor, what: string, bound = 1e-5): Promise<void> {
  assert.deepEqual(ours.shape, theirs.shape, what);
  const error = relativeError((await ours.data()) as Float32Array, (await theirs.data()) as Float32Array);
  assert.ok(error <= bound, `${what}: relative error ${error}`);
}

test("a row is covered by a power-of-two workgroup, vec4 loads where its length allows, and rows too long for registers are tfjs's", () => {
  assert.deepEqual(rowPlan(768), { length: 768, components: 4, vectors: 192, workgroupSize: 64, items: 3, ragged: false });
  assert.deepEqual(rowPlan(197), { length: 197, components: 1, vectors: 197, workgroupSize: 64, items: 4, ragged: true });
  assert.deepEqual(rowPlan(3), { length: 3, components: 1, vectors: 3, workgroupSize: 32, items: 1, ragged: true });
  assert.equal(rowPlan(256 * 32 * 4 + 4), undefined);
  assert.equal(rowPlan(0), undefined);
  // The row length is a constant of the shader; bounds checks only where the row is ragged against the workgroup.
  const aligned = layerNormShader(rowPlan(768)!, 1e-6, true, true);
  assert.match(aligned, /const V : i32 = 192;/);
  assert.match(aligned, /\/ 768\.0/);
  assert.match(aligned, /inverseSqrt\(variance \+ 0\.000001\)/);
  assert.ok(!aligned.includes("i < V"), "no bounds check on a row the workgroup covers exactly");
  assert.match(aligned, /v \* scale \* W\[i\] \+ B\[i\]/);
  const ragged = softmaxShader(rowPlan(197)!);
  assert.match(ragged, /select\(f32\(-3\.4028234663852886e\+38\), X\[base \+ min\(i, V - 1\)\], i < V\)/);
  // More workgroups than one dimension takes spill into y.
  assert.deepEqual(workgroupsFor(100), [100, 1, 1]);
  assert.deepEqual(workgroupsFor(75648), [65535, 2, 1]);
});

webgpuTest("fxc's layer norm equals tfjs's: row lengths aligned and ragged, over 1 and 2 dims, with and without weight and bias", async () => {
  await chooseBackend("webgpu");
  for (const [shape, dims] of [
    [[2, 197, 768], 1],
    [[5, 33], 1],
    [[3, 7, 96], 1],
    [[4, 6, 10], 2],
    [[2, 3], 1],
    [[1, 4100], 1],
  ] as const) {
    const normalized = shape.slice(shape.length - dims);
    for (const affine of [true, false]) {
      // An offset mean, as activations have.
      const x = seededUniform([...shape], 1, -1, 3);
      const w = affine ? seededUniform(normalized, 2) : null;
      const b = affine ? seededUniform(normalized, 3) : null;
      const attrs = { dims, eps: 1e-5 };
      const ours = layerNorm(x, w, b, attrs);
      const theirs = tfjsLayerNorm(x, w, b, attrs);
      await closeTo(ours, theirs, `[${shape}] over ${dims} dim(s)${affine ? " with weight and bias" : ""}`);
      tf.dispose([x, ours, theirs, ...(w === null ? [] : [w]), ...(b === null ? [] : [b])]);
    }
  }
  assert.ok(pipelineKeys().some((key) => key.startsWith("fxcLayerNorm_768_")), "fxc's shader ran");
});

webgpuTest("fxc's layer norm is stable where the mean dwarfs the spread: variance about the mean, not E[x²] - E[x]²", async () => {
  await chooseBackend("webgpu");
  // Rows of 1000 ± 1: E[x²] - E[x]² in f32 would cancel to noise (its rounding alone is about 0.06, the variance about 0.33).
  const x = seededUniform([8, 768], 8, 999, 1001);
  const data = (await x.data()) as Float32Array;
  const want = new Float32Array(data.length);
  for (let r = 0; r < 8; r++) {
    const row = Array.from(data.subarray(r * 768, (r + 1) * 768));
    const mean = row.reduce((a, b) => a + b, 0) / 768;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 768;
    row.forEach((v, i) => (want[r * 768 + i] = (v - mean) / Math.sqrt(variance + 1e-5)));
  }
  const ours = layerNorm(x, null, null, { dims: 1, eps: 1e-5 });
  const error = relativeError((await ours.data()) as Float32Array, want);
  // What f32 input allows: x - mean keeps about 14 of 24 bits at this offset.
  assert.ok(error <= 1e-3, `relative error against a float64 layer norm: ${error}`);
  tf.dispose([x, ours]);
});

webgpuTest("fxc's softmax equals tfjs's over the last axis (ViT's 197 keys, vec4 rows, more rows than one dispatch dimension takes), and another axis is tfjs's", async () => {
  await chooseBackend("webgpu");
  for (const shape of [
    [2, 12, 197, 197],
    [3, 64],
    [7, 5],
    [70000, 4],
  ]) {
    const x = seededUniform(shape, 4, -8, 8);
    const axis = shape.length - 1;
    const ours = softmax(x, { axis });
    const theirs = tfjsSoftmax(x, { axis });
    await closeTo(ours, theirs, `[${shape}]`);
    tf.dispose([x, ours, theirs]);
  }
  assert.ok(pipelineKeys().some((key) => key.startsWith("fxcSoftmax_197")), "fxc's shader ran");
  const x = seededUniform([4, 6, 5], 5);
  await closeTo(softmax(x, { axis: 1 }), tfjsSoftmax(x, { axis: 1 }), "axis 1");
});

webgpuTest("under gradients fxc's row kernels are tfjs's (its programs have no gradients)", async () => {
  await chooseBackend("webgpu");
  const x = seededUniform([4, 8], 6);
  const w = seededUniform([8], 7);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(softmax(layerNorm(v, w, null, { dims: 1, eps: 1e-5 }), { axis: 1 }), w)))(x);
  const want = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tfjsSoftmax(tfjsLayerNorm(v, w, null, { dims: 1, eps: 1e-5 }), { axis: 1 }), w)))(x);
  await closeTo(grad, want, "gradient", 1e-6);
});
