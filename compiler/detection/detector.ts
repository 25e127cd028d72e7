import type { GeneralizedRCNN } from "../../models/detection/generalized_rcnn.js";
import {
  anchorsForImage,
  batchImages,
  batchedNms,
  BoxCoder,
  clipBoxesToImage,
  normalizeImage,
  pasteMasksInImage,
  removeSmallBoxes,
  resizeBoxes,
  resizeImage,
  selectBoxes,
  topk,
  type Detections,
  type FeatureMap,
  type ImageTensor,
} from "@fxc/runtime/detection";
import { openWeights, WeightsError, type EngineReport, type LoadOptions, type TensorSource, type WeightsInput } from "@fxc/runtime";
import { withRenamedKeys, type KeyRename } from "@fxc/runtime/internal/weights/rename";
import { withPrefix } from "@fxc/runtime/internal/weights/open";
import { FxcError } from "@fxc/runtime/internal/errors";
import { defaultRoIAlignThreads, roiAlignThreads } from "@fxc/runtime/internal/detection/roiAlignThreads";
import { BackboneAndRpnHead, BoxHeadStage, MaskHeadStage, compileStage, loadStage, type CompiledStage, type LoadedStage } from "./stages.js";

/**
 * createDetector: torchvision's GeneralizedRCNN eval forward. The dense stages are compiled by
 * the extractors' pipeline and run on the chosen engine: the backbone with its FPN and the RPN
 * head on the padded batch (compiled once for every padded size where its program does not
 * depend on the size, as torchvision's fully convolutional backbones; else per size), the box head and predictor over the R
 * pooled regions, the mask head and predictor likewise (R the free batch, compiled once). What
 * depends on the data (resize, anchors, top-n, NMS, RoIAlign, decoding, mask pasting) runs
 * runtime/detection's kernels between them, in torchvision's order.
 */

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
}

/** A loaded detector; `engine` and the rest say what runs its dense stages, as an Extractor says them. */
export interface Detector extends EngineReport {
  /** Runs the detector on images (C × H × W floats in [0, 1], as torchvision takes them); one result per image. */
  detect(images: readonly ImageTensor[], options?: DetectOptions): Promise<DetectionResult[]>;
  /** Frees every stage's weights and closes the checkpoint. */
  dispose(): void;
}

export interface DetectorModule {
  readonly model: GeneralizedRCNN;
  load(weights: WeightsInput, options?: DetectorLoadOptions): Promise<Detector>;
}

/** A detector's input or configuration that it cannot run, said in one line with the fix. */
export class DetectorError extends FxcError {
  override readonly name = "DetectorError";
}

/**
 * torchvision's loaders rename the published checkpoints' older keys: RPNHead's `conv.weight`
 * (version < 2) is `conv.0.0.weight`, MaskRCNNHeads' `mask_fcn{i}.weight` is `{i-1}.0.weight`.
 */
