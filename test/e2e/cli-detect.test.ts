import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeImage } from "../../runtime/images/decode.js";
import { COCO_CATEGORIES } from "../../compiler/tasks/cocoCategories.js";
import type { ImageDetections } from "../../compiler/tasks/detect.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { tempDir } from "../support/temp.js";
import { DETECTION_FIXTURES, DETECTION_WEIGHTS, expectedDetections, picturePath } from "../support/detection.js";

/**
 * `fxc detect` with the small Mask R-CNN of test/fixtures/detection (a user model file building
 * config.json's configuration, and the weights torchvision ran): the files it writes, and its
 * one-line refusals, each leaving nothing behind.
 */

const MODEL = `${join(DETECTION_FIXTURES, "tinyDetectors.ts")}#TinyMaskRCNN`;

test("fxc detect writes NAME.json with COCO names, boxes and scores, a PNG per mask, and the drawn pictures", async () => {
  const dir = await tempDir("detect");
  const images = join(dir, "images");
  await mkdir(join(images, "more"), { recursive: true });
  await copyFile(picturePath("landscape"), join(images, "landscape.png"));
  await copyFile(picturePath("portrait"), join(images, "more", "portrait.png"));
  const out = join(dir, "out");
  const drawn = join(dir, "drawn");
  const r = await fxc(["detect", MODEL, "--weights", DETECTION_WEIGHTS, "--input", images, "--out", out, "--visualize", drawn, "--score-threshold", "0.6", "--engine", "tfjs"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /fxc: wrote \d+ detections of 2 images to /);
  for (const [name, fixture] of [["landscape.png", "landscape"], ["more__portrait.png", "portrait"]] as const) {
    const json = JSON.parse(await readFile(join(out, `${name}.json`), "utf8")) as ImageDetections;
    const size = await decodeImage(picturePath(fixture));
    assert.deepEqual([json.width, json.height], [size.width, size.height]);
    assert.equal(json.scoreThreshold, 0.6);
    // torchvision, run on the four pictures in one batch, found these many above 0.6 (one picture alone pads less; the count is the same here).
    const expected = await expectedDetections(fixture);
    assert.equal(json.detections.length, expected.maskrcnn.scores.filter((s) => s >= 0.6).length, `${name}: detections above 0.6`);
    assert.ok(json.detections.length > 0, `${name}: something was found`);
    for (const [k, d] of json.detections.entries()) {
      assert.ok(d.score >= 0.6 && d.score <= 1, `score ${d.score}`);
      assert.equal(d.label, COCO_CATEGORIES[d.labelIndex], "a 91-class detector's labels are COCO's names");
      assert.ok(d.box[0] >= 0 && d.box[1] >= 0 && d.box[2] <= json.width && d.box[3] <= json.height && d.box[0] < d.box[2] && d.box[1] < d.box[3], `box ${d.box.join(", ")}`);
      assert.equal(d.mask, `${name}.mask-${k}.png`);
      const mask = await decodeImage(join(out, d.mask));
      assert.deepEqual([mask.width, mask.height], [json.width, json.height], "masks are pasted into the image");
    }
    const picture = await decodeImage(join(drawn, `${name}.png`));
    assert.deepEqual([picture.width, picture.height], [json.width, json.height]);
  }
  assert.deepEqual((await readdir(out)).filter((f) => f.startsWith(".")), [], "no temporary file is left");
});

test("fxc detect refuses a --score-threshold outside [0, 1] in one line, before any work", async () => {
  const dir = await tempDir("detect-threshold");
  for (const threshold of ["1.5", "-0.1", "nan"]) {
    const r = await fxc(["detect", MODEL, "--weights", DETECTION_WEIGHTS, "--input", picturePath("odd"), "--out", join(dir, "out"), "--score-threshold", threshold]);
    assertOneLineError(r, /^fxc: bad --score-threshold: .* is not in \[0, 1\]; give a score between 0 and 1/, { code: 2 });
  }
  assert.deepEqual(await readdir(dir), [], "nothing written");
});

test("fxc detect: a file that is not an image fails in one line and leaves nothing, not even the images done before it", async () => {
  const dir = await tempDir("detect-bad-image");
  const images = join(dir, "images");
  await mkdir(images);
  await copyFile(picturePath("odd"), join(images, "a.png"));
  await writeFile(join(images, "b.png"), "not a picture\n");
  const out = join(dir, "out");
  const r = await fxc(["detect", MODEL, "--weights", DETECTION_WEIGHTS, "--input", images, "--out", out, "--visualize", join(dir, "drawn"), "--engine", "tfjs"]);
  assertOneLineError(r, /b\.png/, { code: 1 });
  const left = await readdir(out).catch(() => []);
  assert.deepEqual(left, [], "a.png's files were written aside and removed");
  assert.deepEqual(await readdir(join(dir, "drawn")).catch(() => []), []);
});

test("fxc detect --skip-bad skips a file that is not an image, says so, and does the others", async () => {
  const dir = await tempDir("detect-skip-bad");
  const images = join(dir, "images");
  await mkdir(images);
  await copyFile(picturePath("odd"), join(images, "a.png"));
  await writeFile(join(images, "b.png"), "not a picture\n");
  const out = join(dir, "out");
  const r = await fxc(["detect", MODEL, "--weights", DETECTION_WEIGHTS, "--input", images, "--out", out, "--skip-bad", "--engine", "tfjs"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /fxc: warning: skipped .*b\.png: cannot be decoded/);
  assert.match(r.stderr, /of 1 images to .*, 1 skipped\)/);
  assert.ok((await readdir(out)).includes("a.png.json"));
  assert.ok(!(await readdir(out)).includes("b.png.json"));
});

test("fxc detect --engine/--backend run the detector where asked and say so; the JSON is the same on each", async () => {
  const dir = await tempDir("detect-engines");
  const images = join(dir, "images");
  await mkdir(images);
  await copyFile(picturePath("odd"), join(images, "odd.png"));
  const outputs: ImageDetections[] = [];
  for (const [flags, line] of [
    [["--engine", "tfjs", "--backend", "wasm"], /^fxc: engine tfjs, backend wasm$/m],
    [["--engine", "onnxruntime"], /^fxc: engine onnxruntime$/m],
  ] as const) {
    const out = join(dir, flags.join(""));
    const r = await fxc(["detect", MODEL, "--weights", DETECTION_WEIGHTS, "--input", images, "--out", out, ...flags]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, line, flags.join(" "));
    outputs.push(JSON.parse(await readFile(join(out, "odd.png.json"), "utf8")) as ImageDetections);
  }
  const [wasm, onnx] = outputs;
  assert.deepEqual(onnx!.detections.map((d) => d.label), wasm!.detections.map((d) => d.label));
  onnx!.detections.forEach((d, i) => assert.ok(Math.abs(d.score - wasm!.detections[i]!.score) < 1e-4, `detection ${i}: scores ${d.score} and ${wasm!.detections[i]!.score}`));
});

test("fxc detect: an empty folder fails in one line", async () => {
  const dir = await tempDir("detect-empty");
  await mkdir(join(dir, "empty"));
  const r = await fxc(["detect", MODEL, "--weights", DETECTION_WEIGHTS, "--input", join(dir, "empty"), "--out", join(dir, "out")]);
  assertOneLineError(r, /empty.*holds no images/, { code: 1 });
  assert.deepEqual(await readdir(dir), ["empty"]);
});

test("fxc detect: a checkpoint for another number of classes fails in one line naming the key, both shapes and numClasses", async () => {
  const dir = await tempDir("detect-classes");
  const r = await fxc(["detect", `${join(DETECTION_FIXTURES, "tinyDetectors.ts")}#TinyMaskRCNNFiveClasses`, "--weights", DETECTION_WEIGHTS, "--input", picturePath("odd"), "--out", join(dir, "out")]);
  assertOneLineError(r, /roi_heads\.box_predictor\.cls_score\.(weight|bias).*\b91\b.*\b5\b.*numClasses|roi_heads\.box_predictor\.cls_score\.(weight|bias).*\b5\b.*\b91\b.*numClasses/, { code: 1 });
  assert.deepEqual(await readdir(dir), []);
});

test("fxc detect names the detectors it builds when given another model", async () => {
  const r = await fxc(["detect", "resnet50", "--weights", DETECTION_WEIGHTS, "--input", picturePath("odd"), "--out", "/nonexistent-out"]);
  assertOneLineError(r, /fxc detect runs maskrcnn_resnet50_fpn or fasterrcnn_resnet50_fpn, or a detector of your own as FILE#Export, not 'resnet50'/, { code: 2 });
});
