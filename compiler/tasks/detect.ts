import { dirname, join, relative, resolve, sep } from "node:path";
import type { GeneralizedRCNN } from "../../models/detection/generalized_rcnn.js";
import { engineChoice, engineReport, type EngineChoice, type EngineReport, type WeightsInput } from "@fxc/runtime";
import type { Detections, ImageTensor } from "@fxc/runtime/internal/detection/types";
import { decodeImage, ImageError, type RgbImage } from "@fxc/runtime/internal/images/decode";
import { listImages } from "@fxc/runtime/internal/images/list";
import { normalizeImage } from "@fxc/runtime/internal/images/preprocess";
import { assertWritable, openAtomic, type AtomicFile } from "@fxc/runtime/internal/io/atomic";
import { assertNotAnInput } from "@fxc/runtime/internal/io/destination";
import { drawDetections, maskGreyLevels } from "@fxc/runtime/internal/visualize/detections";
import { encodeGreyPng, encodePng } from "@fxc/runtime/internal/visualize/render";
import { createDetector } from "../detection/index.js";
import { OptionsError } from "../pipeline.js";
import { labelName } from "./cocoCategories.js";

/** Detections below this score are left out unless asked for (torchvision's demos draw from 0.5; the model's own box_score_thresh applies first). */
export const DEFAULT_SCORE_THRESHOLD = 0.5;

export interface DetectImagesOptions extends EngineChoice {
  /** A detector built in code (MaskRCNN, FasterRCNN or any GeneralizedRCNN). */
  readonly model: GeneralizedRCNN;
  readonly weights: WeightsInput;
  /** Image files and folders of them (listed as fxc extract lists them). */
  readonly inputs: readonly string[];
  /** Folder for NAME.json and, with masks, NAME.mask-K.png per image. */
  readonly out: string;
  /** Keep detections scoring at least this, in [0, 1]; DEFAULT_SCORE_THRESHOLD by default. */
  readonly scoreThreshold?: number;
  /** Folder for NAME.png: the image with its boxes, captions and masks drawn. */
  readonly visualize?: string;
  /** Skip images that cannot be decoded, each reported to `onSkip`, instead of failing. */
  readonly skipBad?: boolean;
  readonly onSkip?: (error: ImageError) => void;
  readonly signal?: AbortSignal;
  readonly onWarning?: (message: string) => void;
  /** Once the images are listed and the detector is loaded. */
  readonly onStart?: (info: { readonly total: number } & EngineReport) => void;
  readonly onProgress?: (done: number) => void;
}

/** One detection as NAME.json lists it. */
export interface DetectionRecord {
  /** COCO's category name for a 91-class detector, else the class index as text. */
  readonly label: string;
  readonly labelIndex: number;
  readonly score: number;
  /** x1, y1, x2, y2 in the image's pixels. */
  readonly box: readonly [number, number, number, number];
  /** The mask's PNG beside the JSON (8-bit probabilities; the object is above 127), for Mask R-CNN. */
  readonly mask?: string;
}

/** NAME.json. */
export interface ImageDetections {
  readonly image: string;
  readonly width: number;
  readonly height: number;
  readonly scoreThreshold: number;
  readonly detections: readonly DetectionRecord[];
}

export interface DetectImagesResult {
  readonly images: number;
  /** Images skipped with `skipBad`. */
  readonly skipped: number;
  readonly detections: number;
  /** Every file written, JSON, masks and pictures. */
  readonly files: readonly string[];
  readonly seconds: number;
}

/** What is wrong with a score threshold (it must be a number in [0, 1]), or undefined; the fix follows it in a message. */
export function scoreThresholdProblem(threshold: number): string | undefined {
  return Number.isFinite(threshold) && threshold >= 0 && threshold <= 1 ? undefined : `${threshold} is not in [0, 1]; give a score between 0 and 1, such as ${DEFAULT_SCORE_THRESHOLD}`;
}

/**
 * Runs a detector over images, one at a time, and writes per image NAME.json (boxes, labels, scores),
 * each mask as NAME.mask-K.png and, with `visualize`, the drawn picture. NAME is the image's path
 * relative to the folder that holds every input, with separators as `__` (`cat.jpg`, `trip__beach.png`).
 * Nothing is half-written: every file is written under a temporary name and all are renamed into
 * place once every image has been done, so a failure (a file that is not an image, say) leaves the
 * folders as they were.
 */
