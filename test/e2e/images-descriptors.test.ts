import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { extractFolder, nearest, type NpyManifest } from "../../compiler/index.js";
import { CosineIndex } from "../../runtime/descriptors/nearest.js";
import { l2Normalize, parsePooling, poolFeatureMap } from "../../runtime/descriptors/pooling.js";
import { readFeatureTable } from "../../runtime/io/featureStore.js";
import { readNpy } from "../../runtime/io/npy.js";
import { openWeights, tf, useBackend } from "../../runtime/index.js";
import { EDITED, GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

await useBackend();
const base = { model: "resnet18", returnNodes: ["layer1.0"], weights: RESNET18_WEIGHTS, inputs: GALLERY } as const;

test("avg, max and GeM pooling reduce the spatial axes in either layout; l2 makes unit rows", async () => {
  // One image, 2x2 positions, 2 channels; channel 1 is channel 0 times 2.
  const values = [1, 2, 4, 8, 2, 4, 8, 16];
  const nhwc = tf.tensor4d(values, [1, 2, 2, 2]);
  const nchw = tf.transpose(nhwc, [0, 3, 1, 2]);
  const gem = (xs: number[], p: number) => (xs.reduce((s, x) => s + x ** p, 0) / xs.length) ** (1 / p);
  const expected = {
    avg: [15 / 4, 15 / 2],
    max: [8, 16],
    gem: [gem([1, 4, 2, 8], 3), gem([2, 8, 4, 16], 3)],
    "gem:1": [15 / 4, 15 / 2],
  };
  for (const [spec, want] of Object.entries(expected)) {
    for (const [x, axis] of [[nhwc, 3], [nchw, 1]] as const) {
      const pooled = poolFeatureMap(x, parsePooling(spec), axis);
      assert.deepEqual(pooled.shape, [1, 2]);
      const got = [...(await pooled.data())];
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `${spec}: ${got} vs ${want}`));
      pooled.dispose();
    }
  }
  const unit = l2Normalize(tf.tensor2d([[3, 4], [0, 0]]));
  assert.deepEqual([...(await unit.data())], [Math.fround(0.6), Math.fround(0.8), 0, 0]);
  tf.dispose([nhwc, nchw, unit]);
  for (const bad of ["mean", "gem:0", "gem:x", "max:2", ""]) assert.throws(() => parsePooling(bad), /bad pooling .*write avg, max, gem or gem:P/);
});

test("cosine ranking: best first, ties in index order, zero rows score 0", () => {
  const index = new CosineIndex(new Float32Array([1, 0, 0, 1, 2, 0, 0, 0, 1, 1]), 2);
  assert.equal(index.rows, 5);
  const ranked = index.search(new Float32Array([1, 0]), 5);
  assert.deepEqual(ranked.map((m) => m.row), [0, 2, 4, 1, 3]);
  assert.deepEqual(ranked.slice(0, 2).map((m) => m.score), [1, 1]);
  assert.ok(Math.abs(ranked[2]!.score - Math.SQRT1_2) < 1e-6);
  assert.throws(() => index.search(new Float32Array(3), 1), /query has 3 values, the index rows 2/);
});

test("extractFolder writes GeM + L2 descriptors with their row order and recipe; nearest finds the edited copy first", async () => {
  const dir = await tempDir("descriptors");
  const out = join(dir, "gallery.safetensors");
  const tensorsBefore = tf.memory().numTensors;
  const result = await extractFolder({ ...base, out, pool: parsePooling("gem"), normalize: "l2", batchSize: 4 });
  assert.equal(tf.memory().numTensors, tensorsBefore, "no tensor outlives the run");
  assert.deepEqual(result.files, [out]);
  assert.deepEqual(result.shapes, { "layer1.0": [6, 64] });
  const file = await openWeights(out);
  const meta = (file as unknown as { metadata: Record<string, string> }).metadata;
  await file.close();
  assert.deepEqual(JSON.parse(meta.paths!), ["blobs", "checker", "city", "rings", "stripes", "sunset"].map((n) => join(GALLERY, `${n}.png`)));
  assert.deepEqual(
    { model: meta.model, return: meta.return, layout: meta.layout, mode: meta.mode, pool: meta.pool, normalize: meta.normalize },
    { model: "resnet18", return: "layer1.0", layout: "nhwc", mode: "eval", pool: "gem:3", normalize: "l2" },
  );
  assert.deepEqual(JSON.parse(meta.preprocessing!), { resizeSize: 256, cropSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: "bilinear" });
  const table = await readFeatureTable(out, "layer1.0");
  for (let r = 0; r < 6; r++) {
    const norm = Math.hypot(...table.data.subarray(r * 64, (r + 1) * 64));
    assert.ok(Math.abs(norm - 1) < 1e-5, `row ${r} has unit norm`);
  }
  assert.deepEqual(await readdir(dir), ["gallery.safetensors"], "no scratch file is left");

  // The query runs through the model, node, preprocessing and pooling the index records.
  const [hit] = await nearest({ index: out, key: "layer1.0", query: { images: EDITED, weights: RESNET18_WEIGHTS }, top: 3 });
  assert.equal(hit!.query, EDITED);
  assert.deepEqual(hit!.neighbours.map((n) => n.rank), [1, 2, 3]);
  assert.equal(hit!.neighbours[0]!.path, join(GALLERY, "sunset.png"), JSON.stringify(hit));
  assert.ok(hit!.neighbours[0]!.score - hit!.neighbours[1]!.score > 0.02, "by a clear margin");

  // Query features: the index against itself finds each image first, with similarity 1.
  const self = await nearest({ index: out, key: "layer1.0", query: { features: out }, top: 1 });
  for (const r of self) {
    assert.equal(r.neighbours[0]!.path, r.query);
    assert.ok(Math.abs(r.neighbours[0]!.score - 1) < 1e-5);
  }
  await assert.rejects(nearest({ index: out, key: "layer9", query: { features: out } }), /has no feature 'layer9'; pick one of 'layer1.0'/);
});

