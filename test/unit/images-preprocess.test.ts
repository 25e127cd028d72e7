import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getModelEntry, listModels } from "../../models/zoo/registry.js";
import type { Preset } from "../../models/zoo/entry.js";
import { decodeImage, type RgbImage } from "../../runtime/images/decode.js";
import { centerCrop, cropForPreset, normalizeImage, preprocess, resizeShorterSide } from "../../runtime/images/preprocess.js";
import { resizeRgb } from "../../runtime/images/resize.js";
import { resolvePreprocessing } from "../../compiler/tasks/loader.js";
import { extractFolder } from "../../compiler/tasks/extractFolder.js";
import { readFeatureTable } from "../../runtime/io/featureStore.js";
import { IMAGES, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";


/** One case of fixtures/images/preprocess/cases.json, written by fixtures/make_images.py. */
interface PresetCase {
  readonly id: string;
  readonly source: string;
  readonly preset: string;
  readonly presetValues: Preset;
  readonly sourceSize: readonly [number, number];
  readonly expected: string;
  readonly shape: readonly [number, number, number];
  readonly sum: number;
  readonly absSum: number;
}

const cases = JSON.parse(readFileSync(join(IMAGES, "preprocess", "cases.json"), "utf8")) as PresetCase[];

/** torchvision's normalized output, rebuilt from the stored 8-bit crop (the script checked they agree to 1e-6). */
async function reference(c: PresetCase): Promise<Float32Array> {
  const data = normalizeImage(await decodeImage(join(IMAGES, c.expected)), c.presetValues, "nchw").data;
  let sum = 0;
  let absSum = 0;
  for (const v of data) {
    sum += v;
    absSum += Math.abs(v);
  }
  // The rebuilt reference is torchvision's own output: its sums match the ones the script recorded.
  assert.ok(Math.abs(sum - c.sum) <= 1e-6 * c.absSum + 1e-3, `${c.id}: reference sum ${sum} vs torchvision ${c.sum}`);
  assert.ok(Math.abs(absSum - c.absSum) <= 1e-6 * c.absSum + 1e-3, `${c.id}: reference abs sum`);
  return data;
}

test("preprocess gives torchvision's ImageClassification preset exactly on every fixture: Pillow's 8-bit crop, byte for byte", async () => {
  for (const c of cases) {
    const want = await decodeImage(join(IMAGES, c.expected));
    const source = await decodeImage(join(IMAGES, c.source));
    const got = await cropForPreset(source, c.presetValues);
    assert.deepEqual([got.width, got.height], [c.shape[2], c.shape[1]], c.id);
    const differing = got.data.reduce((n, v, i) => n + (v === want.data[i] ? 0 : 1), 0);
    assert.equal(differing, 0, `${c.id}: ${differing} of ${want.data.length} bytes differ from Pillow's`);
    // And the normalized values are torchvision's (its sums, as the script recorded them).
    const normalized = await preprocess(join(IMAGES, c.source), c.presetValues, { layout: "nchw" });
    assert.deepEqual(normalized.data, await reference(c), c.id);
  }
});

test("returning the input node x gives the preprocessed batch: resnet50's preset on odd-size PNGs", async () => {
  const dir = await tempDir("images-x");
  const chosen = ["odd-401x297.png:resnet50", "odd-157x213.png:resnet50"].map((id) => cases.find((c) => c.id === id)!);
  const result = await extractFolder({
    model: "resnet50",
    returnNodes: ["x"],
    weights: RESNET18_WEIGHTS, // x reads no weights
    inputs: chosen.map((c) => join(IMAGES, c.source)),
    out: join(dir, "x.safetensors"),
    layout: "nchw",
  });
  assert.deepEqual(result.shapes, { x: [2, 3, 224, 224] });
  const got = await readFeatureTable(result.files[0]!, "x");
  for (const [i, c] of chosen.entries()) {
    const want = await reference(c);
    let sum = 0;
    for (let j = 0; j < want.length; j++) sum += Math.abs(got.data[i * want.length + j]! - want[j]!);
    assert.ok(sum / want.length <= 0.01, `${c.id}: mean abs diff ${sum / want.length}`);
  }
});

test("the fixture presets are torchvision's numbers: resnet50 232/224, inception_v3 342/299, vit_b_16 256/224, swin_t bicubic", () => {
  const preset = (name: string): Preset => cases.find((c) => c.preset === name)!.presetValues;
  assert.deepEqual(
    [preset("resnet50").resizeSize, preset("resnet50").cropSize, preset("inception_v3").resizeSize, preset("inception_v3").cropSize, preset("vit_b_16").resizeSize, preset("vit_b_16").cropSize],
    [232, 224, 342, 299, 256, 224],
  );
  assert.equal(preset("swin_t").interpolation, "bicubic");
  // The zoo carries the same preset as torchvision's DEFAULT weights.
  const zoo = getModelEntry("resnet50").preset;
  assert.deepEqual({ ...zoo, mean: [...zoo.mean], std: [...zoo.std] }, preset("resnet50"));
  for (const id of ["odd-401x297.png:resnet50", "odd-157x213.png:inception_v3", "wide-803x601.png:vit_b_16", "odd-157x213.png:swin_t"]) {
    assert.ok(cases.some((c) => c.id === id), `${id} is checked`);
  }
});

test("every zoo model carries a usable preset", () => {
  for (const name of listModels()) {
    const p = resolvePreprocessing(name);
    assert.ok(p.cropSize <= p.resizeSize, `${name}: crop ${p.cropSize} within resize ${p.resizeSize}`);
  }
});

test("colour modes become RGB as PIL's convert('RGB') does; EXIF orientation is applied; GIF gives its first frame", async () => {
  const rgb = await decodeImage(join(IMAGES, "preprocess", "rgb.webp"));
  // Every 40x40 "small" case was checked against PIL above; here the decoded sizes and channel rules.
  const gray = await decodeImage(join(IMAGES, "preprocess", "gray.png"));
  assert.deepEqual([gray.width, gray.height], [rgb.width, rgb.height]);
  for (let i = 0; i < gray.data.length; i += 3) assert.ok(gray.data[i] === gray.data[i + 1] && gray.data[i] === gray.data[i + 2]);
  // rgba.png has alpha 0 in its first column: PIL drops alpha, so those pixels keep their colour.
  const rgba = await decodeImage(join(IMAGES, "preprocess", "rgba.png"));
  assert.deepEqual([...rgba.data.subarray(0, 3)], [...rgb.data.subarray(0, 3)]);
  const rotated = await decodeImage(join(IMAGES, "preprocess", "exif-rotated.jpg"));
  assert.deepEqual([rotated.width, rotated.height], [60, 90], "stored 90x60 with orientation 6");
  const gif = await decodeImage(join(IMAGES, "preprocess", "two-frames.gif"));
  const firstFrameCase = cases.find((c) => c.id === "two-frames.gif:small")!;
  assert.deepEqual(firstFrameCase.sourceSize, [gif.width, gif.height]);
});

test("resize and crop follow torchvision's size rules: truncated long side, zero padding, round-half-even offsets", async () => {
  const image = (width: number, height: number): RgbImage => ({ width, height, data: Uint8Array.from({ length: width * height * 3 }, (_, i) => i % 251) });
  // int(232 * 401 / 297) = 313
  const r = await resizeShorterSide(image(401, 297), 232, "bilinear");
  assert.deepEqual([r.width, r.height], [313, 232]);
  // (7 - 2) / 2 = 2.5 rounds to 2 in Python, not 3.
  const src = image(7, 7);
  const c = centerCrop(src, 2);
  assert.deepEqual([...c.data.subarray(0, 3)], [...src.data.subarray((2 * 7 + 2) * 3, (2 * 7 + 2) * 3 + 3)]);
  // A crop larger than the image pads with zeros: left (6 - 3) // 2 = 1, right 2.
  const p = centerCrop(image(3, 1), [1, 6]);
  assert.deepEqual([...p.data], [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0]);
});

test("normalize computes in float32 steps as torch does", () => {
  const out = normalizeImage({ width: 1, height: 1, data: new Uint8Array([255, 0, 128]) }, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, "nhwc");
  const f = Math.fround;
  const expect = (v: number, m: number, s: number): number => f(f(f(v / 255) - f(m)) / f(s));
  assert.deepEqual([...out.data], [expect(255, 0.485, 0.229), expect(0, 0.456, 0.224), expect(128, 0.406, 0.225)]);
});

test("a 600x downscale gives Pillow's bytes in one step, both filters", async () => {
  // A horizontal ramp over 3000 pixels down to 5; Pillow's results from make_images.py.
  const pillow = JSON.parse(readFileSync(join(IMAGES, "preprocess", "extreme-downscale.json"), "utf8")) as Record<"bilinear" | "bicubic", number[]> & { width: number; height: number; to: [number, number] };
  const { width, height, to } = pillow;
  const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => Math.floor(((Math.floor(i / 3) % width) * 256) / width));
  for (const interpolation of ["bicubic", "bilinear"] as const) {
    const r = await resizeRgb({ data, width, height }, to[0], to[1], interpolation);
    assert.deepEqual([r.width, r.height], to);
    assert.deepEqual(Array.from({ length: to[0] }, (_, x) => r.data[x * 3]!), pillow[interpolation], interpolation);
  }
});
