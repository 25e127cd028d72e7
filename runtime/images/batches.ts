import { ImageError, systemErrorReason, type ImageFailure } from "./decode.js";
import { checkImageLimits } from "./limits.js";
import { listImages } from "./list.js";
import { checkPresetSizes, preprocess, type ImageLayout, type Preset, type PreprocessedImage } from "./preprocess.js";

export type { ImageFailure };

export interface ImageBatchOptions {
  /** How images are resized, cropped and normalized (a zoo model's `preset`, or your own). */
  readonly preprocessing: Preset;
  /** Images per batch (the last one may be smaller); 16 by default. */
  readonly batchSize?: number;
  /** Layout of each batch: [N, H, W, 3] (nhwc, the default) or [N, 3, H, W]. */
  readonly layout?: ImageLayout;
  /**
   * Images being decoded at once, at most; 2 by default (DEFAULT_PREFETCH). Decoding goes on while the
   * caller works on a batch: up to one batch of preprocessed images (small: the crop size) waits ahead,
   * so memory holds at most this many decoded images, one batch ahead and the caller's batch.
   */
  readonly prefetch?: number;
  /**
   * Skip images that cannot be read or are over a limit (`limits.ts`), and folders that cannot be
   * listed, each reported to `onSkip`, instead of failing on the first.
   */
  readonly skipBad?: boolean;
  readonly onSkip?: (failure: ImageFailure) => void;
  /** Stops between images: the iterator then throws the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A batch of preprocessed images, ready for `tf.tensor4d(batch.data, batch.shape)`. */
export interface ImageBatch {
  /** The source of each row, in order. */
  readonly paths: readonly string[];
  readonly data: Float32Array;
  readonly shape: [number, number, number, number];
}

/**
 * Images decoded at once by default. A 12-megapixel photo holds ~36 MB while it is in flight (sharp's
 * decoded pixels), each decodes on a libuv thread and resizes on the calling thread: 2 keep both
 * cores busy beside the model. Measured (before the resize ran in SIMD on the calling thread) with
 * `fxc extract` on 24 4032x3024 JPEGs (resnet50, batch 8, 2 cores): peak RSS 883-963 MB with 2
 * against 1047-1077 MB with 4, at the same images/s (2.5 vs 2.4, 1.5 vs 1.5; a shared machine).
 */
export const DEFAULT_PREFETCH = 2;

/**
 * Batches of preprocessed images from files and folders (see `listImages`), in order. A small pool
 * decodes the next images while the caller works on the current batch, so memory stays bounded
 * whatever the number of images.
 */
export async function* imageBatches(inputs: string | readonly string[], options: ImageBatchOptions): AsyncGenerator<ImageBatch, void, undefined> {
  yield* batchImages(await listImages(inputs, options.skipBad ? { onUnreadable: options.onSkip ?? (() => undefined) } : {}), options);
}

/** Batches of the image files `paths` (already listed, e.g. by `listImages`), in order, as `imageBatches` makes them. */
export async function* batchImages(paths: readonly string[], options: ImageBatchOptions): AsyncGenerator<ImageBatch, void, undefined> {
  const batchSize = positive(options.batchSize ?? 16, "batchSize");
  const prefetch = positive(options.prefetch ?? DEFAULT_PREFETCH, "prefetch");
  const layout = options.layout ?? "nhwc";
  // A bad limit setting or preset fails here, once, rather than as every image's error.
  checkImageLimits();
  checkPresetSizes(options.preprocessing);
  let rows: Extract<Loaded, { ok: true }>[] = [];
  // Up to one batch decoded ahead, so that decoding goes on while the caller runs the model on the last batch.
  for await (const loaded of ahead(paths.length, (i) => load(paths[i]!, options.preprocessing, layout), { inFlight: prefetch, waiting: prefetch + batchSize })) {
    options.signal?.throwIfAborted();
    if (!loaded.ok) {
      if (!options.skipBad) throw loaded.error;
      options.onSkip?.({ path: loaded.path, error: loaded.error });
      continue;
    }
    rows.push(loaded);
    if (rows.length === batchSize) {
      yield stack(rows, layout);
      rows = [];
    }
  }
  if (rows.length > 0) yield stack(rows, layout);
}

/**
 * The results of `start(0)` .. `start(count - 1)`, in order, computed ahead of the caller: at most
 * `inFlight` started and unfinished, at most `waiting` started and not yet taken. Each one that
 * finishes starts the next, whether or not the caller is taking results at the time. `start` must
 * not reject (wrap failures in its result). Stopping early starts no more.
 */
export async function* ahead<T>(count: number, start: (index: number) => Promise<T>, limits: { readonly inFlight: number; readonly waiting: number }): AsyncGenerator<T, void, undefined> {
  const pending: Promise<T>[] = [];
  let running = 0;
  let next = 0;
  let stopped = false;
  const refill = (): void => {
    while (!stopped && running < limits.inFlight && pending.length < limits.waiting && next < count) {
      running++;
      pending.push(
        start(next++).then((result) => {
          running--;
          refill();
          return result;
        }),
      );
    }
  };
  refill();
  try {
    while (pending.length > 0) {
      const result = await pending.shift()!;
      refill();
      yield result;
    }
  } finally {
    stopped = true;
  }
}

type Loaded = { ok: true; path: string; image: PreprocessedImage } | { ok: false; path: string; error: ImageError };

/** Never rejects, so that images decoded ahead never become unhandled rejections. */
async function load(path: string, preset: Preset, layout: ImageLayout): Promise<Loaded> {
  try {
    return { ok: true, path, image: await preprocess(path, preset, { layout }) };
  } catch (error) {
    const imageError = error instanceof ImageError ? error : new ImageError(path, `cannot be read (${systemErrorReason(error)})`, "check the file");
    return { ok: false, path, error: imageError };
  }
}

function stack(rows: readonly Extract<Loaded, { ok: true }>[], layout: ImageLayout): ImageBatch {
  const { height, width } = rows[0]!.image;
  const size = height * width * 3;
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => data.set(r.image.data, i * size));
  const shape: [number, number, number, number] = layout === "nhwc" ? [rows.length, height, width, 3] : [rows.length, 3, height, width];
  return { paths: rows.map((r) => r.path), data, shape };
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}
