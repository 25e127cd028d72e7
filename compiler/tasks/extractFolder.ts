import type { Preset } from "../../models/zoo/entry.js";
import { engineChoice, engineReport, tf, type BackendName, type EngineChoice, type EngineName, type EngineReport, type Tensor, type WeightsInput } from "@fxc/runtime";
import { batchImages, imageBatches, type ImageBatch, type ImageBatchOptions, type ImageFailure } from "@fxc/runtime/internal/images/batches";
import { listImages } from "@fxc/runtime/internal/images/list";
import { l2Normalize, poolFeatureMap, poolingText, type Normalization, type Pooling } from "@fxc/runtime/internal/descriptors/pooling";
import { FeatureWriter, type FeatureFormat, type FeatureRows } from "@fxc/runtime/internal/io/featureStore";
import { returnSpec, type ModelInput } from "../api.js";
import type { ReturnNodes } from "../passes/returnNodes.js";
import { OptionsError, type Layout, type Mode } from "../pipeline.js";
import { interpretExtractor, modelName, resolvePreprocessing, type ExtractorLoader, type LoadedExtractor } from "./loader.js";

/** How images become feature rows. */
export interface ImageFeatureOptions {
  readonly preprocessing: Preset;
  /** Images per forward pass; 16 by default. */
  readonly batchSize?: number;
  /** Reduces each 4-D output to one [C] descriptor per image. */
  readonly pool?: Pooling;
  /** `l2` divides each image's row by its norm (after pooling). */
  readonly normalize?: Normalization;
  /** Skip unreadable images, images over the limits (runtime/images/limits.ts) and unreadable folders, each reported to `onSkip`, instead of failing. */
  readonly skipBad?: boolean;
  /** Images decoded ahead; 2 by default (DEFAULT_PREFETCH in runtime/images/batches.ts). */
  readonly prefetch?: number;
  readonly signal?: AbortSignal;
  readonly onSkip?: (failure: ImageFailure) => void;
}

/**
 * Runs a loaded extractor over images in batches and yields each batch's outputs as float32 rows
 * (pooled and normalized if asked). One batch runs while the one before it is read back; every
 * tensor is freed once its batch is read back.
 */
export async function* imageFeatures(loaded: LoadedExtractor, inputs: string | readonly string[], options: ImageFeatureOptions): AsyncGenerator<FeatureRows, void, undefined> {
  yield* featureRows(loaded, (batchOptions) => imageBatches(inputs, batchOptions), options);
}

/** The rows of `imageFeatures`, over the batches `batchesOf` makes with the options it is given. */
async function* featureRows(
  loaded: LoadedExtractor,
  batchesOf: (options: ImageBatchOptions) => AsyncGenerator<ImageBatch, void, undefined>,
  options: ImageFeatureOptions,
): AsyncGenerator<FeatureRows, void, undefined> {
  // In NCHW, torch's order hides which axis holds channels (Swin's maps are [B, H, W, C]); pooled rows are the same either way.
  if (options.pool !== undefined && loaded.layout !== "nhwc") throw new OptionsError("pooling runs on an NHWC extractor; load it with layout nhwc");
  const batches = batchesOf({
    preprocessing: options.preprocessing,
    batchSize: options.batchSize,
    layout: loaded.layout,
    prefetch: options.prefetch,
    skipBad: options.skipBad,
    onSkip: options.onSkip,
    signal: options.signal,
  });
  // One batch runs while the one before it is read back (pooled, copied out): on a GPU the next
  // forward pass is queued behind the current one instead of waiting for its results to be read.
  let inFlight: RunningBatch | undefined;
  try {
    for await (const batch of batches) {
      const started = startBatch(loaded, batch);
      const previous = inFlight;
      inFlight = started;
      if (previous !== undefined) yield await readBack(loaded, previous, options);
    }
    const last = inFlight;
    inFlight = undefined;
    if (last !== undefined) yield await readBack(loaded, last, options);
  } finally {
    // Stopped early (an error, the consumer returned): the batch still running is freed when it ends.
    if (inFlight !== undefined) void inFlight.outputs.then((outputs) => tf.dispose(Object.values(outputs)), () => {});
  }
}

/** A batch whose forward pass has started. */
interface RunningBatch {
  readonly paths: readonly string[];
  readonly outputs: Promise<Record<string, Tensor>>;
}

/** Starts the forward pass of a batch; its input is freed once the pass is done. */
function startBatch(loaded: LoadedExtractor, batch: ImageBatch): RunningBatch {
  const x = tf.tensor4d(batch.data, batch.shape);
  const outputs = loaded.extractor.run(x).finally(() => x.dispose());
  // Awaited later: a failure is not unhandled meanwhile.
  outputs.catch(() => {});
  return { paths: batch.paths, outputs };
}

/** A started batch's outputs as float32 rows (pooled and normalized if asked); every tensor is freed. */
async function readBack(loaded: LoadedExtractor, running: RunningBatch, options: ImageFeatureOptions): Promise<FeatureRows> {
  const outputs = await running.outputs;
  const tensors = Object.create(null) as Record<string, { shape: number[]; data: Float32Array }>;
  try {
    for (const output of loaded.outputs) {
      const t = reduce(outputs[output.key]!, options);
      try {
        tensors[output.key] = { shape: [...t.shape], data: (await t.data()) as Float32Array };
      } finally {
        if (t !== outputs[output.key]) t.dispose();
      }
    }
  } finally {
    tf.dispose(Object.values(outputs));
  }
  return { paths: running.paths, tensors };
}

