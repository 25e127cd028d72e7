import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readdir, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeImage, ImageError } from "../../runtime/images/decode.js";
import { imageBatches, type ImageFailure } from "../../runtime/images/batches.js";
import { DEFAULT_MAX_IMAGE_PIXELS, MAX_FILE_BYTES_PER_PIXEL, MAX_FILE_METADATA_BYTES } from "../../runtime/images/limits.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";
import { withEnvironment } from "../support/environment.js";

const SMALL = { resizeSize: 40, cropSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], interpolation: "bilinear" } as const;

/** Before the fix a FIFO hung forever: a test that would wait is stopped and fails instead. */
const NO_HANG = { timeout: 60_000 };

/** A folder with one good image, a FIFO and a link to /dev/zero, both named like images. */
async function folderWithSpecialFiles(prefix: string): Promise<{ dir: string; fifo: string; zero: string; good: string }> {
  const dir = await tempDir(prefix);
  const good = join(dir, "a-good.png");
  const fifo = join(dir, "b-fifo.png");
  const zero = join(dir, "c-zero.png");
  await copyFile(join(GALLERY, "city.png"), good);
  execFileSync("mkfifo", [fifo]);
  await symlink("/dev/zero", zero);
  return { dir, fifo, zero, good };
}

test("a FIFO and a link to /dev/zero named *.png are refused at once as bad images, not read", NO_HANG, async () => {
  const { dir, fifo, zero, good } = await folderWithSpecialFiles("images-special");
  await assert.rejects(decodeImage(fifo), (e: unknown) => {
    assert.ok(e instanceof ImageError);
    assert.equal(e.message, `${fifo}: is a FIFO (named pipe), not a regular file; give image files only; remove it or skip unreadable images (--skip-bad)`);
    return true;
  });
  await assert.rejects(decodeImage(zero), /c-zero\.png: is a character device, not a regular file; give image files only/);
  // Through a folder: listed by their names, skipped with skipBad, and the good image goes through.
  const skipped: ImageFailure[] = [];
  const paths: string[] = [];
  for await (const batch of imageBatches(dir, { preprocessing: SMALL, skipBad: true, onSkip: (f) => skipped.push(f) })) paths.push(...batch.paths);
  assert.deepEqual(paths, [good]);
  assert.deepEqual(skipped.map((f) => f.path), [fifo, zero]);
  await assert.rejects(async () => {
    for await (const _ of imageBatches(dir, { preprocessing: SMALL })) void _;
  }, /b-fifo\.png: is a FIFO/);
});

test("an image file larger than any encoding of the largest allowed image is refused before it is read", async () => {
  const dir = await tempDir("images-special");
  assert.equal(MAX_FILE_BYTES_PER_PIXEL * DEFAULT_MAX_IMAGE_PIXELS + MAX_FILE_METADATA_BYTES, 732_605_096, "the default: 733 MB");
  const big = join(dir, "big.png");
  await writeFile(big, "");
  await truncate(big, MAX_FILE_METADATA_BYTES + 8001); // sparse: no disk space used
  // With 1000 pixels allowed, a file may hold 8 bytes a pixel and 16 MiB besides.
  await withEnvironment({ FXC_MAX_IMAGE_PIXELS: "1000" }, async () => {
    await assert.rejects(
      decodeImage(big),
      /^ImageError: .*big\.png: is 16,785,217 bytes, more than any image of at most 1,000 pixels needs \(16,785,216\); check the file, raise the pixel limit \(FXC_MAX_IMAGE_PIXELS=N\), or skip such files \(--skip-bad\)$/,
    );
  });
  // Within the limit the file is read, and fails as what it is: not an image.
  await assert.rejects(decodeImage(big), /big\.png: cannot be decoded as an image/);
});

test("fxc extract --skip-bad skips special files with one warning each; without it, one error line", NO_HANG, async () => {
  const { dir, fifo, zero } = await folderWithSpecialFiles("images-special");
  const outDir = join(dir, "out"); // no image in it: the listing ignores it
  await mkdir(outDir);
  const out = join(outDir, "f.safetensors");
  const args = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", dir, "--pool", "avg", "--resize", "40", "--crop", "32", "--out", out];
  assertOneLineError(await fxc(args), /^fxc: .*b-fifo\.png: is a FIFO \(named pipe\), not a regular file; /, { code: 1 });
  const skipped = await fxc([...args, "--skip-bad"]);
  assert.equal(skipped.code, 0, skipped.stderr);
  const warnings = skipped.stderr.split("\n").filter((l) => l.startsWith("fxc: warning:"));
  assert.deepEqual(warnings, [
    `fxc: warning: skipped ${fifo}: is a FIFO (named pipe), not a regular file; give image files only; remove it or skip unreadable images (--skip-bad)`,
    `fxc: warning: skipped ${zero}: is a character device, not a regular file; give image files only; remove it or skip unreadable images (--skip-bad)`,
  ]);
  assert.match(skipped.stderr, /wrote layer1\.0 \[1, 64\] to .*\(1 images, 2 skipped; /);
  assert.deepEqual(await readdir(outDir), ["f.safetensors"]);
});
