import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { extractFolder, type ExtractFolderOptions } from "../../compiler/tasks/extractFolder.js";
import { nearest } from "../../compiler/tasks/nearest.js";
import { readFeatureTable, type NpyManifest } from "../../runtime/io/featureStore.js";
import { parsePooling } from "../../runtime/descriptors/pooling.js";
import { assertOneLineError, fxc, spawnFxc } from "../support/cli.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const SMALL = { resizeSize: 40, cropSize: 32 } as const;
const base = { model: "resnet18", returnNodes: ["layer1.0"], weights: RESNET18_WEIGHTS, inputs: GALLERY, preprocessing: SMALL, pool: parsePooling("avg"), batchSize: 1 } as const;

/** Every file in `dir` (hidden scratch files included) with its bytes' digest, to compare a folder before and after. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, createHash("sha256").update(await readFile(join(dir, n))).digest("hex")] as const)));
}

/** Runs an extraction that stops (as Ctrl-C stops the CLI's) once `after` images are done. */
async function interrupted(options: ExtractFolderOptions, after: number): Promise<void> {
  const controller = new AbortController();
  const stop = new Error("stopped");
  await assert.rejects(extractFolder({ ...options, signal: controller.signal, onProgress: ({ done }) => done >= after && controller.abort(stop) }), (e) => e === stop);
}

test("a sharded run replaces the previous run whole: stopped half-way it changes nothing, finished it leaves no stale shard", async () => {
  const dir = await tempDir("outputs-shards");
  const out = join(dir, "f.safetensors");
  const first = await extractFolder({ ...base, out, shard: 1 });
  assert.equal(first.files.length, 6);
  const before = await snapshot(dir);

  // Four of six shards done when it stops: before, shards 1-4 were already replaced by l2-normalized rows.
  await interrupted({ ...base, out, shard: 1, normalize: "l2" }, 4);
  assert.deepEqual(await snapshot(dir), before, "the previous shards, byte for byte, and no scratch file");

  // A shorter run (3 shards of 2) replaces the 6 and removes shards 4-6, which would otherwise mix in.
  const second = await extractFolder({ ...base, out, shard: 2, normalize: "l2" });
  assert.deepEqual((await readdir(dir)).sort(), ["f-00001.safetensors", "f-00002.safetensors", "f-00003.safetensors"]);
  const table = await readFeatureTable(second.files, "layer1.0");
  assert.equal(table.metadata.normalize, "l2");
  assert.equal(table.paths.length, 6);
});

test("npy shards: the manifest comes last and lists each file's size and SHA-256; a stopped run changes nothing", async () => {
  const dir = await tempDir("outputs-shards");
  const out = join(dir, "npy");
  await extractFolder({ ...base, out, format: "npy", shard: 2 });
  const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as NpyManifest;
  assert.match(manifest.run, /^[0-9a-f]{16}$/);
  for (const shard of manifest.shards) {
    const name = shard.files["layer1.0"]!;
    const bytes = await readFile(join(out, name));
    assert.deepEqual(shard.checksums["layer1.0"], { bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") }, name);
  }
  const before = await snapshot(out);
  await interrupted({ ...base, out, format: "npy", shard: 1, normalize: "l2" }, 4);
  assert.deepEqual(await snapshot(out), before);
  // Fewer, larger shards: the .npy files the previous manifest listed and this one does not are removed,
  // and nothing else, whatever that manifest names.
  await writeFile(join(out, "notes.txt"), "mine");
  const listed = { ...manifest, shards: [...manifest.shards, { paths: [], files: { a: "notes.txt", b: "../outside.npy" }, checksums: {} }] };
  await writeFile(join(out, "manifest.json"), JSON.stringify(listed));
  await writeFile(join(dir, "outside.npy"), "");
  await extractFolder({ ...base, out, format: "npy", shard: 4 });
  assert.deepEqual((await readdir(out)).sort(), ["layer1.0-00001.npy", "layer1.0-00002.npy", "manifest.json", "notes.txt"]);
  assert.deepEqual((await readdir(dir)).sort(), ["npy", "outside.npy"]);
});

test("readers refuse shards of two runs mixed, and shards out of order; whole runs may follow each other", async () => {
  const dir = await tempDir("outputs-shards");
  const a = await extractFolder({ ...base, out: join(dir, "a", "f.safetensors"), shard: 2 });
  const b = await extractFolder({ ...base, out: join(dir, "b", "f.safetensors"), shard: 2, normalize: "l2" });
  // A folder mixed by hand, as an interrupted run of an older fxc left it: shard 2 of another run.
  const mixed = join(dir, "mixed");
  await mkdir(mixed);
  const sources = [a.files[0]!, b.files[1]!, a.files[2]!];
  const files = sources.map((_, i) => join(mixed, `f-0000${i + 1}.safetensors`));
  for (const [i, source] of sources.entries()) await copyFile(source, files[i]!);
  const refusal = /f-00002\.safetensors: is shard 2 of another run than .*f-00001\.safetensors \(shard 1\): the shards of two extractions are mixed.*; pass the shards of each run in order, or extract again into a fresh output$/;
  await assert.rejects(readFeatureTable(files, "layer1.0"), refusal);
  await assert.rejects(nearest({ index: files, key: "layer1.0", query: { features: a.files } }), refusal);
  await assert.rejects(readFeatureTable([a.files[0]!, a.files[2]!], "layer1.0"), /f-00003\.safetensors: is shard 3 of the same run as .*f-00001\.safetensors, shard 1: shards are out of order or repeated/);
  // Two whole runs one after the other, or a run from a later shard on, are fine.
  assert.equal((await readFeatureTable([...a.files, ...b.files], "layer1.0")).paths.length, 12);
  assert.equal((await readFeatureTable(a.files.slice(1), "layer1.0")).paths.length, 4);
});

test("the CLI interrupted while a sharded run replaces a previous one: exit 130, the previous shards untouched", async () => {
  const dir = await tempDir("outputs-shards");
  const many = join(dir, "many");
  await mkdir(many);
  for (let i = 0; i < 120; i++) {
    await sharp({ create: { width: 48, height: 40, channels: 3, background: { r: i * 2, g: (i * 7) % 256, b: 99 } } }).png().toFile(join(many, `${String(i).padStart(3, "0")}.png`));
  }
  const out = join(dir, "out");
  const args = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", many, "--resize", "40", "--crop", "32", "--pool", "avg", "--batch", "4", "--shard", "8", "--out", join(out, "f.safetensors")];
  const first = await fxc(args);
  assert.equal(first.code, 0, first.stderr);
  const before = await snapshot(out);
  assert.equal(Object.keys(before).length, 15);
  const { ino } = await stat(join(out, "f-00002.safetensors"));

  const child = spawnFxc([...args, "--normalize", "l2"]);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  // Stop it once its second shard is being written (or, as before the fix, already in place).
  for (;;) {
    const names = await readdir(out);
    const replaced = (await stat(join(out, "f-00002.safetensors")).catch(() => undefined))?.ino !== ino;
    if (replaced || names.some((n) => n.startsWith(".f-00002.safetensors.") && n.endsWith(".tmp"))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGINT");
  assertOneLineError({ code: await exited, stderr }, /^fxc: interrupted; no partial file was left under .*f\.safetensors, and a previous output there is as it was$/, { code: 130 });
  assert.deepEqual(await snapshot(out), before, "all 15 shards of the first run, and nothing else");
});