/** Pooling and normalization of one output; returns the output itself when there is nothing to do. */
function reduce(t: Tensor, options: ImageFeatureOptions): Tensor {
  // In NHWC every 4-D output has channels last (image-like maps and Swin's [B, H, W, C] alike).
  const pooled = options.pool !== undefined && t.rank === 4 ? poolFeatureMap(t, options.pool, 3) : t;
  if (options.normalize !== "l2") return pooled;
  const normalized = l2Normalize(pooled);
  if (pooled !== t) pooled.dispose();
  return normalized;
}

export interface ExtractFolderOptions extends Omit<ImageFeatureOptions, "preprocessing">, EngineChoice {
  /** A zoo model name, or a model built with fxc's module library. */
  readonly model: ModelInput;
  readonly returnNodes: ReturnNodes;
  /** A `.pth`/`.pt` or `.safetensors` checkpoint, or tensors already opened. */
  readonly weights: WeightsInput;
  /** Image files and folders (walked recursively, in sorted path order). */
  readonly inputs: string | readonly string[];
  /** A `.safetensors` file, or a folder for `format: "npy"`. */
  readonly out: string;
  readonly format?: FeatureFormat;
  /** Images per output file (`NAME-00001.safetensors`, ...); one file by default. */
  readonly shard?: number;
  /** Overrides of the model's preset; every field for a model built in code. */
  readonly preprocessing?: Partial<Preset>;
  /** Layout of stored 4-D outputs (nhwc by default); pooled descriptors are [N, C] either way. */
  readonly layout?: Layout;
  readonly mode?: Mode;
  /** Read only checkpoint keys under this prefix. */
  readonly prefix?: string;
  /** Worker threads sharing each batch; needs a loader that runs compiled modules (the CLI's). */
  readonly workers?: number;
  /** Called after each batch with the images done so far (skipped ones included). */
  readonly onProgress?: (progress: { readonly done: number; readonly total: number; readonly skipped: number }) => void;
  readonly onWarning?: (message: string) => void;
  /** How the extractor is made; by default the program is interpreted in this process. */
  readonly loader?: ExtractorLoader;
  /** Called once the extractor is loaded, before the first image. */
  /** Called once the extractor is loaded: the images listed, and what runs them. */
  readonly onStart?: (info: EngineReport & { readonly total: number }) => void;
}

export interface ExtractFolderResult {
  readonly files: readonly string[];
  /** Rows written. */
  readonly images: number;
  readonly skipped: readonly ImageFailure[];
  /** Each key's full shape, rows first. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** Time spent on the images, after loading the extractor. */
  readonly seconds: number;
  readonly backend: BackendName;
}

/**
 * Extracts features from every image under `inputs` and writes them, one row per image, with the
 * row order and how they were made in the file's metadata. Memory stays bounded: images are decoded
 * a few at a time and rows are spooled to disk until each output file is written (atomically).
 */
export async function extractFolder(options: ExtractFolderOptions): Promise<ExtractFolderResult> {
  const preprocessing = resolvePreprocessing(options.model, options.preprocessing);
  const skipped: ImageFailure[] = [];
  const skip = (failure: ImageFailure): void => {
    skipped.push(failure);
    options.onSkip?.(failure);
  };
  // With skipBad, folders that cannot be listed are skipped as unreadable images are.
  const paths = await listImages(options.inputs, options.skipBad ? { onUnreadable: skip } : {});
  const unlisted = skipped.length;
  const format = options.format ?? "safetensors";
  // Before the weights are loaded and any image is read: an output that cannot be written, or would replace an input, fails now.
  const given = [...(typeof options.weights === "string" ? [options.weights] : []), ...(typeof options.inputs === "string" ? [options.inputs] : options.inputs)];
  await FeatureWriter.check({ out: options.out, format, shardSize: options.shard }, { given, files: [...given, ...paths] });
  // Pooled descriptors do not depend on the layout; pooling needs channels last.
  const layout = options.pool !== undefined ? "nhwc" : (options.layout ?? "nhwc");
  const mode = options.mode ?? "eval";
  const loaded = await (options.loader ?? interpretExtractor)({
    model: options.model,
    returnNodes: options.returnNodes,
    size: preprocessing.cropSize,
    layout,
    mode,
    weights: options.weights,
    ...engineChoice(options),
    prefix: options.prefix,
    workers: options.workers,
    onWarning: options.onWarning,
  });
  let writer: FeatureWriter | undefined;
  try {
    writer = await FeatureWriter.open({
      out: options.out,
      format,
      shardSize: options.shard,
      metadata: {
        model: modelName(options.model),
        return: returnSpec(options.returnNodes),
        layout,
        mode,
        preprocessing: JSON.stringify(preprocessing),
        pool: poolingText(options.pool),
        normalize: options.normalize ?? "none",
      },
    });
    options.onStart?.({ total: paths.length, ...engineReport(loaded.extractor) });
    const started = performance.now();
    let done = 0;
    // The images are listed already: they are batched as they are, not listed again.
    const rows = featureRows(loaded, (batchOptions) => batchImages(paths, batchOptions), {
      ...options,
      preprocessing,
      onSkip: skip,
    });
    for await (const batch of rows) {
      await writer.append(batch);
      done += batch.paths.length;
      // Progress counts images; the folders skipped while listing are not among `paths`.
      options.onProgress?.({ done: done + skipped.length - unlisted, total: paths.length, skipped: skipped.length });
    }
    if (done === 0) {
      const first = skipped[0]!.error;
      if (paths.length === 1) throw first;
      throw new Error(`none of the ${paths.length} images could be read; the first, ${first.file}, ${first.problem}; check the inputs`);
    }
    const written = await writer.close();
    return { files: written.files, images: written.rows, skipped, shapes: written.shapes, seconds: (performance.now() - started) / 1000, backend: loaded.extractor.backend };
  } catch (error) {
    await writer?.abort();
    throw error;
  } finally {
    await loaded.extractor.dispose();
  }
}
