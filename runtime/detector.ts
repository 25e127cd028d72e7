import { createExtractor, engineReport, type EngineReport, type Extractor, type ExtractorModule, type LoadOptions, type WeightsInput } from "./extractor.js";
import { FxcError } from "./errors.js";
import { shapeOfEntry } from "./params.js";
import { tf, type Tensor } from "./ops/tf.js";
import { openWeights, withPrefix } from "./weights/open.js";
import { WeightsError, type TensorSource } from "./weights/types.js";
import { anchorsForImage } from "./detection/anchors.js";
import { BoxCoder, type BoxCoderWeights } from "./detection/boxCoder.js";
import { clipBoxesToImage, removeSmallBoxes, selectBoxes } from "./detection/boxes.js";
import { pasteMasksInImage } from "./detection/masks.js";
import { batchedNms } from "./detection/nms.js";
import { defaultRoIAlignThreads, roiAlignThreads } from "./detection/roiAlignThreads.js";
import { topk } from "./detection/topk.js";
import { batchImages, normalizeImage, resizeBoxes, resizeImage } from "./detection/transform.js";
import type { DetectionMasks, Detections, FeatureMap, ImageTensor } from "./detection/types.js";

/**
 * torchvision's GeneralizedRCNN eval forward over stages compiled elsewhere: a generated detector
 * module (`fxc compile maskrcnn_resnet50_fpn`) gives its stages as written code, the compiler's
 * createDetector compiles them at load time; both run this. The dense stages run on the chosen
 * engine: the backbone with its FPN and the RPN head on the padded batch, the box head and
 * predictor over the R pooled regions, the mask head and predictor likewise (R the free batch).
 * What depends on the data (resize, anchors, top-n, NMS, RoIAlign, decoding, mask pasting) runs
 * runtime/detection's kernels (which use no tfjs) between them, in torchvision's order, reading the model's configuration
 * as plain data (DetectorConfiguration).
 */

/** MultiScaleRoIAlign's settings. */
export interface RoIPoolConfiguration {
  readonly featmapNames: readonly string[];
  readonly outputSize: readonly [number, number];
  readonly samplingRatio: number;
  readonly canonicalScale: number;
  readonly canonicalLevel: number;
}

/** What a GeneralizedRCNN's eval forward reads besides its weights, with torchvision's names in camel case. */
export interface DetectorConfiguration {
  /** GeneralizedRCNNTransform in eval mode: `minSize` is the last of torchvision's min_size. */
  readonly transform: {
    readonly imageMean: readonly number[];
    readonly imageStd: readonly number[];
    readonly minSize: number;
    readonly maxSize: number;
    readonly sizeDivisible: number;
  };
  /** RegionProposalNetwork with its AnchorGenerator; top-n are the testing values. */
  readonly rpn: {
    readonly anchorSizes: readonly (readonly number[])[];
    readonly aspectRatios: readonly (readonly number[])[];
    readonly boxCoderWeights: BoxCoderWeights;
    readonly preNmsTopN: number;
    readonly postNmsTopN: number;
    readonly nmsThresh: number;
    readonly scoreThresh: number;
    readonly minSize: number;
  };
  /** RoIHeads: pooling, box decoding and postprocess_detections; `maskRoIPool` null for Faster R-CNN. */
  readonly roiHeads: {
    readonly boxRoIPool: RoIPoolConfiguration;
    readonly maskRoIPool: RoIPoolConfiguration | null;
    readonly boxCoderWeights: BoxCoderWeights;
    readonly scoreThresh: number;
    readonly nmsThresh: number;
    readonly detectionsPerImg: number;
    readonly minBoxSize: number;
  };
  /** The FPN's channels: the pooled regions are outChannels × outputSize. */
  readonly outChannels: number;
}

/** The output key of a stage's `index`th returned value: stages return `out0`, `out1`, ... in their forward's order. */
export const stageOutputKey = (index: number): string => `out${index}`;

