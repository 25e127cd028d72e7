import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, link, mkdir, readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { extractFolder, type ExtractFolderOptions } from "../../compiler/tasks/extractFolder.js";
import { visualize } from "../../compiler/tasks/visualize.js";
import type { ExtractorLoader } from "../../compiler/tasks/loader.js";
import { OutputError } from "../../runtime/io/atomic.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { GALLERY, RESNET18_CASE, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const SMALL = { resizeSize: 40, cropSize: 32 } as const;

/** A loader that records being called: the checks must fail before any weights are loaded. */
function refusedBeforeLoading(): { loader: ExtractorLoader; loaded: () => boolean } {
  let called = false;
  return {
    loader: () => {
      called = true;
      return Promise.reject(new Error("the extractor was loaded"));
    },
    loaded: () => called,
  };
}

/** A gallery copy, the weights and a folder to write in, each in `dir`. */
async function workspace(prefix: string): Promise<{ dir: string; photos: string; weights: string }> {
  const dir = await tempDir(prefix);
  const photos = join(dir, "photos");
  await mkdir(photos);
  for (const name of ["city.png", "rings.png"]) await copyFile(join(GALLERY, name), join(photos, name));
  const weights = join(dir, "weights.pth");
  await copyFile(RESNET18_WEIGHTS, weights);
  return { dir, photos, weights };
}

test("extract refuses an output that is, or links to, an input, before loading anything", async () => {
  const { dir, photos, weights } = await workspace("outputs-inputs");
  const originals = { weights: await readFile(weights), city: await readFile(join(photos, "city.png")) };
  await symlink(weights, join(dir, "to-weights.safetensors"));
  await link(join(photos, "city.png"), join(dir, "hard-city.safetensors"));
  await mkdir(join(dir, "series"));
  await link(join(photos, "rings.png"), join(dir, "series", "f-00002.safetensors"));
  const cases: [Partial<ExtractFolderOptions>, RegExp][] = [
    // The checkpoint, through a symbolic link.
    [{ out: join(dir, "to-weights.safetensors") }, /to-weights\.safetensors: is the input .*weights\.pth \(the same file, through a link\); writing there would replace it; write the output to another path$/],
    // A file inside an input folder, through a hard link.
    [{ out: join(dir, "hard-city.safetensors") }, /hard-city\.safetensors: is the input .*photos\/city\.png \(the same file, through a link\)/],
    // A shard that a sharded run would replace (or remove as stale).
    [{ out: join(dir, "series", "f.safetensors"), shard: 1 }, /f-00002\.safetensors: is the input .*photos\/rings\.png/],
    // An npy folder that is an input folder, or holds an input.
    [{ out: photos, format: "npy" }, /photos: is the input .*photos; write to a folder of its own$/],
    [{ out: dir, format: "npy" }, /: holds the input .*(weights\.pth|photos); write to a folder of its own, outside the inputs$/],
  ];
  for (const [options, pattern] of cases) {
    const { loader, loaded } = refusedBeforeLoading();
    await assert.rejects(
      extractFolder({ model: "resnet18", returnNodes: ["layer1.0"], weights, inputs: photos, preprocessing: SMALL, out: "unused", ...options, loader }),
      (e: unknown) => e instanceof OutputError && pattern.test(e.message) && !e.message.includes("\n"),
      JSON.stringify(options),
    );
    assert.equal(loaded(), false, "refused before loading the weights");
  }
  assert.deepEqual(await readFile(weights), originals.weights);
  assert.deepEqual(await readFile(join(photos, "city.png")), originals.city);
  // A folder of its own beside the inputs, or a new file in the input folder (it is not an image), is fine.
  for (const out of [join(dir, "features"), join(photos, "index.safetensors")]) {
    const { loader, loaded } = refusedBeforeLoading();
    await assert.rejects(extractFolder({ model: "resnet18", returnNodes: ["layer1.0"], weights, inputs: photos, preprocessing: SMALL, out, format: out.endsWith("features") ? "npy" : "safetensors", loader }), /the extractor was loaded/);
    assert.ok(loaded());
  }
});

test("visualize refuses a picture that would replace the image or the checkpoint", async () => {
  const { dir, weights } = await workspace("outputs-inputs");
  const image = join(dir, "layer1-channels.png");
  await copyFile(join(GALLERY, "city.png"), image);
  const original = await readFile(image);
  const { loader, loaded } = refusedBeforeLoading();
  await assert.rejects(
    visualize({ model: "resnet18", returnNodes: ["layer1"], weights, image, out: dir, loader }),
    /layer1-channels\.png: is the input .*layer1-channels\.png; writing there would replace it; write the output to another path$/,
  );
  assert.equal(loaded(), false);
  assert.deepEqual(await readFile(image), original);
});

test("fxc extract on a .npy array: --out equal to --input, or a hard link to --weights, is one line and exit 1; nothing changes", async () => {
  const { dir, weights } = await workspace("outputs-inputs");
  const input = join(dir, "input.npy");
  await copyFile(join(RESNET18_CASE, "input.npy"), input);
  await link(weights, join(dir, "w.safetensors"));
  const before = { input: await readFile(input), weights: await readFile(weights) };
  const run = (out: string) => fxc(["extract", "resnet18", "--return", "maxpool", "--layout", "nchw", "--weights", weights, "--input", input, "--out", out]);
  const [same, linked] = await Promise.all([run(input), run(join(dir, "w.safetensors"))]);
  assertOneLineError(same, /^fxc: .*input\.npy: is the input .*input\.npy; writing there would replace it; write the output to another path$/, { code: 1 });
  assertOneLineError(linked, /^fxc: .*w\.safetensors: is the input .*weights\.pth \(the same file, through a link\)/, { code: 1 });
  assert.doesNotMatch(same.stderr + linked.stderr, /fxc: backend/, "refused before loading");
  assert.deepEqual({ input: await readFile(input), weights: await readFile(weights) }, before);
});
