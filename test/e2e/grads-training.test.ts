import assert from "node:assert/strict";
import { test } from "node:test";
import { createFeatureExtractor } from "../../compiler/api.js";
import { getModel } from "../../models/index.js";
import { registerBackwardKernels } from "../../runtime/gradients/kernels.js";
import { EngineError, FxcError, TrainingError, tf, useBackend } from "../../runtime/index.js";
import { matmul } from "../../runtime/ops/linear.js";
import { maxPool2d } from "../../runtime/ops/pool.js";
import { seededWeights } from "../support/seeded.js";

/** The gradient of sum(f(x) * w) with respect to x, as an array. */
function gradientOf(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, seed = 1): Float32Array {
  return tf.tidy(() => {
    const w = tf.randomNormal(f(x).shape, 0, 1, "float32", seed);
    return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x).dataSync() as Float32Array;
  });
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

test("max_pool2d with a 1x1 window and stride 2 passes the gradient to every picked value (tfjs's MaxPoolGrad drops some)", async () => {
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    const x = tf.randomNormal([2, 5, 4, 3], 0, 1, "float32", 7);
    const got = gradientOf((v) => maxPool2d(v, { kernel: [1, 1], stride: [2, 2], padding: [0, 0] }), x);
    // Every [n, 2i, 2j, c] gets its weight, everything else nothing.
    const w = tf.randomNormal([2, 3, 2, 3], 0, 1, "float32", 1).dataSync();
    const expected = new Float32Array(2 * 5 * 4 * 3);
    for (let n = 0; n < 2; n++) for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) for (let c = 0; c < 3; c++) expected[((n * 5 + 2 * i) * 4 + 2 * j) * 3 + c] = w[((n * 3 + i) * 2 + j) * 3 + c]!;
    assert.ok(maxDifference(got, expected) < 1e-6, `${backend}: ${maxDifference(got, expected)}`);
    x.dispose();
  }
});

test("a batched matmul large enough to be cut into pairs on wasm still gives gradients under a tape", async () => {
  await useBackend("wasm");
  // 4 pairs of 64x64 @ 64x64: 262,144 multiply-adds per pair, over the 250K where forward cuts them from the data.
  const a = tf.randomNormal([4, 64, 64], 0, 1, "float32", 3);
  const b = tf.randomNormal([4, 64, 64], 0, 1, "float32", 4);
  const got = gradientOf((v) => matmul(v, b), a);
  const want = gradientOf((v) => tf.matMul(v, b), a);
  assert.ok(maxDifference(got, want) < 1e-3, String(maxDifference(got, want)));
  tf.dispose([a, b]);
});

test("fxc's backward kernels on wasm equal the cpu backend's: depthwise filter and input, gather's segment sum", async () => {
  const cases: ReadonlyArray<[string, (x: tf.Tensor, w: tf.Tensor) => tf.Tensor]> = [
    ["depthwise stride 2", (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])],
    ["depthwise stride 1 same", (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same")],
    ["conv stride 2", (x, w) => tf.conv2d(x as tf.Tensor4D, tf.tile(w, [1, 1, 1, 2]) as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])],
    ["gather", (x, w) => tf.mul(tf.gather(x, tf.tensor1d([0, 0, 2, 4, 4, 5], "int32"), 1), tf.sum(w))],
  ];
  const results: Record<string, Float32Array[]> = {};
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    registerBackwardKernels();
    for (const [name, f] of cases) {
      const x = tf.randomNormal([2, 7, 6, 3], 0, 1, "float32", 5);
      const w = tf.randomNormal([3, 3, 3, 1], 0, 1, "float32", 6);
      const [dx, dw] = tf.tidy(() => {
        const weights = tf.randomNormal(f(x, w).shape, 0, 1, "float32", 8);
        return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), weights)))([x, w]).map((g) => g.dataSync() as Float32Array);
      });
      (results[name] ??= []).push(dx!, dw!);
      tf.dispose([x, w]);
    }
  }
  for (const [name, [cpuDx, cpuDw, wasmDx, wasmDw]] of Object.entries(results)) {
    assert.ok(maxDifference(cpuDx!, wasmDx!) < 1e-4, `${name} dx: ${maxDifference(cpuDx!, wasmDx!)}`);
    assert.ok(maxDifference(cpuDw!, wasmDw!) < 1e-4, `${name} dw: ${maxDifference(cpuDw!, wasmDw!)}`);
  }
});

