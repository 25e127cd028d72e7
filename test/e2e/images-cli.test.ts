import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { assertOneLineError, fxc, spawnFxc, type OneLineErrorOptions } from "../support/cli.js";
import { EDITED, GALLERY, IMAGES, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";
import { readFeatureTable } from "../../runtime/io/featureStore.js";

/** A small preset keeps the runs quick where the picture size does not matter. */
const SMALL = ["--resize", "72", "--crop", "64"];

/** A failure here is one line that begins "fxc: ", beside progress lines and warnings. */
const ERROR_LINE: OneLineErrorOptions = { allowWarnings: true, prefixed: true };

test("the documented example: index the gallery, then the edited copy finds its original first", async () => {
  const dir = await tempDir("images-cli");
  const index = join(dir, "gallery.safetensors");
  const extract = await fxc(["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", GALLERY, "--pool", "gem", "--normalize", "l2", "--out", index]);
  assert.equal(extract.code, 0, extract.stderr);
  // Not a terminal: no progress bar, one summary line.
  assert.match(extract.stderr, /^fxc: engine \w+(, backend \w+)?\nfxc: wrote layer1\.0 \[6, 64\] to .*gallery\.safetensors \(6 images; [\d.]+ s, [\d.]+ images\/s\)\n$/);
  const table = await fxc(["nearest", "--index", index, "--key", "layer1.0", "--query", EDITED, "--weights", RESNET18_WEIGHTS, "--top", "3"]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n");
  assert.equal(lines[0], `query ${EDITED}`);
  assert.match(lines[1]!, new RegExp(`^   1  0\\.9\\d{3}  ${join(GALLERY, "sunset.png")}$`));
  assert.equal(lines.length, 4);
  const json = await fxc(["nearest", "--index", index, "--key", "layer1.0", "--query-features", index, "--top", "1", "--json"]);
  const results = JSON.parse(json.stdout) as { query: string; neighbours: { rank: number; path: string; score: number }[] }[];
  assert.equal(results.length, 6);
  for (const r of results) assert.equal(r.neighbours[0]!.path, r.query);
});

test("bad images: a corrupt file is named; --skip-bad skips and counts it; non-images and hidden files are ignored", async () => {
  const dir = await tempDir("images-cli");
  const photos = join(dir, "photos");
  await mkdir(join(photos, "sub"), { recursive: true });
  await copyFile(join(GALLERY, "city.png"), join(photos, "b.png"));
  await copyFile(join(IMAGES, "preprocess", "exif-rotated.jpg"), join(photos, "sub", "c.JPG"));
  await copyFile(join(GALLERY, "rings.png"), join(photos, ".hidden.png"));
  await writeFile(join(photos, "a-broken.png"), "not a png at all");
  await writeFile(join(photos, "notes.txt"), "ignored: not an image by its extension");
  const out = join(dir, "out", "f.safetensors");
  const args = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", photos, "--pool", "avg", ...SMALL, "--out", out];
  assertOneLineError(await fxc(args), /a-broken\.png: cannot be decoded as an image \(.*\); re-save or remove it, or skip unreadable images \(--skip-bad\)$/, ERROR_LINE);
  assert.deepEqual(await readdir(join(dir, "out")).catch(() => []), [], "a failed run leaves no file, partial or scratch");

  const skipped = await fxc([...args, "--skip-bad", "--quiet"]);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stderr, /^fxc: wrote layer1\.0 \[2, 64\] to .*f\.safetensors \(2 images, 1 skipped; .*\)\n$/, "--quiet prints the summary only");
  const table = await readFeatureTable(out, "layer1.0");
  assert.deepEqual(table.paths, [join(photos, "b.png"), join(photos, "sub", "c.JPG")]);

  // Every other bad input is the same kind of one-line error, from the API (test/unit/images-input.test.ts).
});

test("bad options are one-line usage errors that say what to write", async () => {
  const base = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", GALLERY];
  // One of each kind here; the parsers behind them are tested directly in test/unit/images-input.test.ts.
  const cases: [string[], RegExp][] = [
    [[...base, "--pool", "mean", "--out", "f.safetensors"], /--pool: bad pooling 'mean'; write avg, max, gem or gem:P/],
    [[...base, "--out", "features.bin"], /--out features\.bin is not a \.safetensors file; name one, or write \.npy files into a folder with --format npy/],
    [["nearest", "--index", "i.safetensors", "--key", "k", "--query", EDITED], /--query runs the index's model on the images: pass --weights/],
  ];
  for (const [args, pattern] of cases) assertOneLineError(await fxc(args), pattern, { ...ERROR_LINE, code: 2 });
});

test("visualize writes a labelled channel grid and a heatmap per node, at the sizes the crop gives", async () => {
  const dir = await tempDir("images-cli");
  const r = await fxc(["visualize", "resnet18", "--weights", RESNET18_WEIGHTS, "--image", join(GALLERY, "city.png"), "--return", "maxpool,layer1.0:block", "--top", "9", "--out", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readdir(dir)).sort(), ["block-channels.png", "block-heatmap.png", "maxpool-channels.png", "maxpool-heatmap.png"]);
  for (const name of ["block", "maxpool"]) {
    const heatmap = sharp(join(dir, `${name}-heatmap.png`));
    assert.deepEqual(await dims(heatmap), [224, 224], "the input as the network saw it: resnet18's 224 crop");
    const grid = sharp(join(dir, `${name}-channels.png`));
    // 56x56 maps enlarged 2x to 112-px tiles, labels 20 px high, 6 px apart, under a two-line title whose
    // subtitle, "top 9 of 64 channels by mean activation" (39 glyphs 12 px apart), fits 4 columns: 4 + 4 + 1.
    assert.deepEqual(await dims(grid), [39 * 12 - 2 + 2 * 6, 2 * 20 + 6 + 3 * (20 + 112 + 6) + 6]);
    for (const s of [heatmap, grid]) {
      const stats = await s.stats();
      assert.ok(stats.channels.every((c) => c.stdev > 5), "not a constant picture");
    }
  }
});

test("an interrupted run exits 130 and leaves no file under the output name", async () => {
  const dir = await tempDir("images-cli");
  const many = join(dir, "many");
  await mkdir(many);
  for (let i = 0; i < 300; i++) {
    await sharp({ create: { width: 48, height: 40, channels: 3, background: { r: i % 256, g: (i * 7) % 256, b: 99 } } }).png().toFile(join(many, `${String(i).padStart(3, "0")}.png`));
  }
  const out = join(dir, "out");
  const child = spawnFxc(["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", many, "--batch", "4", "--out", join(out, "f.safetensors")]);
  let stderr = "";
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  await new Promise<void>((resolve) =>
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/^fxc: engine /m.test(stderr)) resolve();
    }),
  );
  await new Promise((r) => setTimeout(r, 300)); // a few batches in, scratch files exist
  child.kill("SIGINT");
  const code = await exited;
  assertOneLineError({ code, stderr }, /interrupted; no partial file was left under .*f\.safetensors/, { ...ERROR_LINE, code: 130 });
  assert.deepEqual(await readdir(out), [], "neither the output nor scratch files remain");
});

async function dims(s: Sharp): Promise<[number, number]> {
  const m = await s.metadata();
  return [m.width, m.height];
}
