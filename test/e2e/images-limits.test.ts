import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { extractFolder } from "../../compiler/tasks/extractFolder.js";
import { OptionsError } from "../../compiler/pipeline.js";
import { preprocessingOverrides } from "../../compiler/cli/commands/extract.js";
import { getModelEntry } from "../../models/zoo/registry.js";
import { decodeImage, ImageError } from "../../runtime/images/decode.js";
import { imageBatches, type ImageFailure } from "../../runtime/images/batches.js";
import { preprocess } from "../../runtime/images/preprocess.js";
import { DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PREPROCESS_SIDE } from "../../runtime/images/limits.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { withEnvironment } from "../support/environment.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const SMALL = { resizeSize: 40, cropSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], interpolation: "bilinear" } as const;

/**
 * A PNG that says it is width x height (8-bit RGB) and holds only its first rows: the header is
 * all a decoder reads before allocating, so a decompression bomb costs nothing to make here.
 */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const rows = deflateSync(Buffer.alloc((1 + width * 3) * 4)); // four black rows
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", rows), chunk("IEND", Buffer.alloc(0))]);
}

/** A real PNG of width x height, a grey ramp. */
async function png(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 255;
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

test("an image over the decoded-pixel limit is refused from its header, before any pixel is decoded", async () => {
  const dir = await tempDir("images-limits");
  const bomb = join(dir, "bomb.png");
  await writeFile(bomb, pngHeaderOnly(16000, 16000));
  assert.equal(DEFAULT_MAX_IMAGE_PIXELS, 89_478_485, "Pillow's MAX_IMAGE_PIXELS");
  const error = await decodeImage(bomb).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ImageError);
  assert.equal(
    error.message,
    `${bomb}: is 16000x16000, 256,000,000 pixels, over the limit of 89,478,485 decoded pixels per image; downscale it, raise the limit (FXC_MAX_IMAGE_PIXELS=N), or skip such images (--skip-bad)`,
  );
  // The limit is the environment's: lowered, a 40x40 image is over it; raised again, it goes through.
  const small = join(dir, "small.png");
  await writeFile(small, await png(40, 40));
  await withEnvironment({ FXC_MAX_IMAGE_PIXELS: "1599" }, async () => {
    await assert.rejects(decodeImage(small), /small\.png: is 40x40, 1,600 pixels, over the limit of 1,599 decoded pixels per image/);
    const skipped: ImageFailure[] = [];
    const paths: string[] = [];
    await writeFile(join(dir, "tiny.png"), await png(30, 30));
    // (Resized to 32x32: the resized image is held to the same limit.)
    for await (const b of imageBatches(dir, { preprocessing: { ...SMALL, resizeSize: 32 }, skipBad: true, onSkip: (f) => skipped.push(f) })) paths.push(...b.paths);
    assert.deepEqual(skipped.map((f) => f.path), [bomb, small]);
    assert.deepEqual(paths, [join(dir, "tiny.png")]);
  });
  await withEnvironment({ FXC_MAX_IMAGE_PIXELS: "1600" }, async () => {
    assert.equal((await decodeImage(small)).width, 40);
  });
  await withEnvironment({ FXC_MAX_IMAGE_PIXELS: "lots" }, async () => {
    await assert.rejects(decodeImage(small), /^LimitSettingError: FXC_MAX_IMAGE_PIXELS="lots" is not a positive whole number; set it to one \(default 89478485\) or unset it$/);
    // Batches check the setting once, up front, rather than failing every image.
    await assert.rejects(async () => {
      for await (const _ of imageBatches(dir, { preprocessing: SMALL, skipBad: true, onSkip: () => assert.fail("no image is tried") })) void _;
    }, /FXC_MAX_IMAGE_PIXELS="lots"/);
  });
});