/** A compiled stage as the engines load it; its forward returns `out0`, `out1`, ... (stageOutputKey). */
export type StageModule = ExtractorModule<unknown, Tensor>;

/** The backbone (FPN included) and the RPN head: per level, the feature map, objectness and box deltas (3 outputs a level). */
export interface FeatureStage {
  readonly module: StageModule;
  /** The backbone's levels in its dict's order ("0" ... "pool"). */
  readonly levels: readonly string[];
}

/** The stages a detector runs (each renames the checkpoint's older keys it reads by its own keyRenames). */
export interface DetectorDefinition {
  readonly configuration: DetectorConfiguration;
  /**
   * The feature stage: one for every padded size (a fully convolutional backbone, as torchvision's),
   * or, for a backbone whose program follows the size, a function giving the stage of a padded
   * NCHW batch shape and the key of the sizes that share it.
   */
  readonly features: FeatureStage | ((batchShape: readonly [number, number, number, number]) => FeatureStage & { readonly key: string });
  /** Box head and predictor: class logits [R, K] and box deltas [R, 4K] from R pooled regions. */
  readonly box: StageModule;
  /** Mask head and predictor (Mask R-CNN): mask logits [R, K, M, M]. */
  readonly mask?: StageModule;
}

/** A detection of one image, plus (when asked) what torchvision computes on the way. */
export type DetectionResult = Detections & { intermediates?: DetectionIntermediates };

export interface DetectionIntermediates {
  /** The image's size after GeneralizedRCNNTransform's resize, [h, w]. */
  readonly transformedSize: [number, number];
  /** The padded batch the backbone ran on, [n, c, h, w]. */
  readonly batchShape: [number, number, number, number];
  /** The backbone's levels for this image (n = 1), by name ("0" ... "pool"). */
  readonly features: Record<string, FeatureMap>;
  /** The RPN's proposals for this image (k × 4, in the resized image's pixels). */
  readonly proposals: Float32Array;
}

export interface DetectOptions {
  /** Also return the transformed size, batch shape, FPN features and RPN proposals of each image. */
  readonly intermediates?: boolean;
}

export interface DetectorLoadOptions extends LoadOptions {
  /**
   * How many padded batch sizes keep their compiled backbone loaded (default 4), for a backbone
   * whose program depends on the input size (torchvision's do not: theirs is compiled and loaded
   * once for every size). Each holds its own copy of the backbone and RPN head weights; the least
   * recently used is dropped beyond this, and compiled and loaded again when it returns.
   */
  readonly cachedSizes?: number;
  /**
   * Threads that pool the regions (MultiScaleRoIAlign), this one included: default the cores, at
   * most 8; 1 pools in this thread. Only the wall time changes: the results are the same.
   */
  readonly roiAlignThreads?: number;
  /**
   * torchvision's `box_score_thresh` (RoIHeads.score_thresh), in [0, 1]: boxes scoring above it go
   * on to NMS and the detections. Default: the model's (0.05 for torchvision's builders).
   */
  readonly scoreThreshold?: number;
}

/** A loaded detector; `engine` and the rest say what runs its dense stages, as an Extractor says them. */
export interface Detector<D extends DetectionResult = DetectionResult> extends EngineReport {
  /** Runs the detector on images (C × H × W floats in [0, 1], as torchvision takes them); one result per image. */
  detect(images: readonly ImageTensor[], options?: DetectOptions): Promise<D[]>;
  /** Frees every stage's weights and closes the checkpoint. */
  dispose(): void;
}

/** A detector's input or configuration that it cannot run, said in one line with the fix. */
export class DetectorError extends FxcError {
  override readonly name = "DetectorError";
}

/** The tensors whose first dimension counts the classes, and how many classes that dimension means. */
const CLASS_TENSORS: readonly { readonly key: string; readonly classes: (dim0: number) => number }[] = [
  { key: "roi_heads.box_predictor.cls_score.weight", classes: (d) => d },
  { key: "roi_heads.box_predictor.cls_score.bias", classes: (d) => d },
  { key: "roi_heads.box_predictor.bbox_pred.weight", classes: (d) => d / 4 },
  { key: "roi_heads.box_predictor.bbox_pred.bias", classes: (d) => d / 4 },
  { key: "roi_heads.mask_predictor.mask_fcn_logits.weight", classes: (d) => d },
  { key: "roi_heads.mask_predictor.mask_fcn_logits.bias", classes: (d) => d },
];

