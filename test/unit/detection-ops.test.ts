import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import {
  anchorsForImage,
  batchImages,
  batchedNms,
  batchedNmsCoordinateTrick,
  batchedNmsVanilla,
  boxArea,
  BoxCoder,
  boxIou,
  clipBoxesToImage,
  DetectionInputError,
  generateAnchors,
  multiScaleRoIAlign,
  nms,
  normalizeImage,
  pasteMasksInImage,
  removeSmallBoxes,
  resizeBoxes,
  resizedSize,
  resizeImage,
  roiAlign,
  topk,
  type BoxCoderWeights,
  type FeatureMap,
  type ImageTensor,
  type Nchw,
} from "../../runtime/detection/index.js";
import { FIXTURES } from "../support/fixtures.js";

/** An array as make_detection_ops.py stores it: little-endian float32 or int64 bytes in base64. */
interface Stored {
  readonly dtype: "f4" | "i8";
  readonly shape: number[];
  readonly b64: string;
}
type Case = Record<string, unknown>;

const ops = JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "detection", "ops.json.gz"))).toString("utf8")) as Record<string, unknown>;
const cases = (op: string): Case[] => ops[op] as Case[];

function floats(s: unknown): Float32Array {
  const a = s as Stored;
  assert.equal(a.dtype, "f4");
  const bytes = Buffer.from(a.b64, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function ints(s: unknown): Int32Array {
  const a = s as Stored;
  assert.equal(a.dtype, "i8");
  const bytes = Buffer.from(a.b64, "base64");
  const wide = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return Int32Array.from(wide, Number);
}

const shape = (s: unknown): number[] => (s as Stored).shape;
const nchw = (s: unknown): Nchw => shape(s) as unknown as Nchw;

/** Every value within 1e-5 of the expected array's largest magnitude (the bound the op fixtures hold to). */
function assertClose(actual: Float32Array, expected: Float32Array, what: string, relative = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const bound = relative * Math.max(scale, 1e-30);
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  assert.ok(worst <= bound, `${what}: value ${at} is ${actual[at]}, torchvision's ${expected[at]} (difference ${worst} > ${bound})`);
}

const sameInts = (actual: Int32Array, expected: Int32Array, what: string): void => assert.deepEqual([...actual], [...expected], what);

test("box area, IoU, clipping and small-box removal equal torchvision.ops'", () => {
  for (const c of cases("boxes")) {
    const a = floats(c.a), b = floats(c.b);
    assertClose(boxArea(a), floats(c.area), "box_area");
    assertClose(boxIou(a, b), floats(c.iou), "box_iou");
    assertClose(clipBoxesToImage(a, c.size as [number, number]), floats(c.clipped), "clip_boxes_to_image");
    sameInts(removeSmallBoxes(floats(c.small), c.minSize as number), ints(c.keptSmall), "remove_small_boxes");
  }
});

test("removeSmallBoxes compares in float32 as torch: a side of float32(0.7) is not smaller than min size 0.7", () => {
  // torchvision: remove_small_boxes(tensor([[0, 0, 0.7, 0.7], [0, 0, 0.69, 5]]), 0.7) == tensor([0])
  sameInts(removeSmallBoxes(Float32Array.from([0, 0, 0.7, 0.7, 0, 0, 0.69, 5]), 0.7), Int32Array.from([0]), "kept");
});

test("nms keeps torchvision's indices in its order, exact ties included (its stable sort puts the lower index first)", () => {
  for (const c of cases("nms")) {
    sameInts(nms(floats(c.boxes), floats(c.scores), c.iouThreshold as number), ints(c.keep), `nms at ${c.iouThreshold}`);
  }
});

test("batchedNms takes torchvision's CPU path by size, and each path alone gives torchvision's indices", () => {
  // The fixtures' scores are distinct, so the vanilla path's final sort by score has no tie to order.
  const paths = new Set<string>();
  for (const c of cases("batchedNms")) {
    const args = [floats(c.boxes), floats(c.scores), ints(c.idxs), c.iouThreshold as number] as const;
    const n = args[0].length / 4;
    paths.add(c.path as string);
    sameInts(batchedNms(...args), ints(c.keep), `batched_nms of ${n} boxes (${c.path})`);
    const [own, other] = c.path === "trick" ? [batchedNmsCoordinateTrick, batchedNmsVanilla] : [batchedNmsVanilla, batchedNmsCoordinateTrick];
    sameInts(own(...args), ints(c.keep), `${c.path} path of ${n} boxes`);
    sameInts(other(...args), ints(c.keepOtherPath), `the other path of ${n} boxes`);
  }
  assert.deepEqual([...paths].sort(), ["trick", "vanilla"]);
});

test("topk returns torch.topk's indices in decreasing order, k beyond the length taking all", () => {
  for (const c of cases("topk")) sameInts(topk(floats(c.values), c.k as number), ints(c.indices), `topk k=${c.k}`);
});

test("topk's rule for ties and NaN: NaN first (as torch's sort), then larger values, equal values by lower index", () => {
  const values = Float32Array.from([1, 5, NaN, 5, 2, 5, NaN, 0]);
  assert.deepEqual([...topk(values, 6)], [2, 6, 1, 3, 5, 4]);
  assert.deepEqual([...topk(values, 3)], [2, 6, 1]);
  // Ties at the cut: the lowest indices of the tied value make it in.
  assert.deepEqual([...topk(Float32Array.from([3, 7, 3, 3, 9]), 3)], [4, 1, 0]);
  assert.deepEqual([...topk(values, 0)], []);
  assert.throws(() => topk(values, 1.5), DetectionInputError);
});

test("topk equals a full stable sort by the same rule on values with many ties and a few NaN", () => {
  let seed = 3;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const [n, k, distinct] of [[5000, 700, 4], [1000, 10, 50], [300, 299, 2], [64, 64, 1]] as const) {
    const values = Float32Array.from({ length: n }, () => Math.floor(random() * distinct));
    for (let i = 0; i < 3; i++) values[Math.floor(random() * n)] = NaN;
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const rank = (i: number): number => (Number.isNaN(values[i]) ? Infinity : values[i]!);
    const expected = all.sort((a, b) => rank(b) - rank(a) || a - b).slice(0, k);
    sameInts(topk(values, k), expected, `${n} values, ${distinct} distinct, k=${k}`);
  }
});

test("BoxCoder decodes and encodes as torchvision's, weights (1,1,1,1) and (10,10,5,5), huge dw and dh clipped", () => {
  for (const c of cases("boxCoder")) {
    const coder = new BoxCoder(c.weights as BoxCoderWeights);
    const decoded = coder.decode(floats(c.codes), floats(c.boxes), c.perBox as number);
    assert.ok(decoded.every(Number.isFinite), "the clip keeps exp finite");
    assertClose(decoded, floats(c.decoded), `decode with weights ${c.weights}`);
    assertClose(coder.encode(floats(c.targets), floats(c.boxes)), floats(c.encoded), `encode with weights ${c.weights}`);
  }
});

test("anchors equal AnchorGenerator's: rounded cell anchors, 5 levels over a padded 2-image batch with uneven strides", () => {
  for (const c of cases("anchors")) {
    const sizes = c.sizes as number[][], ratios = c.aspectRatios as number[][];
    (c.cellAnchors as unknown[]).forEach((cell, level) => assertClose(generateAnchors(sizes[level]!, ratios[level]!), floats(cell), `cell anchors of level ${level}`, 0));
    const anchors = anchorsForImage(c.imageSize as [number, number], c.featureSizes as [number, number][], sizes, ratios);
    assertClose(anchors, floats(c.anchors), "anchors", 0);
  }
});

test("roiAlign equals torchvision's CPU kernel: scales, fixed and adaptive sampling, aligned, boxes across the border", () => {
  const { input, cases: aligns } = ops.roiAlign as { input: Stored; cases: Case[] };
  for (const c of aligns) {
    const out = roiAlign(floats(input), nchw(input), floats(c.rois), c.outputSize as [number, number], c.spatialScale as number, c.samplingRatio as number, c.aligned as boolean);
    assertClose(out, floats(c.output), `roi_align scale ${c.spatialScale} sampling ${c.samplingRatio} aligned ${c.aligned}`);
  }
});

test("multiScaleRoIAlign equals MultiScaleRoIAlign on 4 levels and 2 images of different sizes", () => {
  const m = ops.multiScaleRoIAlign as { features: Stored[]; boxes: Stored[]; imageSizes: [number, number][]; cases: Case[] };
  const features: FeatureMap[] = m.features.map((f) => ({ data: floats(f), shape: nchw(f) as FeatureMap["shape"] }));
  for (const c of m.cases) {
    const out = multiScaleRoIAlign(features, m.boxes.map(floats), m.imageSizes, c.outputSize as [number, number], c.samplingRatio as number, c.canonicalScale as number);
    assertClose(out, floats(c.output), `canonical scale ${c.canonicalScale}`);
  }
});

test("pasteMasksInImage equals paste_masks_in_image, boxes partly outside the image, paddings 1 and 2", () => {
  for (const c of cases("pasteMasks")) {
    const out = pasteMasksInImage(floats(c.masks), c.maskSize as number, floats(c.boxes), c.imageSize as [number, number], c.padding as number);
    assertClose(out, floats(c.output), `padding ${c.padding}`);
  }
});

test("normalize, resize and batch equal GeneralizedRCNNTransform's on 3 sizes incl. a portrait one", () => {
  for (const c of cases("transform")) {
    const [minSize, maxSize] = [c.minSize as number, c.maxSize as number];
    const resized: ImageTensor[] = (c.images as Stored[]).map((s) => {
      const [channels, height, width] = s.shape as [number, number, number];
      const normalized = normalizeImage(floats(s), c.mean as number[], c.std as number[]);
      const r = resizeImage(normalized, [height, width], minSize, maxSize);
      return { data: r.data, channels, height: r.height, width: r.width };
    });
    assert.deepEqual(resized.map((r) => [r.height, r.width]), c.imageSizes);
    const batch = batchImages(resized);
    assert.deepEqual(batch.shape, shape(c.batch));
    assertClose(batch.data, floats(c.batch), "batched images");
    for (const [h, w, min, max, outH, outW] of c.sizeRule as number[][]) assert.deepEqual(resizedSize([h!, w!], min!, max!), [outH, outW], `${h} × ${w}`);
    assertClose(resizeBoxes(floats(c.boxes), c.boxesFrom as [number, number], c.boxesTo as [number, number]), floats(c.resizedBoxes), "resize_boxes");
  }
});

test("bad arrays are refused with one line naming the problem and the fix", () => {
  const oneLine = (fn: () => unknown, pattern: RegExp): void =>
    assert.throws(fn, (e: unknown) => e instanceof DetectionInputError && !e.message.includes("\n") && pattern.test(e.message));
  oneLine(() => nms(new Float32Array(6), new Float32Array(1), 0.5), /not a list of .* boxes; pass 4 values per box/);
  oneLine(() => nms(new Float32Array(8), new Float32Array(1), 0.5), /2 boxes but 1 scores/);
  oneLine(() => roiAlign(new Float32Array(10), [1, 1, 3, 3], new Float32Array(5), [7, 7], 1, 2, false), /do not fill the shape/);
  oneLine(() => roiAlign(new Float32Array(9), [1, 1, 3, 3], Float32Array.from([1, 0, 0, 1, 1]), [7, 7], 1, 2, false), /batch index 1/);
  oneLine(() => pasteMasksInImage(new Float32Array(10), 3, new Float32Array(4), [5, 5]), /not 1 masks of 3 × 3/);
  oneLine(() => new BoxCoder([1, 1, 1, 1]).decode(new Float32Array(8), new Float32Array(4), 1), /8 codes do not hold 1 groups of 4/);
  oneLine(() => resizeImage(new Float32Array(2000), [1, 2000], 800, 1333), /resizes to 0 × 1333; pass/);
  oneLine(() => batchImages([]), /no images/);
});

test("runtime/detection reaches neither tfjs nor models/ nor compiler/ through its imports (the contract's layering)", () => {
  const root = join(FIXTURES, "..", "..");
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)) {
      assert.ok(spec!.startsWith(".") || spec!.startsWith("node:"), `${file} imports the package ${spec}`);
      if (spec!.startsWith(".")) visit(join(file, "..", spec!.replace(/\.js$/, ".ts")));
    }
  };
  visit(join(root, "runtime", "detection", "index.ts"));
  const outside = [...seen].filter((f) => !f.startsWith(join(root, "runtime")));
  assert.deepEqual(outside, []);
  assert.ok(seen.size > 5, "the walk followed the imports");
});
