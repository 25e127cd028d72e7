import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import sharp from "sharp";
import { ImageError } from "../../runtime/images/decode.js";
import { resizeRgb } from "../../runtime/images/resize.js";
import { assertOneLineError, fxc, ROOT, type CliResult } from "../support/cli.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

/**
 * Images with extreme aspect ratios: resized to a preset's short side, their long side becomes
 * hundreds of thousands of pixels. Each is refused in one line before anything is allocated, or
 * resized correctly; never a crash (a 4500x1 PNG once aborted the process with a double free).
 * They run in child processes, so that a crash fails the test instead of killing the runner.
 */

/** A noisy PNG of `width` x `height`: small on disk, whatever its shape. */
async function writePng(path: string, width: number, height: number): Promise<void> {
  const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 251);
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

async function extremeFolder(): Promise<{ dir: string; photos: string }> {
  const dir = await tempDir("images-extreme");
  const photos = join(dir, "photos");
  await mkdir(photos);
  await writePng(join(photos, "a-4500x1.png"), 4500, 1);
  await writePng(join(photos, "b-1x4500.png"), 1, 4500);
  await writePng(join(photos, "c-30000x2.png"), 30000, 2);
  await copyFile(join(GALLERY, "city.png"), join(photos, "d-city.png"));
  return { dir, photos };
}

/** Runs `code` (an ES module over fxc's TypeScript sources) in a child node, as the tests run. */
function runNode(code: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=fxc-source", "--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr: stderr + (signal ? `killed by ${signal}` : "") }));
  });
}

const REFUSED = /: resizing it to \d+x\d+ \(bilinear\) needs a buffer of [\d,]+ pixels, over the limit of 89,478,485; crop it to a less extreme aspect ratio, raise the limit with FXC_MAX_IMAGE_PIXELS, or skip such images \(--skip-bad\)$/;

test("fxc extract: a 4500x1, 1x4500 or 30000x2 PNG is one line naming the file, or skipped with --skip-bad; never a crash", async () => {
  const { dir, photos } = await extremeFolder();
  const out = join(dir, "out", "f.safetensors");
  // resnet18's preset resizes the short side to 256: 4500x1 would become 1152000x256.
  const args = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", photos, "--pool", "avg", "--out", out];
  const failed = await fxc(args);
  assertOneLineError(failed, new RegExp(`^fxc: ${join(photos, "a-4500x1.png").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${REFUSED.source}`), { code: 1, allowWarnings: true });
  assert.deepEqual(await readdir(join(dir, "out")).catch(() => []), [], "a failed run leaves no file, partial or scratch");

  const skipped = await fxc([...args, "--skip-bad", "--quiet"]);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stderr, /\(1 images, 3 skipped; /);
});

test("preprocess refuses each extreme image with an ImageError, and resizes one within the limit correctly", async () => {
  const { photos } = await extremeFolder();
  const preprocessModule = JSON.stringify(pathToFileURL(join(ROOT, "runtime/images/preprocess.ts")).href);
  const files = JSON.stringify(["a-4500x1.png", "b-1x4500.png", "c-30000x2.png"].map((f) => join(photos, f)));
  const code = `
    const { preprocess } = await import(${preprocessModule});
    const preset = { resizeSize: 232, cropSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: "bilinear" };
    const results = [];
    for (const file of ${files}) {
      try { await preprocess(file, preset); results.push("resized"); }
      catch (e) { results.push(e.name + " " + e.message); }
    }
    // Within the limit: 4500x1 to 72 on its short side is 324000x72; one row resampled, repeated.
    const small = await preprocess(${JSON.stringify(join(photos, "a-4500x1.png"))}, { ...preset, resizeSize: 72, cropSize: 64 });
    const row = small.data.subarray(0, 64 * 3);
    let same = true;
    for (let y = 1; y < 64; y++) same &&= small.data.subarray(y * 64 * 3, (y + 1) * 64 * 3).every((v, i) => v === row[i]);
    console.log(JSON.stringify({ results, shape: [small.height, small.width], same }));`;
  const r = await runNode(code);
  assert.equal(r.code, 0, r.stderr);
  const { results, shape, same } = JSON.parse(r.stdout) as { results: string[]; shape: number[]; same: boolean };
  const sizes = ["4500x1", "1x4500", "30000x2"];
  results.forEach((line, i) => {
    assert.ok(!line.includes("\n"), line);
    assert.match(line, new RegExp(`^ImageError .*-${sizes[i]}\\.png${REFUSED.source}`));
  });
  assert.deepEqual(shape, [64, 64]);
  assert.ok(same, "every row of a one-row image's upscale is the same");
});

test("the resize limit is checked before allocating, and FXC_MAX_IMAGE_PIXELS moves it", async () => {
  const image = { data: new Uint8Array(40 * 30 * 3), width: 40, height: 30 };
  const previous = process.env.FXC_MAX_IMAGE_PIXELS;
  try {
    process.env.FXC_MAX_IMAGE_PIXELS = "1000";
    await assert.rejects(resizeRgb(image, 40, 60, "bicubic"), (e: unknown) => e instanceof ImageError && /^40x30 image: resizing it to 40x60 \(bicubic\) needs a buffer of 2,400 pixels, over the limit of 1,000;/.test(e.message));
    process.env.FXC_MAX_IMAGE_PIXELS = "2400";
    assert.equal((await resizeRgb(image, 40, 60, "bicubic")).data.length, 40 * 60 * 3);
    process.env.FXC_MAX_IMAGE_PIXELS = "many";
    await assert.rejects(resizeRgb(image, 40, 60, "nearest"), /^LimitSettingError: FXC_MAX_IMAGE_PIXELS="many" is not a positive whole number; set it to one \(default 89478485\) or unset it$/);
  } finally {
    if (previous === undefined) delete process.env.FXC_MAX_IMAGE_PIXELS;
    else process.env.FXC_MAX_IMAGE_PIXELS = previous;
  }
  // Without a limit, a 1x1 image resized to 2^31 pixels would ask for 6 GiB at once.
  await assert.rejects(resizeRgb({ data: new Uint8Array(3), width: 1, height: 1 }, 65536, 32768, "bilinear"), ImageError);
});