/** A checkpoint for another number of classes, said with the key, both shapes and numClasses as the fix. */
function checkClasses(stages: readonly StageModule[], source: TensorSource): void {
  const expected = new Map(stages.flatMap((stage) => Object.entries(stage.checkpoint).map(([key, entry]) => [key, shapeOfEntry(entry)] as const)));
  for (const { key, classes } of CLASS_TENSORS) {
    const want = expected.get(key);
    const got = source.info(key)?.shape;
    if (want === undefined || got === undefined || got.join(",") === want.join(",")) continue;
    const numClasses = classes(got[0]!);
    throw new WeightsError(
      source.path,
      `tensor '${key}' has shape [${got.join(", ")}], expected [${want.join(", ")}]: the checkpoint is for ${numClasses} classes, the model for ${classes(want[0]!)}`,
      `build the model with numClasses: ${numClasses}`,
    );
  }
}

/** A score threshold outside [0, 1], said with the fix. */
function checkScoreThreshold(threshold: number): void {
  if (!(Number.isFinite(threshold) && threshold >= 0 && threshold <= 1)) {
    throw new DetectorError(`scoreThreshold ${threshold} is not in [0, 1]; give a score between 0 and 1, such as 0.05 (torchvision's box_score_thresh)`);
  }
}

const f32 = Math.fround;
const sigmoid = (x: number): number => f32(1 / (1 + Math.exp(-x)));

/** One image's plane of an NCHW batch. */
function imageOf(map: { data: Float32Array; shape: readonly number[] }, n: number): Float32Array {
  const per = map.shape.slice(1).reduce((a, b) => a * b, 1);
  return map.data.subarray(n * per, (n + 1) * per);
}

/** torchvision's permute_and_flatten for one image: [A*C, H, W] to [H, W, A, C] flattened. */
function flattenPerLocation(data: Float32Array, anchors: number, channels: number, height: number, width: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = height * width;
  let o = 0;
  for (let p = 0; p < plane; p++) for (let a = 0; a < anchors; a++) for (let c = 0; c < channels; c++) out[o++] = data[(a * channels + c) * plane + p]!;
  return out;
}

function pick(values: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length);
  indices.forEach((i, k) => (out[k] = values[i]!));
  return out;
}

function indicesWhere(values: Float32Array, keep: (value: number) => boolean): Int32Array {
  const out: number[] = [];
  values.forEach((v, i) => keep(v) && out.push(i));
  return Int32Array.from(out);
}

function pickInts(values: Int32Array, indices: Int32Array): Int32Array {
  const out = new Int32Array(indices.length);
  indices.forEach((i, k) => (out[k] = values[i]!));
  return out;
}

function checkImages(images: readonly ImageTensor[], channels: number): void {
  if (images.length === 0) throw new DetectorError("detect got no images; pass at least one C × H × W image");
  images.forEach((im, i) => {
    if (!(im.data instanceof Float32Array) || im.data.length !== im.channels * im.height * im.width || !(im.height > 0 && im.width > 0)) {
      throw new DetectorError(`image ${i} holds ${im.data?.length} values, not ${im.channels} × ${im.height} × ${im.width}; pass C × H × W float32 data`);
    }
    if (im.channels !== channels) throw new DetectorError(`image ${i} has ${im.channels} channels, the model normalizes ${channels} (imageMean); pass RGB images, C × H × W`);
  });
}

/** The number of a load option that must be a whole number >= 1, said with what it means. */
function checkCount(value: number, name: string, meaning: string): void {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw new DetectorError(`${name} ${value} is not a whole number >= 1; give ${meaning}`);
}

