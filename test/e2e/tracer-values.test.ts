import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { compile, createFeatureExtractor } from "../../compiler/api.js";
import { getModel } from "../../models/zoo/registry.js";
import { ENGINES_UNDER_TEST } from "../support/fixtures.js";
import { seededWeights } from "../support/seeded.js";
import { ROOT } from "../support/cli.js";
import { fxc, assertOneLineError } from "../support/cli.js";
import { tempDir } from "../support/temp.js";
import { writeNpy } from "../../runtime/io/npy.js";
import { existsSync } from "node:fs";
import { Module, type Tensor } from "../../models/nn/index.js";

/**
 * Nodes whose values are not tensors are returned as torchvision returns them: a shape as a
 * tuple of numbers in torch's dim order, an int as a number, a leaf's tuple as an array whose
 * tensors are tfjs tensors, None as null; on every engine.
 */

const VIT_PLAIN = {
  getattr: "shape",
  getitem: "batch",
  getitem_2: "height",
  eq: "sizeMatches",
  "encoder.layers.encoder_layer_0.self_attention": "attention",
  "encoder.layers.encoder_layer_0.getitem": "attentionOut",
} as const;

const MAXVIT_INT = "blocks.0.layers.0.layers.window_attention.partition_op.floordiv";

for (const engine of ENGINES_UNDER_TEST) {
  test(`${engine}: ViT's shape, ints, bool and self_attention tuple come back as plain values`, async () => {
    const model = getModel("vit_b_16");
    const fx = createFeatureExtractor(model, { returnNodes: VIT_PLAIN, suppressDiffWarning: true });
    assert.deepEqual(Object.keys(fx.returnNodes), ["shape", "batch", "height", "sizeMatches", "attention", "attentionOut"]);
    const extractor = await fx.load(seededWeights(model, 3), { engine });
    const x = tf.randomNormal([2, 224, 224, 3], 0, 1, "float32", 7) as tf.Tensor4D;
    const f = (await extractor.run(x)) as Record<string, unknown>;
    assert.deepEqual(f.shape, [2, 3, 224, 224]);
    assert.equal(f.batch, 2);
    assert.equal(f.height, 224);
    assert.equal(f.sizeMatches, true);
    const [attended, weights] = f.attention as [tf.Tensor, null];
    assert.ok(attended instanceof tf.Tensor);
    assert.deepEqual(attended.shape, [2, 197, 768]);
    assert.equal(weights, null, "need_weights=False: torch returns None for the weights");
    // The unpacked item is the same values, in a tensor of its own (each output is the caller's to dispose).
    const out = f.attentionOut as tf.Tensor;
    assert.notEqual(out, attended);
    assert.deepEqual(await out.data(), await attended.data());
    tf.dispose([x, attended, out]);
    extractor.dispose();
  });

  test(`${engine}: an int node of MaxViT alone is returned, and a batch of 1 after a batch of 3 says 1`, async () => {
    const model = getModel("maxvit_t");
    // With a tensor beside them: onnxruntime runs a smaller batch on a larger batch's session, padded, only when no plain value would report the padding.
    const fx = createFeatureExtractor(model, { returnNodes: { "stem.0": "stem", [MAXVIT_INT]: "windows", "blocks.0.layers.0.layers.window_attention.partition_op.getitem": "batch" }, suppressDiffWarning: true });
    const extractor = await fx.load(seededWeights(model, 3), { engine });
    for (const n of [3, 1]) {
      const x = tf.zeros([n, 224, 224, 3]) as tf.Tensor4D;
      const f = (await extractor.run(x)) as Record<string, unknown>;
      const { stem, ...plain } = f;
      assert.deepEqual(plain, { windows: 8, batch: n });
      assert.equal((stem as tf.Tensor).shape[0], n);
      tf.dispose([x, stem as tf.Tensor]);
    }
    extractor.dispose();
  });
}

test("the Features type of plain values: number, boolean, a tuple for a shape, a tuple with tensors and null", async () => {
  const source = await compile("vit_b_16", { returnNodes: VIT_PLAIN, name: "vitPlain", suppressDiffWarning: true });
  assert.match(source, /shape: readonly \[number, number, number, number\];/);
  assert.match(source, /batch: number;/);
  assert.match(source, /sizeMatches: boolean;/);
  assert.match(source, /attention: readonly \[Tensor3D, null\];/);
  assert.match(source, /`getattr`: the shape \[N, 3, 224, 224\] in torch's dim order\./);
  const consumer = `import { tf, type Tensor3D, type Tensor4D } from "@fxc/runtime";
import * as m from "./vitPlain.js";
export async function run(weights: string): Promise<number> {
  const extractor = await m.load(weights);
  const x: Tensor4D = tf.zeros([1, 224, 224, 3]);
  const f = await extractor.run(x);
  const [n, c]: readonly [number, number, number, number] = f.shape;
  const [tokens, none]: readonly [Tensor3D, null] = f.attention;
  const ok: boolean = f.sizeMatches;
  // @ts-expect-error a shape is not a tensor
  f.shape.dispose();
  return n + c + f.batch + tokens.rank + (none === null && ok ? 1 : 0);
}
`;
  const dir = join(ROOT, ".cache", `tracer-values-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, "vitPlain.ts"), source);
    await writeFile(join(dir, "consumer.ts"), consumer);
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true, rootDir: "../.." }, include: ["*.ts"] }));
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("fxc extract refuses a plain-value node in one line: feature files hold tensors", async () => {
  const dir = await tempDir("values");
  const input = join(dir, "x.npy");
  await writeNpy(input, [1, 224, 224, 3], new Float32Array(224 * 224 * 3));
  const r = await fxc(["extract", "vit_b_16", "--return", "getattr", "--weights", join(dir, "missing.pth"), "--input", input, "--out", join(dir, "out.safetensors")]);
  assertOneLineError(r, /node 'getattr' \(key 'getattr'\) is a size, not a tensor, and feature files hold tensors; return a tensor node/);
  assert.equal(existsSync(join(dir, "out.safetensors")), false);
});

class Matrix extends Module {
  forward(x: Tensor): Tensor {
    return x.mean();
  }
}

test("a module compiled from code says so in its header, and a non-image input types load and run by its rank", async () => {
  const source = await compile(new Matrix(), { inputShape: [10, 10], returnNodes: ["mean"], suppressDiffWarning: true });
  assert.match(source, /^\/\/ Generated by fxc [^\n]* from Matrix, a model built in code \(a user model, named as torchvision 0\.14\.1 names nodes\): eval mode, \[10, 10\] input, as torch has it\.\n\/\/ Do not edit\. Regenerate with: the compile\(\) call that wrote it/);
  assert.match(source, /Promise<Extractor<Features, Tensor2D>>/);
  assert.match(source, /function forward\(input: Tensor2D,/);
  const fromFile = await compile(new Matrix(), { inputShape: [10, 10], returnNodes: ["mean"], suppressDiffWarning: true, source: "./src/matrix.ts#Matrix" });
  assert.match(fromFile, /Regenerate with: npx fxc compile '\.\/src\/matrix\.ts#Matrix' --return mean/);
});
