import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor } from "../../compiler/api.js";
import { EngineError, InputShapeError, tf } from "../../runtime/index.js";
import { RESNET18_WEIGHTS } from "../support/fixtures.js";

/** One API over engines: `await run(x)` everywhere, sync `forward` on tfjs, the same refusals. */

const fx = createFeatureExtractor("resnet18", { returnNodes: ["maxpool", "layer1.0"], size: 32 });

test("by default the extractor runs on onnxruntime (installed here); its forward says to use run, in one line", async () => {
  const extractor = await fx.load(RESNET18_WEIGHTS);
  try {
    assert.equal(extractor.engine, "onnxruntime");
    assert.equal(extractor.fallback, undefined);
    const x = tf.zeros([2, 32, 32, 3]) as tf.Tensor4D;
    assert.throws(() => extractor.forward(x), (e: unknown) => e instanceof EngineError && /use await extractor\.run\(x\)/.test(e.message) && !e.message.includes("\n"));
    const out = await extractor.run(x);
    assert.deepEqual(out.maxpool!.shape, [2, 8, 8, 64]);
    tf.dispose([x, ...Object.values(out)]);
  } finally {
    extractor.dispose();
  }
});

test("the tfjs engine keeps its synchronous forward, and run gives the same values", async () => {
  const extractor = await fx.load(RESNET18_WEIGHTS, { engine: "tfjs" });
  try {
    assert.equal(extractor.engine, "tfjs");
    const x = tf.ones([1, 32, 32, 3]) as tf.Tensor4D;
    const [a, b] = [extractor.forward(x), await extractor.run(x)];
    assert.deepEqual(Array.from(await a["layer1.0"]!.data()), Array.from(await b["layer1.0"]!.data()));
    tf.dispose([x, ...Object.values(a), ...Object.values(b)]);
  } finally {
    extractor.dispose();
  }
});

test("a wrong input shape is refused with the same InputShapeError on both engines", async () => {
  const messages: string[] = [];
  for (const engine of ["tfjs", "onnxruntime"] as const) {
    const extractor = await fx.load(RESNET18_WEIGHTS, { engine });
    // Any height and width runs (test/e2e/sizes-free.test.ts): the channels are wrong here.
    const x = tf.zeros([1, 33, 32, 4]) as tf.Tensor4D;
    await assert.rejects(extractor.run(x), (e: unknown) => e instanceof InputShapeError && (messages.push(e.message), true));
    x.dispose();
    extractor.dispose();
  }
  assert.equal(messages[0], messages[1]);
});

test("an unknown engine is one line naming the engines", async () => {
  await assert.rejects(fx.load(RESNET18_WEIGHTS, { engine: "torch" as "tfjs" }), /^EngineError: engine torch is not an engine fxc knows; use one of onnxruntime, tfjs or auto$/);
});

test("an unknown webgpu kernel set is one line naming the sets, on any backend", async () => {
  await assert.rejects(fx.load(RESNET18_WEIGHTS, { webgpuKernels: "mine" as "fxc" }), /^BackendError: webgpuKernels "mine" is not a kernel set fxc knows; use "tfjs", "fxc" or "fxc-f16"$/);
});

test("half precision (webgpuKernels fxc-f16) off the webgpu backend is one line naming the backend and the fix, not a quiet fp32 run", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await assert.rejects(
      fx.load(RESNET18_WEIGHTS, { backend, engine: "tfjs", webgpuKernels: "fxc-f16" }),
      new RegExp(`^BackendError: webgpuKernels "fxc-f16" runs on the webgpu backend only, not on ${backend}; load with backend "webgpu" \\(--backend webgpu\\), or leave webgpuKernels out for fp32$`),
    );
  }
  await assert.rejects(
    fx.load(RESNET18_WEIGHTS, { engine: "onnxruntime", webgpuKernels: "fxc-f16" }),
    /^EngineError: engine onnxruntime does not run fxc's webgpu kernels, so not webgpuKernels "fxc-f16"; load with engine 'tfjs' \(or leave engine out\) on backend webgpu$/,
  );
  // "fxc" (fp32) stays what it was there: ignored off webgpu.
  const extractor = await fx.load(RESNET18_WEIGHTS, { backend: "cpu", engine: "tfjs", webgpuKernels: "fxc" });
  assert.equal(extractor.webgpuKernels, undefined);
  extractor.dispose();
});

test("on onnxruntime, a batch smaller than an earlier one gives the rows it would give alone", async () => {
  const extractor = await fx.load(RESNET18_WEIGHTS, { engine: "onnxruntime" });
  const tfjs = await fx.load(RESNET18_WEIGHTS, { engine: "tfjs" });
  try {
    const big = tf.randomNormal([3, 32, 32, 3], 0, 1, "float32", 7) as tf.Tensor4D;
    tf.dispose(Object.values(await extractor.run(big)));
    const small = tf.slice(big, [1, 0, 0, 0], [2, 32, 32, 3]) as tf.Tensor4D;
    const [a, b] = [await extractor.run(small), await tfjs.run(small)];
    assert.deepEqual(a["layer1.0"]!.shape, [2, 8, 8, 64]);
    const diff = tf.max(tf.abs(tf.sub(a["layer1.0"]!, b["layer1.0"]!))).dataSync()[0]!;
    assert.ok(diff < 1e-4, `differs by ${diff}`);
    tf.dispose([big, small, ...Object.values(a), ...Object.values(b)]);
  } finally {
    extractor.dispose();
    tfjs.dispose();
  }
});

test("an int32 input is refused with the same one line on both engines", async () => {
  for (const engine of ["tfjs", "onnxruntime"] as const) {
    const extractor = await fx.load(RESNET18_WEIGHTS, { engine });
    const x = tf.zeros([1, 32, 32, 3], "int32") as tf.Tensor4D;
    await assert.rejects(extractor.run(x), (e: unknown) => e instanceof InputShapeError && e.message === 'input dtype int32 is not float32; cast it first (tf.cast(x, "float32"))');
    x.dispose();
    extractor.dispose();
  }
});

test("threads sets onnxruntime's threads per operator; a count that is not a positive whole number is one line, on any engine choice", async () => {
  const extractor = await fx.load(RESNET18_WEIGHTS, { engine: "onnxruntime", threads: 1 });
  const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
  const out = await extractor.run(x);
  assert.deepEqual(out["layer1.0"]!.shape, [1, 8, 8, 64]);
  tf.dispose([x, ...Object.values(out)]);
  extractor.dispose();
  for (const threads of [0, 1.5, -2]) {
    // Refused, not a reason for auto to fall back to tfjs.
    await assert.rejects(fx.load(RESNET18_WEIGHTS, { threads }), (e: unknown) => e instanceof EngineError && e.message === `engine onnxruntime cannot run on ${threads} threads; give threads as a whole number of at least 1, or leave it out (one per core)`);
  }
});
