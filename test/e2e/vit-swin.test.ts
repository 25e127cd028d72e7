import assert from "node:assert/strict";
import { test } from "node:test";
import { createFeatureExtractor, getGraphNodeNames, type FeatureExtractor } from "../../compiler/api.js";
import { Buffer } from "../../models/nn/parameter.js";
import { relativePositionIndex } from "../../models/zoo/maxvit.js";
import { getModel, getModelEntry } from "../../models/zoo/registry.js";
import { relativeCoordsTable, SwinTransformer } from "../../models/zoo/swin.js";
import { memorySource, tf, useBackend, WeightsError, withRenamedKeys, type TensorSource } from "../../runtime/index.js";
import { matmul } from "../../runtime/ops/linear.js";
import { fxc } from "../support/cli.js";
import { relativeError } from "../support/fixtures.js";
import { seededWeights } from "../support/seeded.js";

await useBackend();

test("the zoo's Swin buffers compute their tables; the index is an int64 buffer, as in torch", () => {
  const buffers = new Map(getModel("swin_v2_t").namedBuffers());
  const index = buffers.get("features.1.0.attn.relative_position_index") as Buffer;
  const coords = buffers.get("features.1.0.attn.relative_coords_table") as Buffer;
  assert.equal(index.options.dtype, "int64");
  assert.deepEqual(index.options.values!(), relativePositionIndex(8, 8));
  assert.deepEqual(coords.options.values!(), relativeCoordsTable(8, 8));
  assert.equal(index.options.values!().length, index.shape[0]);
});

/** A tiny Swin whose extractor reads the first block's index table, and its seeded weights. */
const tinySwin = new SwinTransformer([4, 4], 8, [2, 2], [2, 2], [4, 4], { numClasses: 10 });
const tinySwinFx = createFeatureExtractor(tinySwin, { returnNodes: ["features.1.0"], size: 16 });
const tinySwinWeights = seededWeights(tinySwin, 4);
const INDEX = "features.1.0.attn.relative_position_index";

/** Loads `source` into `fx`, runs `x` and gives the values of its one output. */
async function runOnce(fx: FeatureExtractor, source: TensorSource, x: tf.Tensor4D): Promise<Float32Array> {
  const extractor = await fx.load(source);
  const out = Object.values(await extractor.run(x));
  const data = (await out[0]!.data()) as Float32Array;
  tf.dispose(out);
  extractor.dispose();
  return data;
}

/** Seeded weights with some tensors replaced as a checkpoint would hold them, with their dtypes. */
function withTensors(base: TensorSource, extra: Record<string, { shape: number[]; data: Float32Array; dtype: "I64" | "F32" }>): TensorSource {
  const tensors = memorySource(Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { shape: v.shape, data: v.data }])));
  return {
    ...base,
    keys: () => [...new Set([...base.keys(), ...Object.keys(extra)])],
    info: (key) => (key in extra ? { key, dtype: extra[key]!.dtype, shape: extra[key]!.shape } : base.info(key)),
    readFloat32: (key) => (key in extra ? tensors.readFloat32(key) : base.readFloat32(key)),
  };
}

test("the checkpoint's int64 index table is the one used", async () => {
  assert.deepEqual(tinySwinFx.program.checkpoint[INDEX], { shape: [256], integer: true });
  const x = tf.randomNormal([1, 16, 16, 3]) as tf.Tensor4D;
  const run = (source: TensorSource): Promise<Float32Array> => runOnce(tinySwinFx, source, x);
  const computed = await run(tinySwinWeights);
  const same = await run(withTensors(tinySwinWeights, { [INDEX]: { shape: [256], data: relativePositionIndex(4, 4), dtype: "I64" } }));
  const zeros = await run(withTensors(tinySwinWeights, { [INDEX]: { shape: [256], data: new Float32Array(256), dtype: "I64" } }));
  x.dispose();
  assert.equal(relativeError(same, computed), 0, "an int64 table equal to the computed one gives the same features");
  assert.ok(relativeError(zeros, computed) > 1e-3, "a different table in the checkpoint is the one used");
});

test("an index table with the wrong shape, or an integer tensor where a float one belongs, is a one-line error", async () => {
  await assert.rejects(tinySwinFx.load(withTensors(tinySwinWeights, { [INDEX]: { shape: [16, 16], data: new Float32Array(256), dtype: "I64" } })), (e: Error) =>
    e instanceof WeightsError && /tensor 'features\.1\.0\.attn\.relative_position_index' has shape \[16, 16\], expected \[256\]/.test(e.message) && !e.message.includes("\n"),
  );
  const table = "features.1.0.attn.relative_position_bias_table";
  await assert.rejects(tinySwinFx.load(withTensors(tinySwinWeights, { [table]: { shape: [49, 2], data: new Float32Array(98), dtype: "I64" } })), (e: Error) =>
    e instanceof WeightsError && /has dtype I64, expected a float tensor/.test(e.message),
  );
});

