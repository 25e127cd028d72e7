import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import type { TestContext } from "node:test";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { memorySource, openWeights, type TensorSource } from "../../runtime/index.js";
import { decodeImage } from "../../runtime/images/decode.js";
import { parseNpy } from "../../runtime/io/npy.js";
import type { Detections, ImageTensor } from "../../runtime/detection/types.js";
import { toImageTensor } from "../../compiler/tasks/detect.js";
import type { Detector } from "../../runtime/detector.js";
import { relativeError, strideRowsAndColumns } from "./fixtures.js";
import { DETECTION_FIXTURES, tinyDetectorConfig, type TinyDetectorConfig } from "../fixtures/detection/tinyDetectors.js";

/**
 * torchvision's outputs for the pictures of test/fixtures/detection (make_detection.py), and how the
 * tests compare fxc's with them: the issue's bounds, with order left free only among near-equal scores.
 */

export { DETECTION_FIXTURES, tinyDetectorConfig, type TinyDetectorConfig };
export const DETECTION_WEIGHTS = join(DETECTION_FIXTURES, "weights.safetensors");

/** The fixture's weights in memory under other keys (`rename`: a checkpoint's older names, a prefix), as a file named `path`. */
export async function renamedDetectionWeights(rename: (key: string) => string, path: string): Promise<TensorSource> {
  const file = await openWeights(DETECTION_WEIGHTS);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  try {
    for (const key of file.keys()) tensors.set(rename(key), { shape: [...file.info(key)!.shape], data: await file.readFloat32(key) });
  } finally {
    await file.close();
  }
  return memorySource(tensors, path);
}

/** The issue's bounds: scores, boxes (share of the picture's longer side), FPN levels (share of their largest magnitude), masks. */
export const SCORE_TOLERANCE = 1e-4;
export const BOX_TOLERANCE = 1e-3;
export const FEATURE_TOLERANCE = 1e-4;
export const MASK_MEAN_TOLERANCE = 1e-3;
export const MASK_AGREEMENT = 0.999;

/** One picture's expected values (expected/<name>.safetensors and <name>.masks.npy.gz). */
export interface ExpectedDetections {
  readonly name: string;
  readonly transformedSize: [number, number];
  readonly batchShape: [number, number, number, number];
  /** Level -> this picture's map in the padded batch, every featureStride[level]-th row and column. */
  readonly features: Record<string, Float32Array>;
  /** n x 4, in the transformed picture's pixels. */
  readonly proposals: Float32Array;
  /** Per proposal, whether every perturbed run of make_detection.py kept it (a near tie may swap the others). */
  readonly proposalsStable: Uint8Array;
  readonly maskrcnn: Detections & { readonly masks: NonNullable<Detections["masks"]> };
  readonly fasterrcnn: Detections;
}

export function pictureNames(config: TinyDetectorConfig = tinyDetectorConfig()): string[] {
  return config.pictures.images.map((i) => i.name);
}

export function picturePath(name: string): string {
  return join(DETECTION_FIXTURES, "images", `${name}.png`);
}

/** The PNG as torchvision's to_tensor gives it (C x H x W, u8 / 255 in float32), read as fxc detect reads images. */
export async function pictureTensor(name: string): Promise<ImageTensor> {
  return toImageTensor(await decodeImage(picturePath(name)));
}

export async function expectedDetections(name: string, config: TinyDetectorConfig = tinyDetectorConfig()): Promise<ExpectedDetections> {
  const source = await openWeights(join(DETECTION_FIXTURES, "expected", `${name}.safetensors`));
  try {
    const read = (key: string): Promise<Float32Array> => source.readFloat32(key);
    const features: Record<string, Float32Array> = {};
    for (const level of Object.keys(config.pictures.featureStride)) features[level] = await read(`feature.${level}`);
    const masks = parseNpy(`${name}.masks.npy`, gunzipSync(await readFile(join(DETECTION_FIXTURES, "expected", `${name}.masks.npy.gz`))));
    const [, , height, width] = masks.shape as [number, number, number, number];
    const detections = async (prefix: string): Promise<Detections> => ({
      boxes: await read(`${prefix}boxes`),
      scores: await read(`${prefix}scores`),
      labels: Int32Array.from(await read(`${prefix}labels`)),
    });
    return {
      name,
      transformedSize: [...(await read("transformedSize"))] as [number, number],
      batchShape: [...(await read("batchShape"))] as [number, number, number, number],
      features,
      proposals: await read("proposals"),
      proposalsStable: Uint8Array.from(await read("proposalsStable")),
      maskrcnn: { ...(await detections("")), masks: { data: masks.data, height, width } },
      fasterrcnn: await detections("fasterrcnn."),
    };
  } finally {
    await source.close();
  }
}

function boxDistance(a: Float32Array, i: number, b: Float32Array, j: number): number {
  let d = 0;
  for (let k = 0; k < 4; k++) d = Math.max(d, Math.abs(a[4 * i + k]! - b[4 * j + k]!));
  return d;
}