/** A small map kept in recency order: the least recently used entry is dropped beyond `capacity`. */
class LruCache<V> {
  private readonly entries = new Map<string, V>();
  constructor(
    private readonly capacity: number,
    private readonly drop: (value: V) => void,
  ) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const [oldest, old] = this.entries.entries().next().value as [string, V];
      this.entries.delete(oldest);
      this.drop(old);
    }
  }

  clear(): void {
    for (const v of this.entries.values()) this.drop(v);
    this.entries.clear();
  }
}

/** A stage loaded on an engine: runs an NCHW float batch, returns its `outputs` values as host floats with their shapes. */
interface LoadedStage {
  run(data: Float32Array, shape: readonly number[]): Promise<{ data: Float32Array; shape: number[] }[]>;
  dispose(): void;
  readonly extractor: Extractor<unknown, Tensor>;
}

async function loadStage(module: StageModule, outputs: number, weights: TensorSource, options: LoadOptions): Promise<LoadedStage> {
  const extractor = await createExtractor(module, weights, options);
  const keys = Array.from({ length: outputs }, (_, i) => stageOutputKey(i));
  return {
    extractor,
    async run(data, shape) {
      const x = tf.tensor(data, [...shape], "float32");
      try {
        const values = (await extractor.run(x)) as Readonly<Record<string, Tensor>>;
        try {
          return await Promise.all(keys.map(async (key) => ({ data: (await values[key]!.data()) as Float32Array, shape: values[key]!.shape })));
        } finally {
          tf.dispose(Object.values(values));
        }
      } finally {
        x.dispose();
      }
    },
    dispose: () => extractor.dispose(),
  };
}

/** The feature stage's key when one program serves every padded size. */
const ANY_SIZE = "any";

/**
 * Loads a detector's stages from the weights (a torchvision checkpoint path, or tensors already
 * opened) on the chosen engine, and returns it: `detect(images)` is torchvision's eval forward.
 * The box and mask stages load now; the feature stage at the first detect (for a backbone
 * compiled per size, at each new padded size).
 */