test("nchw stores torch's order; npy output has a manifest; shards split the rows", async () => {
  const dir = await tempDir("descriptors");
  const small = { resizeSize: 72, cropSize: 64 };
  const pooled = await extractFolder({ ...base, preprocessing: small, layout: "nchw", out: join(dir, "a.safetensors"), pool: parsePooling("avg") });
  const a = await readFeatureTable(pooled.files[0]!, "layer1.0");
  assert.equal(a.metadata.layout, "nhwc", "pooling runs channels-last whatever the layout asked");
  const maps = await extractFolder({ ...base, preprocessing: small, out: join(dir, "npy"), format: "npy", layout: "nchw", shard: 4, batchSize: 3 });
  assert.deepEqual(maps.files.map((f) => f.slice(dir.length + 1)), ["npy/layer1.0-00001.npy", "npy/layer1.0-00002.npy", "npy/manifest.json"]);
  const manifest = JSON.parse(await readFile(join(dir, "npy", "manifest.json"), "utf8")) as NpyManifest;
  assert.equal(manifest.format, "fxc-features");
  assert.deepEqual(manifest.keys, { "layer1.0": { shape: [6, 64, 16, 16] } });
  assert.deepEqual(manifest.shards.map((s) => s.paths.length), [4, 2]);
  assert.deepEqual(manifest.shards.flatMap((s) => s.paths), a.paths);
  assert.equal(manifest.metadata.layout, "nchw");
  const shards = [await readNpy(join(dir, "npy", "layer1.0-00001.npy")), await readNpy(join(dir, "npy", "layer1.0-00002.npy"))];
  assert.deepEqual(shards.map((s) => s.shape), [[4, 64, 16, 16], [2, 64, 16, 16]]);
  // The NCHW maps averaged over H and W are the pooled descriptors.
  const all = [...shards[0]!.data, ...shards[1]!.data];
  for (let n = 0; n < 6; n++) {
    for (let c = 0; c < 64; c++) {
      let s = 0;
      for (let i = 0; i < 256; i++) s += all[(n * 64 + c) * 256 + i]!;
      assert.ok(Math.abs(s / 256 - a.data[n * 64 + c]!) < 1e-4, `image ${n} channel ${c}`);
    }
  }

  // NHWC maps in safetensors shards, each self-describing.
  const nhwc = await extractFolder({ ...base, preprocessing: small, out: join(dir, "maps.safetensors"), shard: 5 });
  assert.deepEqual(nhwc.files.map((f) => f.slice(dir.length + 1)), ["maps-00001.safetensors", "maps-00002.safetensors"]);
  assert.deepEqual(nhwc.shapes, { "layer1.0": [6, 16, 16, 64] });
  const joined = await readFeatureTable(nhwc.files, "layer1.0");
  assert.deepEqual([joined.paths.length, joined.dim], [6, 16 * 16 * 64]);
  assert.deepEqual(joined.paths, a.paths);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith(".tmp")), [], "no scratch file is left");
});

test("the CLI's loader runs the compiled module in worker threads, with the same rows as in this thread", async () => {
  const { cliExtractorLoader } = await import("../../compiler/cli/cache.js");
  const dir = await tempDir("descriptors");
  const small = { resizeSize: 72, cropSize: 64 };
  const one = await extractFolder({ ...base, preprocessing: small, out: join(dir, "one.safetensors"), pool: parsePooling("max"), batchSize: 3 });
  const two = await extractFolder({ ...base, preprocessing: small, out: join(dir, "two.safetensors"), pool: parsePooling("max"), batchSize: 3, loader: cliExtractorLoader, workers: 2 });
  const [a, b] = [await readFeatureTable(one.files[0]!, "layer1.0"), await readFeatureTable(two.files[0]!, "layer1.0")];
  assert.deepEqual(b.paths, a.paths);
  a.data.forEach((v, i) => assert.ok(Math.abs(v - b.data[i]!) <= 1e-5 * Math.max(1, Math.abs(v)), `value ${i}`));
  await assert.rejects(extractFolder({ ...base, out: join(dir, "x.safetensors"), workers: 2 }), /worker threads run compiled modules/);
});