/**
 * Pairs each expected box with a distinct box of fxc's: same label (when given), score within
 * `scoreTolerance`, corners within `boxTolerance` pixels. The pairing is order-free because two
 * boxes whose scores differ by less than the engines' rounding may come out in either order (the
 * fixture script checked that no detection, only the order, hangs on such a tie); the bounds are the
 * issue's, for every box. With `required`, only those expected boxes must be paired (the RPN
 * proposals a near tie can swap for a neighbour, found by make_detection.py's perturbed runs). Returns got's index for each expected box, or a message naming the first
 * box without a partner.
 */
export function pairBoxes(
  expected: { readonly boxes: Float32Array; readonly scores?: Float32Array; readonly labels?: Int32Array },
  got: { readonly boxes: Float32Array; readonly scores?: Float32Array; readonly labels?: Int32Array },
  tolerance: { readonly box: number; readonly score?: number },
  /** Expected boxes that need a partner (all by default); the others may be missing, and as many of got's may be extra. */
  required?: Uint8Array,
): { readonly pairs: Int32Array; readonly outOfOrder: number; readonly unpaired: number } | string {
  const n = expected.boxes.length / 4;
  const m = got.boxes.length / 4;
  const optional = required === undefined ? 0 : required.reduce((count, r) => count + (r ? 0 : 1), 0);
  if (Math.abs(n - m) > optional) return `${m} boxes, torchvision has ${n}${optional > 0 ? ` (${optional} of them may be swapped by a near tie)` : ""}`;
  // got's boxes by x1, so that each expected box looks only at boxes whose x1 is within the tolerance.
  const byX1 = Array.from({ length: m }, (_, j) => j).sort((a, b) => got.boxes[4 * a]! - got.boxes[4 * b]!);
  const x1s = byX1.map((j) => got.boxes[4 * j]!);
  const used = new Uint8Array(m);
  const pairs = new Int32Array(n).fill(-1);
  let outOfOrder = 0;
  let unpaired = 0;
  const fits = (i: number, j: number): boolean =>
    !used[j] &&
    (expected.labels === undefined || expected.labels[i] === got.labels![j]) &&
    (expected.scores === undefined || Math.abs(expected.scores[i]! - got.scores![j]!) <= tolerance.score!) &&
    boxDistance(expected.boxes, i, got.boxes, j) <= tolerance.box;
  for (let i = 0; i < n; i++) {
    let best = fits(i, i) ? i : -1;
    if (best < 0) {
      const x1 = expected.boxes[4 * i]!;
      let lo = 0;
      let hi = m;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x1s[mid]! < x1 - tolerance.box) lo = mid + 1;
        else hi = mid;
      }
      let bestDistance = Number.POSITIVE_INFINITY;
      for (let k = lo; k < m && x1s[k]! <= x1 + tolerance.box; k++) {
        const j = byX1[k]!;
        const d = boxDistance(expected.boxes, i, got.boxes, j);
        if (fits(i, j) && d < bestDistance) [best, bestDistance] = [j, d];
      }
      if (best >= 0) outOfOrder++;
    }
    if (best < 0 && required !== undefined && !required[i]) {
      unpaired++;
      continue;
    }
    if (best < 0) {
      const b = Array.from(expected.boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(2)).join(", ");
      const what = expected.scores === undefined ? "" : ` score ${expected.scores[i]!.toFixed(6)}${expected.labels === undefined ? "" : ` label ${expected.labels[i]}`}`;
      return `torchvision's box ${i} [${b}]${what} has no partner within ${tolerance.box} px${tolerance.score === undefined ? "" : ` and ${tolerance.score} in score`}; fxc's box ${i} is [${Array.from(got.boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(2)).join(", ")}]${got.scores === undefined ? "" : ` score ${got.scores[i]?.toFixed(6)}`}`;
    }
    used[best] = 1;
    pairs[i] = best;
  }
  return { pairs, outOfOrder, unpaired };
}

/** The largest |score difference| and box corner difference (pixels) over paired detections. */
export function pairedDifferences(expected: Detections, got: Detections, pairs: Int32Array): { score: number; box: number } {
  let score = 0;
  let box = 0;
  pairs.forEach((j, i) => {
    if (j < 0) return;
    score = Math.max(score, Math.abs(expected.scores[i]! - got.scores[j]!));
    box = Math.max(box, boxDistance(expected.boxes, i, got.boxes, j));
  });
  return { score, box };
}

/** Masks of paired detections: mean |difference| over every pixel, and the share of pixels on the same side of 0.5. */
export function compareMasks(expected: NonNullable<Detections["masks"]>, got: NonNullable<Detections["masks"]>, pairs: Int32Array): { meanAbsolute: number; agreement: number } {
  const plane = expected.height * expected.width;
  let sum = 0;
  let agree = 0;
  for (let i = 0; i < pairs.length; i++) {
    const e = expected.data.subarray(i * plane, (i + 1) * plane);
    const g = got.data.subarray(pairs[i]! * plane, (pairs[i]! + 1) * plane);
    for (let p = 0; p < plane; p++) {
      sum += Math.abs(e[p]! - g[p]!);
      if (e[p]! > 0.5 === g[p]! > 0.5) agree++;
    }
  }
  const total = Math.max(pairs.length * plane, 1);
  return { meanAbsolute: sum / total, agreement: agree / total };
}