export async function loadDetector<D extends DetectionResult = DetectionResult>(definition: DetectorDefinition, weights: WeightsInput, options: DetectorLoadOptions = {}): Promise<Detector<D>> {
  const { configuration: config } = definition;
  const { cachedSizes = 4, roiAlignThreads: threads = defaultRoIAlignThreads(), scoreThreshold = config.roiHeads.scoreThresh, ...loadOptions } = options;
  checkCount(cachedSizes, "cachedSizes", "how many padded sizes keep their backbone loaded (default 4)");
  checkCount(threads, "roiAlignThreads", "how many threads pool the regions (1: this one only)");
  checkScoreThreshold(scoreThreshold);
  const heads = { ...config.roiHeads, scoreThresh: scoreThreshold };
  const features = typeof definition.features === "function" ? definition.features : (): FeatureStage & { readonly key: string } => ({ ...(definition.features as FeatureStage), key: ANY_SIZE });
  const opened = typeof weights === "string" ? await openWeights(weights, { prefix: loadOptions.prefix }) : weights;
  const prefixed = typeof weights !== "string" && loadOptions.prefix ? withPrefix(opened, loadOptions.prefix) : opened;
  const source = prefixed;
  // The prefix is applied once, here; each stage renames the older keys it reads (its keyRenames) in this view.
  const stageOptions: LoadOptions = { ...loadOptions, prefix: undefined };
  let boxLoaded: LoadedStage | undefined;
  let maskLoaded: LoadedStage | undefined;
  const dense = new LruCache<Promise<LoadedStage>>(cachedSizes, (p) => void p.then((s) => s.dispose(), () => {}));
  try {
    checkClasses([definition.box, ...(definition.mask === undefined ? [] : [definition.mask])], source);
    boxLoaded = await loadStage(definition.box, 2, source, stageOptions);
    if (definition.mask !== undefined) maskLoaded = await loadStage(definition.mask, 1, source, stageOptions);
  } catch (e) {
    boxLoaded?.dispose();
    maskLoaded?.dispose();
    if (typeof weights === "string") await opened.close();
    throw e;
  }
  const box = boxLoaded;
  const mask = maskLoaded;
  const pooling = roiAlignThreads(threads);
  const channels = config.transform.imageMean.length;
  let disposed = false;

  const featuresFor = async (shape: [number, number, number, number]): Promise<{ loaded: LoadedStage; levels: readonly string[] }> => {
    const { key, module, levels } = features(shape);
    const { anchorSizes, aspectRatios } = config.rpn;
    if (anchorSizes.length !== levels.length || aspectRatios.length !== levels.length) {
      throw new DetectorError(
        `Anchors should be Tuple[Tuple[int]] because each feature map could potentially have different sizes and aspect ratios. There needs to be a match between the number of feature maps passed and the number of sizes / aspect ratios specified: the backbone returns ${levels.length} levels (${levels.join(", ")}), the AnchorGenerator has ${anchorSizes.length} sizes; give it one size list per level`,
      );
    }
    let loaded = dense.get(key);
    if (loaded === undefined) {
      loaded = loadStage(module, 3 * levels.length, source, stageOptions);
      dense.set(key, loaded);
      loaded.catch(() => {});
    }
    return { loaded: await loaded, levels };
  };

  const run = async (images: readonly ImageTensor[], intermediates: boolean): Promise<DetectionResult[]> => {
    // GeneralizedRCNNTransform: normalize, resize (eval: the last min size), batch.
    const { transform, rpn } = config;
    const resized = images.map((im) => {
      const normalized = normalizeImage(im.data, transform.imageMean, transform.imageStd);
      const r = resizeImage(normalized, [im.height, im.width], transform.minSize, transform.maxSize);
      return { data: r.data, channels: im.channels, height: r.height, width: r.width };
    });
    const imageSizes = resized.map((r) => [r.height, r.width] as [number, number]);
    const batch = batchImages(resized, transform.sizeDivisible);
    const n = images.length;

    // Backbone + FPN + RPN head on the padded batch.
    const { loaded: denseLoaded, levels } = await featuresFor(batch.shape);
    const outputs = await denseLoaded.run(batch.data, batch.shape);
    const features: FeatureMap[] = levels.map((_, l) => ({ data: outputs[3 * l]!.data, shape: outputs[3 * l]!.shape as FeatureMap["shape"] }));
    const objectness = levels.map((_, l) => outputs[3 * l + 1]!);
    const deltas = levels.map((_, l) => outputs[3 * l + 2]!);

    // AnchorGenerator: the same anchors for every image of the batch.
    const featureSizes = features.map((f) => [f.shape[2], f.shape[3]] as [number, number]);
    const anchors = anchorsForImage([batch.shape[2], batch.shape[3]], featureSizes, rpn.anchorSizes, rpn.aspectRatios);
    const anchorsPerLevel = objectness.map((o) => o.shape[1]! * o.shape[2]! * o.shape[3]!);
    const rpnCoder = new BoxCoder(rpn.boxCoderWeights);

    // RegionProposalNetwork.filter_proposals, per image.
    const proposals = Array.from({ length: n }, (_, i): Float32Array => {
      const candidates: number[] = [];
      const candidateScores: number[] = [];
      const candidateLevels: number[] = [];
      const candidateDeltas: number[] = [];
      let offset = 0;
      objectness.forEach((o, l) => {
        const [, a, h, w] = o.shape as [number, number, number, number];
        const levelScores = flattenPerLocation(imageOf(o, i), a, 1, h, w);
        const levelDeltas = flattenPerLocation(imageOf(deltas[l]!, i), a, 4, h, w);
        const top = topk(levelScores, Math.min(rpn.preNmsTopN, anchorsPerLevel[l]!));
        for (const t of top) {
          candidates.push(offset + t);
          candidateScores.push(levelScores[t]!);
          candidateLevels.push(l);
          for (let c = 0; c < 4; c++) candidateDeltas.push(levelDeltas[4 * t + c]!);
        }
        offset += anchorsPerLevel[l]!;
      });
      const candidateAnchors = selectBoxes(anchors, Int32Array.from(candidates));
      let boxes: Float32Array = clipBoxesToImage(rpnCoder.decode(Float32Array.from(candidateDeltas), candidateAnchors), imageSizes[i]!);
      let scores: Float32Array = Float32Array.from(candidateScores, sigmoid);
      let lvl: Int32Array = Int32Array.from(candidateLevels);
      const keepSmall = removeSmallBoxes(boxes, rpn.minSize);
      [boxes, scores, lvl] = [selectBoxes(boxes, keepSmall), pick(scores, keepSmall), pickInts(lvl, keepSmall)];
      const keepScore = indicesWhere(scores, (s) => s >= rpn.scoreThresh);
      [boxes, scores, lvl] = [selectBoxes(boxes, keepScore), pick(scores, keepScore), pickInts(lvl, keepScore)];
      const keep = batchedNms(boxes, scores, lvl, rpn.nmsThresh).subarray(0, rpn.postNmsTopN);
      return selectBoxes(boxes, keep);
    });

    // RoIHeads: box pooling, head and predictor over every image's proposals at once.
    const pooledFeatures = (names: readonly string[]): FeatureMap[] => levels.flatMap((name, l) => (names.includes(name) ? [features[l]!] : []));
    const pool = (settings: RoIPoolConfiguration, boxes: readonly Float32Array[]): Promise<Float32Array> =>
      pooling.multiScaleRoIAlign(pooledFeatures(settings.featmapNames), boxes, imageSizes, settings.outputSize, settings.samplingRatio, settings.canonicalScale, settings.canonicalLevel);
    const regionShape = (settings: RoIPoolConfiguration, count: number): number[] => [count, features[0]!.shape[1], settings.outputSize[0], settings.outputSize[1]];
    const boxRegions = await pool(heads.boxRoIPool, proposals);
    const totalProposals = proposals.reduce((s, p) => s + p.length / 4, 0);
    const [classLogits, boxRegression] = totalProposals === 0 ? [undefined, undefined] : await box.run(boxRegions, regionShape(heads.boxRoIPool, totalProposals));
    const numClasses = classLogits?.shape[1] ?? 0;
    const boxCoder = new BoxCoder(heads.boxCoderWeights);

    // postprocess_detections, per image.
    let first = 0;
    const detections = proposals.map((imageProposals, i) => {
      const count = imageProposals.length / 4;
      const rows = first;
      first += count;
      if (count === 0 || classLogits === undefined || boxRegression === undefined) return { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) };
      const logits = classLogits.data.subarray(rows * numClasses, (rows + count) * numClasses);
      const regression = boxRegression.data.subarray(rows * numClasses * 4, (rows + count) * numClasses * 4);
      const predBoxes = clipBoxesToImage(boxCoder.decode(regression, imageProposals, numClasses), imageSizes[i]!);
      const candidateBoxes: number[] = [];
      const candidateScores: number[] = [];
      const candidateLabels: number[] = [];
      for (let r = 0; r < count; r++) {
        // F.softmax over the classes, in float32.
        let max = -Infinity;
        for (let k = 0; k < numClasses; k++) max = Math.max(max, logits[r * numClasses + k]!);
        let sum = 0;
        const exps = new Float64Array(numClasses);
        for (let k = 0; k < numClasses; k++) sum += exps[k] = f32(Math.exp(f32(logits[r * numClasses + k]! - max)));
        // The background (class 0) is dropped; boxes, scores and labels row-major over (region, class).
        for (let k = 1; k < numClasses; k++) {
          const score = f32(exps[k]! / f32(sum));
          if (!(score > heads.scoreThresh)) continue;
          const b = 4 * (r * numClasses + k);
          candidateBoxes.push(predBoxes[b]!, predBoxes[b + 1]!, predBoxes[b + 2]!, predBoxes[b + 3]!);
          candidateScores.push(score);
          candidateLabels.push(k);
        }
      }
      let boxes: Float32Array = Float32Array.from(candidateBoxes);
      let scores: Float32Array = Float32Array.from(candidateScores);
      let labels: Int32Array = Int32Array.from(candidateLabels);
      const keepSmall = removeSmallBoxes(boxes, heads.minBoxSize);
      [boxes, scores, labels] = [selectBoxes(boxes, keepSmall), pick(scores, keepSmall), pickInts(labels, keepSmall)];
      const keep = batchedNms(boxes, scores, labels, heads.nmsThresh).subarray(0, heads.detectionsPerImg);
      return { boxes: selectBoxes(boxes, keep), scores: pick(scores, keep), labels: pickInts(labels, keep) };
    });

    // Masks: pooling at the detections, head and predictor, the sigmoid of each label's channel.
    let maskProbs: Float32Array[] | undefined;
    let maskSize = 0;
    if (mask !== undefined && heads.maskRoIPool !== null) {
      const totalDetections = detections.reduce((s, d) => s + d.scores.length, 0);
      const maskRegions = await pool(heads.maskRoIPool, detections.map((d) => d.boxes));
      const [maskLogits] = totalDetections === 0 ? [undefined] : await mask.run(maskRegions, regionShape(heads.maskRoIPool, totalDetections));
      const [, maskClasses, mh, mw] = maskLogits?.shape ?? [0, 0, 0, 0];
      maskSize = mh!;
      if (mh !== mw) throw new DetectorError(`the mask predictor returns ${mh} × ${mw} masks; paste_masks_in_image takes square masks`);
      let row = 0;
      maskProbs = detections.map((d) => {
        const out = new Float32Array(d.labels.length * mh! * mw!);
        d.labels.forEach((label, j) => {
          const from = ((row + j) * maskClasses! + label) * mh! * mw!;
          for (let p = 0; p < mh! * mw!; p++) out[j * mh! * mw! + p] = sigmoid(maskLogits!.data[from + p]!);
        });
        row += d.labels.length;
        return out;
      });
    }

    // transform.postprocess: boxes to the input image's pixels, masks pasted into it.
    return detections.map((d, i): DetectionResult => {
      const original: [number, number] = [images[i]!.height, images[i]!.width];
      const boxes = resizeBoxes(d.boxes, imageSizes[i]!, original);
      const masks: DetectionMasks | undefined =
        maskProbs === undefined ? undefined : { data: d.labels.length === 0 ? new Float32Array(0) : pasteMasksInImage(maskProbs[i]!, maskSize, boxes, original), height: original[0], width: original[1] };
      const result: DetectionResult = { boxes, scores: d.scores, labels: d.labels, ...(masks === undefined ? {} : { masks }) };
      if (intermediates) {
        result.intermediates = {
          transformedSize: imageSizes[i]!,
          batchShape: batch.shape,
          features: Object.fromEntries(levels.map((name, l) => [name, { data: imageOf(features[l]!, i).slice(), shape: [1, ...features[l]!.shape.slice(1)] as FeatureMap["shape"] }])),
          proposals: proposals[i]!,
        };
      }
      return result;
    });
  };

  // One detect at a time: a call that brings a new padded size may evict the stage another call is running.
  let queue: Promise<unknown> = Promise.resolve();
  const detect = (images: readonly ImageTensor[], detectOptions: DetectOptions = {}): Promise<D[]> => {
    const next = queue.then(async () => {
      if (disposed) throw new DetectorError("this detector was disposed; load it again");
      checkImages(images, channels);
      // The definition says whether masks come back (a generated module's Detection type says it too).
      return (await run(images, detectOptions.intermediates ?? false)) as D[];
    });
    queue = next.catch(() => {});
    return next;
  };

  return {
    detect,
    ...engineReport(box.extractor),
    dispose() {
      if (disposed) return;
      disposed = true;
      box.dispose();
      mask?.dispose();
      pooling.dispose();
      dense.clear();
      if (typeof weights === "string") void opened.close();
    },
  };
}