const model = getModel("resnet18");
const fx = createFeatureExtractor(model, { returnNodes: ["layer1"], size: 32, layout: "nchw", mode: "eval" });

test("training on onnxruntime is one line naming the tfjs engine", async () => {
  await assert.rejects(fx.load(seededWeights(model, 0), { engine: "onnxruntime", trainable: "all" }), (e: unknown) => {
    assert.ok(e instanceof EngineError);
    assert.match(e.message, /^engine onnxruntime computes no gradients, so it cannot train; load with engine 'tfjs'/);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  // By default training runs on tfjs, and says why.
  const extractor = await fx.load(seededWeights(model, 0), { trainable: ["conv1.weight"] });
  assert.equal(extractor.engine, "tfjs");
  assert.match(extractor.fallback ?? "", /training runs on tfjs/);
  extractor.dispose();
});

test("a trainable key that is a buffer, or not read, is one line; a list, a predicate and 'all' select parameters", async () => {
  for (const [key, why] of [
    ["bn1.running_mean", /'bn1\.running_mean' is a buffer, not a parameter/],
    ["fc.weight", /'fc\.weight' is not a parameter this extractor reads/],
  ] as const) {
    await assert.rejects(fx.load(seededWeights(model, 0), { engine: "tfjs", trainable: [key] }), (e: unknown) => {
      assert.ok(e instanceof TrainingError && e instanceof FxcError);
      assert.match(e.message, why);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  const all = await fx.load(seededWeights(model, 0), { engine: "tfjs", trainable: "all" });
  const keys = Object.keys(all.trainableVariables);
  assert.ok(keys.includes("conv1.weight") && keys.includes("bn1.weight") && keys.includes("layer1.1.bn2.bias"));
  assert.ok(!keys.some((k) => k.includes("running")), "buffers are never variables");
  assert.deepEqual(all.trainableVariables["conv1.weight"]!.shape, [64, 3, 7, 7], "torch's shape");
  all.dispose();
  const some = await fx.load(seededWeights(model, 0), { engine: "tfjs", trainable: (key) => key.startsWith("layer1.1.") });
  assert.ok(Object.keys(some.trainableVariables).every((k) => k.startsWith("layer1.1.")) && Object.keys(some.trainableVariables).length === 6);
  some.dispose();
});

test("an optimizer step changes the features; forwards free every tensor they make", async () => {
  const extractor = await fx.load(seededWeights(model, 0), { engine: "tfjs", trainable: "all" });
  const x = tf.randomNormal([2, 3, 32, 32], 0, 1, "float32", 2) as tf.Tensor4D;
  const loss = (): tf.Scalar => tf.tidy(() => tf.mean(tf.square(extractor.forward(x)["layer1"] as tf.Tensor)) as tf.Scalar);
  const before = loss();
  const optimizer = tf.train.sgd(0.05);
  const tensors = tf.memory().numTensors;
  optimizer.minimize(loss, true, Object.values(extractor.trainableVariables))?.dispose();
  assert.equal(tf.memory().numTensors, tensors, "nothing leaks from a step");
  const after = loss();
  assert.ok(after.dataSync()[0]! < before.dataSync()[0]!, `loss ${before.dataSync()[0]} -> ${after.dataSync()[0]}`);
  tf.dispose([x, before, after]);
  optimizer.dispose();
  extractor.dispose();
});