/**
 * Runs `detector` (the fixture's MaskRCNN, TinyMaskRCNN, loaded from DETECTION_WEIGHTS) on the
 * fixture's pictures in one batch and asserts torchvision's outputs within the issue's bounds (see
 * test/e2e/detection-maskrcnn.test.ts for how near ties are handled); reports the differences as diagnostics.
 */
export async function assertMaskRCNNEqualsTorchvision(t: TestContext, detector: Detector): Promise<void> {
  const config = tinyDetectorConfig();
  const names = pictureNames(config);
  const pictures = await Promise.all(names.map(pictureTensor));
  const results = await detector.detect(pictures, { intermediates: true });
  assert.equal(results.length, names.length);
  for (const [index, name] of names.entries()) {
    const expected = await expectedDetections(name, config);
    const got = results[index]!;
    const picture = pictures[index]!;
    const inter = got.intermediates;
    assert.ok(inter !== undefined, "intermediates were asked for");
    assert.deepEqual(inter.transformedSize, expected.transformedSize, `${name}: transformed size`);
    assert.deepEqual(inter.batchShape, expected.batchShape, `${name}: padded batch shape`);
    const featureError = checkFeatures(name, inter.features, expected, config);
    t.diagnostic(`${name}: FPN levels' largest relative error ${featureError.toExponential(2)}`);
    const [th, tw] = expected.transformedSize;
    const proposals = pairBoxes({ boxes: expected.proposals }, { boxes: inter.proposals }, { box: BOX_TOLERANCE * Math.max(th, tw) }, expected.proposalsStable);
    assert.ok(typeof proposals !== "string", `${name}: RPN proposals: ${String(proposals)}`);

    const boxTolerance = BOX_TOLERANCE * Math.max(picture.height, picture.width);
    const paired = pairBoxes(expected.maskrcnn, got, { box: boxTolerance, score: SCORE_TOLERANCE });
    // Where the bounds fail, how far off in order (the worst pair by position) says whether it is rounding or a defect.
    if (typeof paired === "string" && got.scores.length === expected.maskrcnn.scores.length) {
      const byPosition = pairedDifferences(expected.maskrcnn, got, Int32Array.from(got.scores, (_, i) => i));
      t.diagnostic(`${name}: by position, largest differences: score ${byPosition.score.toExponential(2)}, box ${byPosition.box.toExponential(2)} px`);
    }
    assert.ok(typeof paired !== "string", `${name}: detections: ${String(paired)}`);
    assert.ok(got.masks !== undefined, `${name}: MaskRCNN returns masks`);
    assert.deepEqual([got.masks.height, got.masks.width], [picture.height, picture.width], `${name}: masks are pasted into the picture`);
    const masks = compareMasks(expected.maskrcnn.masks, got.masks, paired.pairs);
    const differences = pairedDifferences(expected.maskrcnn, got, paired.pairs);
    assert.ok(masks.meanAbsolute <= MASK_MEAN_TOLERANCE, `${name}: masks' mean absolute difference ${masks.meanAbsolute.toExponential(2)} > ${MASK_MEAN_TOLERANCE}`);
    assert.ok(masks.agreement >= MASK_AGREEMENT, `${name}: binarized masks agree on ${(100 * masks.agreement).toFixed(4)}% of pixels < ${100 * MASK_AGREEMENT}%`);
    t.diagnostic(
      `${name}: ${expected.maskrcnn.scores.length} detections (${paired.outOfOrder} paired out of order; largest differences: score ${differences.score.toExponential(2)}, box ${differences.box.toExponential(2)} px), ${expected.proposals.length / 4} proposals (${proposals.outOfOrder} out of order, ${proposals.unpaired} swapped by a near tie); masks: mean |diff| ${masks.meanAbsolute.toExponential(2)}, agreement ${(100 * masks.agreement).toFixed(4)}%`,
    );
  }
}

/** Checks every FPN level against torchvision's and gives the largest relative error. */
function checkFeatures(name: string, features: Readonly<Record<string, { data: Float32Array; shape: readonly number[] }>>, expected: ExpectedDetections, config: TinyDetectorConfig): number {
  let largest = 0;
  assert.deepEqual(Object.keys(features).sort(), Object.keys(expected.features).sort(), `${name}: FPN levels`);
  for (const [level, want] of Object.entries(expected.features)) {
    const map = features[level]!;
    assert.equal(map.shape[0], 1, `${name}: level ${level} is this picture's map alone`);
    const error = relativeError(strideRowsAndColumns(map.data, map.shape, config.pictures.featureStride[level]!), want);
    assert.ok(error <= FEATURE_TOLERANCE, `${name}: FPN level ${level} relative error ${error.toExponential(2)} > ${FEATURE_TOLERANCE}`);
    largest = Math.max(largest, error);
  }
  return largest;
}