test("a 4500x1 PNG, which the preset would resize to 242 million pixels, is a bad image, not a crash", async () => {
  const dir = await tempDir("images-limits");
  const strip = join(dir, "strip.png");
  await writeFile(strip, await png(4500, 1));
  const preset = getModelEntry("resnet18").preset; // 256 / 224, bilinear
  await assert.rejects(preprocess(strip, preset), (e: unknown) => {
    assert.ok(e instanceof ImageError);
    assert.equal(
      e.message,
      `${strip}: resizing it to 1152000x256 (bilinear) needs a buffer of 294,912,000 pixels, over the limit of 89,478,485; crop it to a less extreme aspect ratio, raise the limit with FXC_MAX_IMAGE_PIXELS, or skip such images (--skip-bad)`,
    );
    return true;
  });
  // A moderately long strip is within the limit and is preprocessed as torchvision does.
  const panorama = join(dir, "panorama.png");
  await writeFile(panorama, await png(600, 60));
  assert.deepEqual((await preprocess(panorama, SMALL)).width, 32);
});

test("fxc extract skips the 4500x1 PNG with --skip-bad and names it in one line without; the process never aborts", async () => {
  const dir = await tempDir("images-limits");
  const photos = join(dir, "photos");
  await mkdir(photos);
  await copyFile(join(GALLERY, "city.png"), join(photos, "a.png"));
  await writeFile(join(photos, "strip.png"), await png(4500, 1));
  const outDir = join(dir, "out");
  // The model's own preset (256 / 224), as in the report that found the abort.
  const args = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", photos, "--pool", "avg", "--out", join(outDir, "f.safetensors")];
  assertOneLineError(await fxc(args), /^fxc: .*strip\.png: resizing it to 1152000x256 \(bilinear\) needs a buffer of 294,912,000 pixels, /, { code: 1 });
  assert.deepEqual(await readdir(outDir).catch(() => []), [], "no spool or partial file");
  const skipped = await fxc([...args, "--skip-bad"]);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stderr, /^fxc: warning: skipped .*strip\.png: resizing it to 1152000x256 /m);
  assert.match(skipped.stderr, /\(1 images, 1 skipped; /);
  assert.deepEqual(await readdir(outDir), ["f.safetensors"]);
});

test("resize and crop sizes are bounded on the command line, in the API and in presets, and the bound can be raised", async () => {
  assert.equal(DEFAULT_MAX_PREPROCESS_SIDE, 2048);
  const crop = await fxc(["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", GALLERY, "--crop", "20000", "--out", "/nonexistent/f.safetensors"]);
  assertOneLineError(crop, /^fxc: bad --crop 20000: over the limit of 2048 pixels per side \(FXC_MAX_PREPROCESS_SIDE=N raises it\); give a smaller size$/, { code: 2 });
  assert.throws(() => preprocessingOverrides({ resize: 2049 }), /^UsageError: bad --resize 2049: over the limit of 2048 pixels per side/);
  assert.deepEqual(preprocessingOverrides({ resize: 2048, crop: 2048 }).cropSize, 2048);
  await withEnvironment({ FXC_MAX_PREPROCESS_SIDE: "30000" }, () => {
    assert.equal(preprocessingOverrides({ crop: 20000 }).cropSize, 20000);
  });
  await withEnvironment({ FXC_MAX_PREPROCESS_SIDE: "-1" }, () => {
    assert.throws(() => preprocessingOverrides({ crop: 224 }), /^LimitSettingError: FXC_MAX_PREPROCESS_SIDE="-1" is not a positive whole number; set it to one \(default 2048\) or unset it$/);
  });
  // The API refuses before reading weights or images.
  const dir = await tempDir("images-limits");
  await assert.rejects(
    extractFolder({ model: "resnet18", returnNodes: ["layer1.0"], weights: "/nonexistent.pth", inputs: GALLERY, out: join(dir, "f.safetensors"), preprocessing: { cropSize: 30000 } }),
    (e: unknown) => e instanceof OptionsError && /^preprocessing cropSize 30000 is over the limit of 2048 pixels per side \(FXC_MAX_PREPROCESS_SIDE=N raises it\)$/.test(e.message),
  );
  await assert.rejects(preprocess(join(GALLERY, "city.png"), { ...SMALL, resizeSize: 5000 }), /^RangeError: preprocessing resizeSize 5000 is over the limit of 2048 pixels per side/);
  assert.deepEqual(await readdir(dir), []);
});
