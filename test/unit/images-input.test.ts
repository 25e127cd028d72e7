import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extractFolder } from "../../compiler/tasks/extractFolder.js";
import { parsePoolArg, preprocessingOverrides } from "../../compiler/cli/commands/extract.js";
import { decodeImage, ImageError } from "../../runtime/images/decode.js";
import { imageBatches, type ImageFailure } from "../../runtime/images/batches.js";
import { listImages } from "../../runtime/images/list.js";
import { parsePooling } from "../../runtime/descriptors/pooling.js";
import { GALLERY, IMAGES, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const SMALL = { resizeSize: 40, cropSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], interpolation: "bilinear" } as const;

test("folders are walked recursively in sorted path order; non-images by extension and hidden entries are ignored", async () => {
  const dir = await tempDir("images-input");
  await mkdir(join(dir, "b", "deeper"), { recursive: true });
  await mkdir(join(dir, ".cache"));
  for (const f of ["b/deeper/z.png", "b/a.WEBP", "a.png", "B.tif", "c.jpeg", ".cache/x.png", ".hidden.gif"]) await writeFile(join(dir, f), "");
  await writeFile(join(dir, "notes.txt"), "");
  await writeFile(join(dir, "b", "data.npy"), "");
  await symlink(dir, join(dir, "b", "loop")); // a link back up is not followed twice
  const listed = await listImages(dir);
  assert.deepEqual(listed.map((p) => p.slice(dir.length + 1)), ["B.tif", "a.png", "b/a.WEBP", "b/deeper/z.png", "c.jpeg"]);
  // Files named explicitly are taken as given, in the order given, whatever their extension.
  assert.deepEqual(await listImages([join(dir, "notes.txt"), join(dir, "a.png")]), [join(dir, "notes.txt"), join(dir, "a.png")]);
  await assert.rejects(listImages(join(dir, "nowhere")), /nowhere: no such file or folder; check the path/);
  const empty = join(dir, "b", "deeper", "empty");
  await mkdir(empty);
  await assert.rejects(listImages(empty), /empty: holds no images; fxc reads \.jpg, \.jpeg, \.png, \.webp, \.gif, \.tif, \.tiff files, in subfolders too/);
});

test("unreadable images are one-line errors naming the file and the fix", async () => {
  const dir = await tempDir("images-input");
  const jpeg = await readFile(join(IMAGES, "preprocess", "cmyk.jpg"));
  const files = { "truncated.jpg": jpeg.subarray(0, jpeg.length >> 1), "text.png": Buffer.from("not a png"), "empty.webp": Buffer.alloc(0) };
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(dir, name), bytes);
    const error = await decodeImage(join(dir, name)).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ImageError, name);
    assert.match(error.message, new RegExp(`^${join(dir, name).replace(/[.\\/]/g, "\\$&")}: cannot be decoded as an image \\(.+\\); re-save or remove it, or skip unreadable images \\(--skip-bad\\)$`));
    assert.doesNotMatch(error.message, /\n/);
  }
  await assert.rejects(decodeImage(join(dir, "missing.png")), /missing\.png: no such file; check the path/);
  await assert.rejects(decodeImage(dir), /is a folder, not an image/);
});

test("batches keep order and size, skip bad images when asked, and come in either layout", async () => {
  const dir = await tempDir("images-input");
  for (const name of ["a", "c", "e"]) await copyFile(join(GALLERY, "city.png"), join(dir, `${name}.png`));
  await writeFile(join(dir, "b.png"), "broken");
  await writeFile(join(dir, "d.png"), "broken");
  const skipped: ImageFailure[] = [];
  const batches = [];
  for await (const b of imageBatches(dir, { preprocessing: SMALL, batchSize: 2, layout: "nchw", skipBad: true, onSkip: (f) => skipped.push(f) })) batches.push(b);
  assert.deepEqual(batches.map((b) => b.paths.map((p) => p.slice(dir.length + 1))), [["a.png", "c.png"], ["e.png"]]);
  assert.deepEqual(batches.map((b) => b.shape), [[2, 3, 32, 32], [1, 3, 32, 32]]);
  assert.deepEqual(skipped.map((f) => f.path.slice(dir.length + 1)), ["b.png", "d.png"]);
  const strict = imageBatches(dir, { preprocessing: SMALL, batchSize: 2 });
  await assert.rejects(async () => {
    for await (const _ of strict) void _;
  }, /b\.png: cannot be decoded as an image/);
});

test("a failed or interrupted extraction writes nothing under the output name", async () => {
  const dir = await tempDir("images-input");
  await writeFile(join(dir, "x.png"), "");
  await writeFile(join(dir, "y.png"), "");
  const out = join(dir, "out");
  const base = { model: "resnet18", returnNodes: ["layer1.0"], weights: RESNET18_WEIGHTS, preprocessing: SMALL } as const;
  await assert.rejects(extractFolder({ ...base, inputs: dir, out: join(out, "f.safetensors"), skipBad: true }), /^Error: none of the 2 images could be read; the first, .*x\.png, cannot be decoded as an image \(.*\); check the inputs$/);
  await assert.rejects(extractFolder({ ...base, inputs: join(dir, "x.png"), out: join(out, "f.safetensors"), skipBad: true }), ImageError);
  const controller = new AbortController();
  const reason = new Error("stop");
  await assert.rejects(
    extractFolder({ ...base, inputs: GALLERY, out: join(out, "g.safetensors"), batchSize: 2, signal: controller.signal, onProgress: () => controller.abort(reason) }),
    (e) => e === reason,
  );
  assert.deepEqual(await readdir(out), [], "no output, no scratch file");
  // A model built in code has no preset: it must bring one.
  await assert.rejects(extractFolder({ ...base, model: (await import("../../models/zoo/registry.js")).getModel("resnet18"), preprocessing: { resizeSize: 40 }, inputs: GALLERY, out: join(out, "h.safetensors") }), /a model built in code has no preset; give preprocessing cropSize, mean, std, interpolation/);
});

test("command-line preprocessing and pooling options are checked", () => {
  assert.deepEqual(preprocessingOverrides({ resize: 342, crop: 299, mean: "0.5, 0.5,0.5", std: "0.2,0.2,0.2", interpolation: "bicubic" }), {
    resizeSize: 342,
    cropSize: 299,
    mean: [0.5, 0.5, 0.5],
    std: [0.2, 0.2, 0.2],
    interpolation: "bicubic",
  });
  assert.throws(() => preprocessingOverrides({ mean: "0.5,0.5" }), /bad --mean '0\.5,0\.5'; give three numbers R,G,B/);
  assert.throws(() => preprocessingOverrides({ std: "1,0,1" }), /bad --std '1,0,1'; give three positive numbers/);
  assert.throws(() => preprocessingOverrides({ crop: 0 }), /bad --crop '0'; give a positive whole number/);
  assert.throws(() => preprocessingOverrides({ resize: 2.5 }), /bad --resize '2\.5'/);
  assert.deepEqual(parsePoolArg("gem:2.5"), parsePooling("gem:2.5"));
  assert.throws(() => parsePoolArg("mean"), /--pool: bad pooling 'mean'/);
});
