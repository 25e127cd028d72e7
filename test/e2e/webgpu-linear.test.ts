import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { fxcLinear, linearShader, useFxcWebgpuKernels } from "../../runtime/webgpuKernels.js";
import { fixtureCases, relativeError, runCase } from "../support/fixtures.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { WEBGPU_MISSING, webgpuTest } from "../support/webgpu.js";

/** fxc's WGSL linear kernel against tfjs's fused matMul on the same webgpu device (lavapipe in CI). */

/** Seeded values in [-1, 1). */
function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", seed);
}

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

webgpuTest("fxcLinear equals tfjs's fused matMul on aligned and ragged shapes, with and without a bias", async () => {
  await chooseBackend("webgpu");
  // [batch, rows, K, N]: aligned to the tile, ragged in every dimension, ViT-Ti's MLP widths at a few tokens.
  for (const [batch, rows, inner, outer] of [
    [1, 32, 64, 48],
    [2, 5, 7, 3],
    [3, 17, 70, 33],
    [1, 7, 192, 768],
  ] as const) {
    for (const withBias of [true, false]) {
      const x = seeded([batch, rows, inner], 1) as tf.Tensor3D;
      const w = seeded([1, inner, outer], 2) as tf.Tensor3D;
      const b = withBias ? (seeded([outer], 3) as tf.Tensor1D) : undefined;
      const ours = fxcLinear(x, w, b);
      const theirs = tf.fused.matMul({ a: tf.reshape(x, [batch * rows, inner]) as tf.Tensor2D, b: tf.reshape(w, [inner, outer]) as tf.Tensor2D, bias: b });
      assert.deepEqual(ours.shape, [batch, rows, outer]);
      const error = relativeError((await ours.data()) as Float32Array, (await theirs.data()) as Float32Array);
      assert.ok(error <= 1e-5, `[${batch}, ${rows}, ${inner}] x [${inner}, ${outer}]${withBias ? " + bias" : ""}: relative error ${error}`);
      tf.dispose([x, w, b, ours, theirs].filter((t) => t !== undefined));
    }
  }
});

webgpuTest("routed through tf.fused.matMul, fxc's kernel runs the linear layers of ViT within the fixture bound; restoring gives tfjs's back", async () => {
  await chooseBackend("webgpu");
  const restore = useFxcWebgpuKernels();
  try {
    const [c] = fixtureCases((x) => x.id === "vit_tiny_pth");
    const result = await runCase(c!, { layout: "nhwc", backend: "webgpu", engine: "tfjs", factories: VIT_SWIN_FACTORIES });
    for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c!.tolerance, `${key}: ${error}`);
    // The kernel ran: tfjs compiled its pipelines, one per layer width.
    const pipelines = Object.keys((tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache);
    assert.ok(pipelines.some((key) => key.startsWith("fxcLinear_")), pipelines.join(", "));
    // A product the kernel does not take (a transposed operand) still runs, on tfjs's kernel.
    const a = seeded([4, 6], 4) as tf.Tensor2D;
    const t = tf.fused.matMul({ a, b: a, transposeB: true });
    const want = tf.matMul(a, tf.transpose(a));
    assert.ok(relativeError((await t.data()) as Float32Array, (await want.data()) as Float32Array) <= 1e-6);
    tf.dispose([a, t, want]);
  } finally {
    restore();
  }
  assert.notEqual(tf.getKernel("_FusedMatMul", "webgpu"), undefined);
});
