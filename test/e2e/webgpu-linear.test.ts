import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { linear as tfjsLinear } from "../../runtime/ops/tensorOps.js";
import { linear, linearShader } from "../../runtime/webgpu/ops/tensorOps.js";
import { fixtureCases, relativeError, runCase } from "../support/fixtures.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { pipelineKeys, seededUniform, webgpuTest } from "../support/webgpu.js";

/** fxc's WGSL linear kernel against tfjs's linear on the same webgpu device (lavapipe in CI). */

test("the shader is specialized to K and N: bounds checks only where the shape needs them", () => {
  const aligned = linearShader(64, 32, true);
  assert.match(aligned, /const K : i32 = 64;/);
  assert.match(aligned, /const N : i32 = 32;/);
  assert.match(aligned, /for \(var t = 0; t < 4; /, "a constant trip count over K");
  assert.ok(!aligned.includes("kx < K") && !aligned.includes("kw < K") && !aligned.includes("min(col"), "no K or N checks on a multiple of the tile");
  assert.match(aligned, /acc \+ Bias\[col\]/);
  const ragged = linearShader(70, 33, false);
  assert.match(ragged, /inRow && kx < K/);
  assert.match(ragged, /kw < K && inCol/);
  assert.ok(!ragged.includes("Bias"));
});

webgpuTest("fxc's linear equals tfjs's on aligned and ragged shapes, 2-D and 3-D inputs, with and without a bias", async () => {
  await chooseBackend("webgpu");
  // [leading dims..., K, N]: aligned to the tile, ragged in every dimension, ViT-Ti's MLP widths at a few tokens.
  for (const [lead, inner, outer] of [
    [[32], 64, 48],
    [[2, 5], 7, 3],
    [[3, 17], 70, 33],
    [[1, 7], 192, 768],
  ] as const) {
    for (const withBias of [true, false]) {
      const x = seededUniform([...lead, inner], 1);
      const w = seededUniform([inner, outer], 2);
      const b = withBias ? seededUniform([outer], 3) : null;
      const ours = linear(x, w, b);
      const theirs = tfjsLinear(x, w, b);
      assert.deepEqual(ours.shape, [...lead, outer]);
      const error = relativeError((await ours.data()) as Float32Array, (await theirs.data()) as Float32Array);
      assert.ok(error <= 1e-5, `[${lead}, ${inner}] x [${inner}, ${outer}]${withBias ? " + bias" : ""}: relative error ${error}`);
      tf.dispose([x, w, ours, theirs, ...(b === null ? [] : [b])]);
    }
  }
  assert.ok(pipelineKeys().some((key) => key.startsWith("fxcLinear_")), "fxc's shader ran");
});

webgpuTest("with webgpuKernels 'fxc', ViT's linear layers run fxc's kernel within the fixture bound, and the extractor says whose kernels ran", async () => {
  const [c] = fixtureCases((x) => x.id === "vit_tiny_pth");
  const result = await runCase(c!, { layout: "nhwc", backend: "webgpu", engine: "tfjs", factories: VIT_SWIN_FACTORIES, webgpuKernels: "fxc" });
  assert.equal(result.webgpuKernels, "fxc");
  for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c!.tolerance, `${key}: ${error}`);
  // The kernel ran: tfjs compiled its pipelines, one per layer width.
  assert.ok(pipelineKeys().some((key) => key.startsWith("fxcLinear_192_")), pipelineKeys().join(", "));
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