test("ViT checkpoints from before torchvision 0.14 (mlp.linear_1, mlp.linear_2) load as torchvision renames them", async () => {
  const options = { imageSize: 32 };
  const fx = createFeatureExtractor("vit_b_32", { returnNodes: ["encoder.layers.encoder_layer_1"], size: 32, modelOptions: options });
  assert.ok((fx.program.keyRenames ?? []).length > 0);
  const current = seededWeights(getModel("vit_b_32", options), 9);
  const legacy = withRenamedKeys(current, [
    { pattern: "\\.mlp\\.0\\.", replacement: ".mlp.linear_1." },
    { pattern: "\\.mlp\\.3\\.", replacement: ".mlp.linear_2." },
  ]);
  assert.ok(legacy.keys().includes("encoder.layers.encoder_layer_1.mlp.linear_2.bias") && !legacy.keys().some((k) => k.includes(".mlp.0.")));
  const x = tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D;
  assert.equal(relativeError(await runOnce(fx, legacy, x), await runOnce(fx, current, x)), 0);
  x.dispose();
});

test("ViT takes only its image size: another size is a one-line error that names both", () => {
  assert.equal(getModelEntry("vit_b_16").fixedSize, true);
  assert.equal(getModelEntry("vit_h_14").inputSize, 518);
  const attempt = (size: number | [number, number]) => () => createFeatureExtractor("vit_b_16", { returnNodes: ["encoder"], size, suppressDiffWarning: true });
  assert.throws(attempt(225), (e: Error) => e.message === "_assert: Wrong image height! Expected 224 but got 225!");
  assert.throws(attempt([224, 240]), (e: Error) => e.message === "_assert_1: Wrong image width! Expected 224 but got 240!");
  // Below the documented minimum too, the size the model takes is the one named (not "at least").
  assert.throws(attempt(200), (e: Error) => e.message === "_assert: Wrong image height! Expected 224 but got 200!");
  // The builder's image size moves the accepted size (position embeddings follow it).
  const fx = createFeatureExtractor("vit_b_32", { returnNodes: ["encoder"], size: 64, modelOptions: { imageSize: 64 }, suppressDiffWarning: true });
  assert.deepEqual(fx.program.outputs[0]!.value, { kind: "tensor", shape: ["N", 5, 768] });
});

test("the CLI reports ViT's wrong size in one line", async () => {
  const r = await fxc(["compile", "vit_b_32", "--return", "encoder", "--size", "256", "--out", "/nonexistent"]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim(), "fxc: _assert: Wrong image height! Expected 224 but got 256!");
});

test("Swin takes other input sizes: windows are padded and odd maps merged", () => {
  const shapes = (name: string, size: number | [number, number]): unknown[] => {
    const fx = createFeatureExtractor(name, { returnNodes: ["features.1", "features.7", "permute", "head"], size, suppressDiffWarning: true });
    return fx.program.outputs.map((o) => (o.value.kind === "tensor" ? o.value.shape : o.value.kind));
  };
  assert.deepEqual(shapes("swin_t", 224), [["N", 56, 56, 96], ["N", 7, 7, 768], ["N", 768, 7, 7], ["N", 1000]]);
  assert.deepEqual(shapes("swin_t", [200, 150]), [["N", 50, 37, 96], ["N", 7, 5, 768], ["N", 768, 7, 5], ["N", 1000]]);
  assert.deepEqual(shapes("swin_v2_b", 256), [["N", 64, 64, 128], ["N", 8, 8, 1024], ["N", 1024, 8, 8], ["N", 1000]]);
  assert.deepEqual(shapes("swin_v2_t", 33), [["N", 8, 8, 96], ["N", 1, 1, 768], ["N", 768, 1, 1], ["N", 1000]]);
});

test("ViT's attention is one node whose tuple getitem unpacks, as in torchvision", () => {
  const names = getGraphNodeNames("vit_b_32", { suppressDiffWarning: true }).eval;
  const at = names.indexOf("encoder.layers.encoder_layer_3.self_attention");
  assert.deepEqual(names.slice(at, at + 3), ["encoder.layers.encoder_layer_3.self_attention", "encoder.layers.encoder_layer_3.getitem", "encoder.layers.encoder_layer_3.getitem_1"]);
});

test("batched matmul pair by pair (wasm, large attention matrices) equals tfjs's batched product", async () => {
  const backend = tf.getBackend();
  const a = tf.randomNormal([3, 2, 80, 64]);
  const b = tf.randomNormal([3, 2, 64, 60]);
  try {
    for (const name of ["wasm", "cpu"] as const) {
      await useBackend(name);
      const [x, y] = [tf.clone(a), tf.clone(b)];
      const got = matmul(x, y);
      const want = tf.matMul(x, y);
      assert.deepEqual(got.shape, [3, 2, 80, 60]);
      assert.ok(relativeError((await got.data()) as Float32Array, (await want.data()) as Float32Array) < 1e-6, name);
      tf.dispose([x, y, got, want]);
    }
  } finally {
    await tf.setBackend(backend);
    tf.dispose([a, b]);
  }
});