export async function detectImages(options: DetectImagesOptions): Promise<DetectImagesResult> {
  const started = performance.now();
  const threshold = options.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD;
  const problem = scoreThresholdProblem(threshold);
  if (problem !== undefined) throw new OptionsError(`score threshold ${problem}`);
  await assertWritable(options.out, "folder");
  if (options.visualize !== undefined) await assertWritable(options.visualize, "folder");
  const paths = await listImages(options.inputs);
  const names = outputNames(paths);
  const planned = names.flatMap((name) => [join(options.out, `${name}.json`), ...(options.visualize === undefined ? [] : [join(options.visualize, `${name}.png`)])]);
  const given = [...options.inputs, ...(typeof options.weights === "string" ? [options.weights] : [])];
  await assertNotAnInput({ files: planned }, { given, files: [...paths, ...given] });
  const numClasses = classCount(options.model);

  const detector = await createDetector(options.model).load(options.weights, { ...engineChoice(options), onWarning: options.onWarning });
  const pending: AtomicFile[] = [];
  let detections = 0;
  let skipped = 0;
  try {
    options.onStart?.({ total: paths.length, ...engineReport(detector) });
    for (const [index, path] of paths.entries()) {
      options.signal?.throwIfAborted();
      let rgb: RgbImage;
      try {
        rgb = await decodeImage(path);
      } catch (error) {
        if (!(options.skipBad && error instanceof ImageError)) throw error;
        options.onSkip?.(error);
        skipped++;
        options.onProgress?.(index + 1);
        continue;
      }
      const [result] = await detector.detect([toImageTensor(rgb)]);
      const name = names[index]!;
      const kept = keptDetections(result!, threshold);
      const records: DetectionRecord[] = [];
      const plane = rgb.width * rgb.height;
      for (const [k, i] of kept.entries()) {
        const label = result!.labels[i]!;
        const box = Array.from(result!.boxes.subarray(4 * i, 4 * i + 4)) as [number, number, number, number];
        let mask: string | undefined;
        if (result!.masks !== undefined) {
          mask = `${name}.mask-${k}.png`;
          const grey = maskGreyLevels(result!.masks.data.subarray(i * plane, (i + 1) * plane));
          pending.push(await sealed(join(options.out, mask), await encodeGreyPng(grey, rgb.width, rgb.height)));
        }
        records.push({ label: labelName(label, numClasses), labelIndex: label, score: result!.scores[i]!, box, ...(mask === undefined ? {} : { mask }) });
      }
      const json: ImageDetections = { image: path, width: rgb.width, height: rgb.height, scoreThreshold: threshold, detections: records };
      pending.push(await sealed(join(options.out, `${name}.json`), `${JSON.stringify(json, null, 1)}\n`));
      if (options.visualize !== undefined) {
        const masks = result!.masks === undefined ? undefined : gather(result!.masks.data, kept, plane);
        const picture = drawDetections(rgb, {
          boxes: gather(result!.boxes, kept, 4),
          captions: records.map((r) => `${r.label} ${r.score.toFixed(2)}`),
          colours: records.map((r) => r.labelIndex),
          masks,
        });
        pending.push(await sealed(join(options.visualize, `${name}.png`), await encodePng(picture)));
      }
      detections += records.length;
      options.onProgress?.(index + 1);
    }
    options.signal?.throwIfAborted();
    for (const file of pending) await file.commit();
  } catch (error) {
    await Promise.all(pending.map((f) => f.abort()));
    throw error;
  } finally {
    detector.dispose();
  }
  return { images: paths.length - skipped, skipped, detections, files: pending.map((f) => f.path), seconds: (performance.now() - started) / 1000 };
}

/** Indices of the detections scoring at least `threshold`, in the detector's order (decreasing score). */
function keptDetections(result: Detections, threshold: number): number[] {
  const kept: number[] = [];
  for (let i = 0; i < result.scores.length; i++) if (result.scores[i]! >= threshold) kept.push(i);
  return kept;
}

/** Rows `indices` of a table of `rowLength`-long rows. */
function gather(data: Float32Array, indices: readonly number[], rowLength: number): Float32Array {
  const out = new Float32Array(indices.length * rowLength);
  indices.forEach((i, k) => out.set(data.subarray(i * rowLength, (i + 1) * rowLength), k * rowLength));
  return out;
}

/** An RGB picture as the detector takes it: C x H x W floats in [0, 1] (torchvision's to_tensor; the detector normalizes). */
export function toImageTensor(rgb: RgbImage): ImageTensor {
  const { data } = normalizeImage(rgb, { mean: [0, 0, 0], std: [1, 1, 1] }, "nchw");
  return { data, channels: 3, height: rgb.height, width: rgb.width };
}

/** Each image's output name: its path relative to the folder holding every input, separators as `__`. */
function outputNames(paths: readonly string[]): string[] {
  const absolute = paths.map((p) => resolve(p));
  let root = dirname(absolute[0]!);
  while (!absolute.every((p) => p.startsWith(root.endsWith(sep) ? root : root + sep))) root = dirname(root);
  const names = absolute.map((p) => relative(root, p).split(sep).join("__"));
  const seen = new Map<string, string>();
  for (const [i, name] of names.entries()) {
    const other = seen.get(name);
    if (other !== undefined) throw new OptionsError(`images ${other} and ${paths[i]} would both write ${name}.json; rename one, or run them separately`);
    seen.set(name, paths[i]!);
  }
  return names;
}

/** Classes the detector predicts (background included), from its box predictor's class scores. */
function classCount(model: GeneralizedRCNN): number {
  const shape = model.stateDictShapes().find(([key]) => key === "roi_heads.box_predictor.cls_score.weight")?.[1];
  if (shape === undefined) throw new OptionsError(`${model.typeName} has no roi_heads.box_predictor.cls_score; give a detector built as torchvision's (MaskRCNN, FasterRCNN)`);
  return shape[0]!;
}

async function sealed(path: string, data: Uint8Array | string): Promise<AtomicFile> {
  const file = await openAtomic(path);
  try {
    await file.write(data);
    await file.seal();
  } catch (error) {
    await file.abort();
    throw error;
  }
  return file;
}