function checkpointRenames(model: GeneralizedRCNN): KeyRename[] {
  const renames: KeyRename[] = [
    { pattern: "^rpn\\.head\\.conv\\.(weight|bias)$", replacement: "rpn.head.conv.0.0.$1" },
    // FeaturePyramidNetwork before torchvision 0.13 (its _load_from_state_dict, version 1): a bare Conv2d per block, as in the published COCO files.
    { pattern: "^(backbone\\.(?:.*\\.)?fpn\\.(?:inner|layer)_blocks\\.\\d+)\\.(weight|bias)$", replacement: "$1.0.$2" },
  ];
  const maskHead = model.roi_heads.mask_head;
  const blocks = maskHead === null ? 0 : maskHead.namedChildren().length;
  for (let i = 1; i <= blocks; i++) renames.push({ pattern: `^roi_heads\\.mask_head\\.mask_fcn${i}\\.(weight|bias)$`, replacement: `roi_heads.mask_head.${i - 1}.0.$1` });
  return renames;
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
function checkClasses(model: GeneralizedRCNN, source: TensorSource): void {
  const expected = new Map(model.stateDictShapes());
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

/** The compiled backbone's key when one program serves every padded size. */
const ANY_SIZE = "any";

/** torchvision's GeneralizedRCNN eval forward as a compiled detector: see the file's comment. */
export function createDetector(model: GeneralizedRCNN): DetectorModule {
  const transform = model.transform;
  if (transform.fixedSize !== null) throw new DetectorError("fixedSize is not supported by the detector yet; build the model without it (min/max size resizing)");
  const denseStage = new BackboneAndRpnHead(model);
  const boxStage = new BoxHeadStage(model);
  const maskStage = model.roi_heads.hasMask() ? new MaskHeadStage(model) : null;
  const boxPool = model.roi_heads.box_roi_pool;
  const channels = transform.imageMean.length;
  const compiledDense = new Map<string, { stage: CompiledStage; levels: string[] }>();
  // The key of a padded size's backbone: one for every size where its program does not depend on the size (a fully convolutional backbone and FPN).
  const denseKey = (shape: readonly number[]): string => (compiledDense.get(ANY_SIZE) !== undefined ? ANY_SIZE : shape.slice(1).join("x"));
  const compileDense = (shape: readonly [number, number, number, number]): { stage: CompiledStage; levels: string[] } => {
    let entry = compiledDense.get(denseKey(shape));
    if (entry === undefined) {
      const stage = compileStage(denseStage, shape);
      const levels = [...denseStage.levelNames];
      const sizes = model.rpn.anchor_generator.sizes;
      if (sizes.length !== levels.length || model.rpn.anchor_generator.aspectRatios.length !== levels.length) {
        throw new DetectorError(
          `Anchors should be Tuple[Tuple[int]] because each feature map could potentially have different sizes and aspect ratios. There needs to be a match between the number of feature maps passed and the number of sizes / aspect ratios specified: the backbone returns ${levels.length} levels (${levels.join(", ")}), the AnchorGenerator has ${sizes.length} sizes; give it one size list per level`,
        );
      }
      entry = { stage, levels };
      compiledDense.set(stage.program.freeSize === undefined ? denseKey(shape) : ANY_SIZE, entry);
    }
    return entry;
  };
  const regionShape = (pool: typeof boxPool): [number, number, number, number] => [1, (model.backbone as { outChannels: number }).outChannels, pool.outputSize[0], pool.outputSize[1]];
  let compiledBox: CompiledStage | undefined;
  let compiledMask: CompiledStage | undefined;

  return {
    model,
    async load(weights, options = {}) {
      const { cachedSizes = 4, roiAlignThreads: threads = defaultRoIAlignThreads(), ...loadOptions } = options;
      if (!(Number.isSafeInteger(cachedSizes) && cachedSizes >= 1)) throw new DetectorError(`cachedSizes ${cachedSizes} is not a whole number >= 1; give how many padded sizes keep their backbone loaded (default 4)`);
      if (!(Number.isSafeInteger(threads) && threads >= 1)) throw new DetectorError(`roiAlignThreads ${threads} is not a whole number >= 1; give how many threads pool the regions (1: this one only)`);
      const opened = typeof weights === "string" ? await openWeights(weights, { prefix: loadOptions.prefix }) : weights;
      const prefixed = typeof weights !== "string" && loadOptions.prefix ? withPrefix(opened, loadOptions.prefix) : opened;
      const source = withRenamedKeys(prefixed, checkpointRenames(model));
      // The prefix is applied once, here; the stages read the renamed view.
      const stageOptions: LoadOptions = { ...loadOptions, prefix: undefined };
      let boxLoaded: LoadedStage | undefined;
      let maskLoaded: LoadedStage | undefined;
      const dense = new LruCache<Promise<LoadedStage>>(cachedSizes, (p) => void p.then((s) => s.dispose(), () => {}));
      try {
        checkClasses(model, source);
        compiledBox ??= compileStage(boxStage, regionShape(boxPool));
        boxLoaded = await loadStage(compiledBox, source, stageOptions);
        if (maskStage !== null) {
          compiledMask ??= compileStage(maskStage, regionShape(model.roi_heads.mask_roi_pool!));
          maskLoaded = await loadStage(compiledMask, source, stageOptions);
        }
      } catch (e) {
        boxLoaded?.dispose();
        maskLoaded?.dispose();
        if (typeof weights === "string") await opened.close();
        throw e;
      }
      const box = boxLoaded;
      const mask = maskLoaded;
      const pooling = roiAlignThreads(threads);
      let disposed = false;

      const denseFor = async (shape: [number, number, number, number]): Promise<{ loaded: LoadedStage; levels: string[] }> => {
        const { stage, levels } = compileDense(shape);
        const key = denseKey(shape);
        let loaded = dense.get(key);
        if (loaded === undefined) {
          loaded = loadStage(stage, source, stageOptions);
          dense.set(key, loaded);
          loaded.catch(() => {});
        }
        return { loaded: await loaded, levels };
      };

      // One detect at a time: a call that brings a new padded size may evict the stage another call is running.
      let queue: Promise<unknown> = Promise.resolve();
      const detect = (images: readonly ImageTensor[], detectOptions: DetectOptions = {}): Promise<DetectionResult[]> => {
        const next = queue.then(async () => {
          if (disposed) throw new DetectorError("this detector was disposed; load it again");
          checkImages(images, channels);
          const wasTraining = model.training;
          model.eval();
          try {
            return await run(images, detectOptions.intermediates ?? false);
          } finally {
            model.train(wasTraining);
          }
        });
        queue = next.catch(() => {});
        return next;
      };

      const run = async (images: readonly ImageTensor[], intermediates: boolean): Promise<DetectionResult[]> => {
        // GeneralizedRCNNTransform: normalize, resize (eval: the last min size), batch.
        const minSize = transform.minSize[transform.minSize.length - 1]!;
        const resized = images.map((im) => {
          const normalized = normalizeImage(im.data, transform.imageMean, transform.imageStd);
          const r = resizeImage(normalized, [im.height, im.width], minSize, transform.maxSize);
          return { data: r.data, channels: im.channels, height: r.height, width: r.width };
        });
        const imageSizes = resized.map((r) => [r.height, r.width] as [number, number]);
        const batch = batchImages(resized, transform.sizeDivisible);
        const n = images.length;

        // Backbone + FPN + RPN head, compiled for this padded size.
        const { loaded: denseLoaded, levels } = await denseFor(batch.shape);
        const outputs = await denseLoaded.run(batch.data, batch.shape);
        const features: FeatureMap[] = levels.map((_, l) => ({ data: outputs[3 * l]!.data, shape: outputs[3 * l]!.shape as FeatureMap["shape"] }));
        const objectness = levels.map((_, l) => outputs[3 * l + 1]!);
        const deltas = levels.map((_, l) => outputs[3 * l + 2]!);

        // AnchorGenerator: the same anchors for every image of the batch.
        const featureSizes = features.map((f) => [f.shape[2], f.shape[3]] as [number, number]);
        const anchorGenerator = model.rpn.anchor_generator;
        const anchors = anchorsForImage([batch.shape[2], batch.shape[3]], featureSizes, anchorGenerator.sizes, anchorGenerator.aspectRatios);
        const anchorsPerLevel = objectness.map((o) => o.shape[1]! * o.shape[2]! * o.shape[3]!);
        const rpnCoder = new BoxCoder(model.rpn.boxCoderWeights as [number, number, number, number]);
        const { pre: preNmsTopN, post: postNmsTopN } = model.rpn.topN();

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
            const top = topk(levelScores, Math.min(preNmsTopN, anchorsPerLevel[l]!));
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
          const keepSmall = removeSmallBoxes(boxes, model.rpn.minSize);
          [boxes, scores, lvl] = [selectBoxes(boxes, keepSmall), pick(scores, keepSmall), pickInts(lvl, keepSmall)];
          const keepScore = indicesWhere(scores, (s) => s >= model.rpn.scoreThresh);
          [boxes, scores, lvl] = [selectBoxes(boxes, keepScore), pick(scores, keepScore), pickInts(lvl, keepScore)];
          const keep = batchedNms(boxes, scores, lvl, model.rpn.nmsThresh).subarray(0, postNmsTopN);
          return selectBoxes(boxes, keep);
        });

        // RoIHeads: box pooling, head and predictor over every image's proposals at once.
        const heads = model.roi_heads;
        const pooledFeatures = (names: readonly string[]): FeatureMap[] => levels.flatMap((name, l) => (names.includes(name) ? [features[l]!] : []));
        const boxRegions = await pooling.multiScaleRoIAlign(pooledFeatures(heads.box_roi_pool.featmapNames), proposals, imageSizes, heads.box_roi_pool.outputSize, heads.box_roi_pool.samplingRatio, heads.box_roi_pool.canonicalScale, heads.box_roi_pool.canonicalLevel);
        const totalProposals = proposals.reduce((s, p) => s + p.length / 4, 0);
        const regionShape = (pool: typeof boxPool, count: number): number[] => [count, features[0]!.shape[1], pool.outputSize[0], pool.outputSize[1]];
        const [classLogits, boxRegression] = totalProposals === 0 ? [undefined, undefined] : await box.run(boxRegions, regionShape(heads.box_roi_pool, totalProposals));
        const numClasses = classLogits?.shape[1] ?? 0;
        const boxCoder = new BoxCoder(heads.bboxRegWeights as [number, number, number, number]);

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
        if (mask !== undefined && heads.mask_roi_pool !== null) {
          const totalDetections = detections.reduce((s, d) => s + d.scores.length, 0);
          const maskRegions = await pooling.multiScaleRoIAlign(pooledFeatures(heads.mask_roi_pool.featmapNames), detections.map((d) => d.boxes), imageSizes, heads.mask_roi_pool.outputSize, heads.mask_roi_pool.samplingRatio, heads.mask_roi_pool.canonicalScale, heads.mask_roi_pool.canonicalLevel);
          const [maskLogits] = totalDetections === 0 ? [undefined] : await mask.run(maskRegions, regionShape(heads.mask_roi_pool, totalDetections));
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
          const masks = maskProbs === undefined ? undefined : { data: d.labels.length === 0 ? new Float32Array(0) : pasteMasksInImage(maskProbs[i]!, maskSize, boxes, original), height: original[0], width: original[1] };
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

      return {
        detect,
        engine: box.extractor.engine,
        fallback: box.extractor.fallback,
        backend: box.extractor.backend,
        adapter: box.extractor.adapter,
        backendFallback: box.extractor.backendFallback,
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
    },
  };
}
