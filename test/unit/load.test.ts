import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor } from "../../compiler/api.js";
import { getModel } from "../../models/zoo/registry.js";
import { WeightsError, memorySource, tf, useBackend, type TensorSource } from "../../runtime/index.js";
import { seededWeights } from "../support/seeded.js";

await useBackend();

const stem = () => createFeatureExtractor("resnet18", { returnNodes: ["maxpool"], size: 32 });

/** A source that reports one key with another dtype, as a checkpoint with an int tensor would. */
function withDtype(source: TensorSource, key: string, dtype: "I64"): TensorSource {
  return { ...source, info: (k) => (k === key ? { ...source.info(k)!, dtype } : source.info(k)) };
}

test("a wrong dtype is an error that names the key, and nothing stays loaded", async () => {
  const weights = seededWeights(getModel("resnet18"), 3);
  const before = tf.memory().numTensors;
  await assert.rejects(stem().load(withDtype(weights, "bn1.running_var", "I64")), (e: Error) => e instanceof WeightsError && /tensor 'bn1\.running_var' has dtype I64, expected a float tensor/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
});

test("a failure while preparing parameters frees the ones already made", async () => {
  const weights = seededWeights(getModel("resnet18"), 3);
  let reads = 0;
  const failing: TensorSource = {
    ...weights,
    // The last convolution's values are the wrong length, so preparing its filter throws
    // after the parameters before it were made.
    readFloat32: async (key) => (++reads, key === "layer1.0.conv2.weight" ? new Float32Array(3) : weights.readFloat32(key)),
  };
  const fx = createFeatureExtractor("resnet18", { returnNodes: ["layer1.0"], size: 32 });
  assert.equal(fx.program.params.at(-2)!.id, "layer1_0_conv2_weight_bn", "the failing parameter is made late");
  const before = tf.memory().numTensors;
  await assert.rejects(fx.load(failing));
  assert.ok(reads > 0);
  assert.equal(tf.memory().numTensors, before, "no tensor is left from a failed load");
});

test("the prefix option selects part of a checkpoint", async () => {
  const model = getModel("resnet18");
  const plain = seededWeights(model, 5);
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const key of plain.keys()) tensors.set(`backbone.body.${key}`, { shape: plain.info(key)!.shape, data: await plain.readFloat32(key) });
  tensors.set("head.weight", { shape: [2], data: new Float32Array(2) });
  const prefixed = memorySource(tensors);
  const x = tf.ones([1, 32, 32, 3]) as tf.Tensor4D;
  const a = await stem().load(prefixed, { prefix: "backbone.body." });
  const b = await stem().load(plain);
  const [ya, yb] = [(await a.run(x)).maxpool!, (await b.run(x)).maxpool!];
  assert.deepEqual(Array.from(await ya.data()), Array.from(await yb.data()));
  await assert.rejects(stem().load(prefixed), /has no tensor 'conv1\.weight'.*prefix \('backbone\.body\.'\)/);
  tf.dispose([x, ya, yb]);
  a.dispose();
  b.dispose();
});
