import { availableParallelism } from "node:os";
import { ImageError, type RgbImage } from "./decode.js";
import { resampleRows, tapsPerPixel, type FilteredInterpolation, type ResampleBand } from "./resample.js";
import { resampleOnWorker } from "./resamplePool.js";
import { groupDigits, maxImagePixels, MAX_IMAGE_PIXELS_VARIABLE } from "./limits.js";
import { wholeNumberFromEnvironment } from "../limits.js";

/** torchvision's interpolation modes that fxc reproduces, as PIL runs them on 8-bit RGB images. */
export type Interpolation = "bilinear" | "bicubic" | "nearest";

export interface ResizeOptions {
  /**
   * Worker threads that share the resampling of one image: 0 resamples on the calling thread. By
   * default one per core (the environment variable FXC_RESIZE_THREADS overrides it), used only for
   * images large enough to pay for the hand-off; a number given here is used whatever the size.
   */
  readonly threads?: number;
  /**
   * The part of the output the caller keeps (a center crop): only its pixels are computed, the rest
   * of the output is left zero. The pixels computed equal those of the whole resize.
   */
  readonly keep?: Window;
}

/** A rectangle of an image: `width` x `height` pixels from (`left`, `top`). */
export interface Window {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Resizes an 8-bit RGB image exactly as Pillow's `Image.resize` does, which is what torchvision's
 * presets run on PIL images: bilinear and bicubic are antialiased (the filter widens with the
 * downscale factor) and computed in Pillow's fixed point (resample.ts), nearest takes the pixel under
 * each output pixel's centre by Pillow's own arithmetic. The result equals Pillow's bit for bit.
 *
 * sharp (libvips) does not give Pillow's bytes for any filtered case: its resize aligns pixel centres
 * differently on upscales, box-shrinks from 4x down and rounds in its own fixed point; composed from
 * affine and convolve it stayed within 0.0043 (mean absolute difference, normalized units) but never
 * 0 (docs/images.md). So the filtering is fxc's, spread over worker threads for large images, and
 * sharp only decodes.
 *
 * Throws an ImageError, before allocating, where a buffer would exceed the image limit
 * (`FXC_MAX_IMAGE_PIXELS`, limits.ts): only extreme aspect ratios get near it (a 4500x1 image resized
 * to 232 on its short side is 1044000x232).
 */
export async function resizeRgb(image: RgbImage, width: number, height: number, interpolation: Interpolation, options: ResizeOptions = {}): Promise<RgbImage> {
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`cannot resize to ${width}x${height}; sizes are positive integers`);
  }
  if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 0)) {
    throw new RangeError(`threads must be a whole number from 0 on, got ${options.threads}`);
  }
  if (width === image.width && height === image.height) return image;
  checkResizeBuffers(image, width, height, interpolation);
  if (interpolation === "nearest") return resizeNearest(image, width, height);
  return resample(image, width, height, interpolation, options.threads, clampWindow(options.keep, width, height));
}

/** Refuses a resize any of whose buffers would hold more pixels than the limit allows. */
function checkResizeBuffers(image: RgbImage, width: number, height: number, interpolation: Interpolation): void {
  const limit = maxImagePixels();
  const buffers = [width * height];
  if (interpolation !== "nearest") {
    if (width !== image.width && height !== image.height) buffers.push(width * image.height);
    buffers.push(width * tapsPerPixel(image.width, width, interpolation), height * tapsPerPixel(image.height, height, interpolation));
  }
  const largest = Math.max(...buffers);
  if (largest <= limit) return;
  throw new ImageError(
    `${image.width}x${image.height} image`,
    `resizing it to ${width}x${height} (${interpolation}) needs a buffer of ${groupDigits(largest)} pixels, over the limit of ${groupDigits(limit)}`,
    `crop it to a less extreme aspect ratio, raise the limit with ${MAX_IMAGE_PIXELS_VARIABLE}, or skip such images (--skip-bad)`,
  );
}

/** Below this many filter taps (about 10 ms of work), handing an image to other threads costs more than it saves. */
const LEAST_TAPS_FOR_THREADS = 4_000_000;

/** The window within a width x height output (all of it when none is given). */
function clampWindow(keep: Window | undefined, width: number, height: number): Window {
  if (keep === undefined) return { left: 0, top: 0, width, height };
  const left = Math.min(Math.max(0, keep.left), width);
  const top = Math.min(Math.max(0, keep.top), height);
  return { left, top, width: Math.max(0, Math.min(width, keep.left + keep.width) - left), height: Math.max(0, Math.min(height, keep.top + keep.height) - top) };
}

async function resample(image: RgbImage, width: number, height: number, interpolation: FilteredInterpolation, threads: number | undefined, keep: Window): Promise<RgbImage> {
  const rowBytes = width * 3;
  const chosen = threads ?? wholeNumberFromEnvironment("FXC_RESIZE_THREADS", undefined, { least: 0 }) ?? availableParallelism();
  const bands = Math.min(chosen, keep.height);
  const columns = { columnStart: keep.left, columnEnd: keep.left + keep.width };
  if (bands === 0 || (threads === undefined && filterTaps(image, width, height, interpolation) < LEAST_TAPS_FOR_THREADS)) {
    const out = new Uint8Array(rowBytes * height);
    resampleRows({ source: image.data, width: image.width, height: image.height, outWidth: width, outHeight: height, interpolation, rowStart: keep.top, rowEnd: keep.top + keep.height, ...columns, out });
    return { data: out, width, height };
  }
  // Workers read the source and write their rows of the output in shared memory.
  const borrowed = image.data.buffer instanceof SharedArrayBuffer ? undefined : borrowShared(image.data.length);
  borrowed?.set(image.data);
  const source = borrowed ?? image.data;
  // Zeroed: the rows and columns outside the window are left as they are.
  const out = borrowShared(rowBytes * height).fill(0);
  const band = (i: number): ResampleBand => ({
    source,
    width: image.width,
    height: image.height,
    outWidth: width,
    outHeight: height,
    interpolation,
    rowStart: keep.top + Math.floor((keep.height * i) / bands),
    rowEnd: keep.top + Math.floor((keep.height * (i + 1)) / bands),
    ...columns,
    out,
  });
  const done = await Promise.allSettled(Array.from({ length: bands }, (_, i) => resampleOnWorker(band(i), bands)));
  // A band whose thread failed (it could not start, or ran out of memory) is computed here instead.
  done.forEach((d, i) => d.status === "rejected" && resampleRows(band(i)));
  if (borrowed !== undefined) giveBack(borrowed);
  // A plain copy for the caller: the output is small next to the source, and shared memory surprises code that keeps it.
  const result = { data: new Uint8Array(out), width, height };
  giveBack(out);
  return result;
}

/**
 * Shared buffers (sources and outputs of resizes), kept for the next image of the same size. A worker
 * frees its handle on a shared buffer only when its own heap is collected, which an idle worker seldom
 * does: a new source per image (36 MB for a 12-megapixel photo) piled up beside the workers, 390 MB
 * more at the peak over 16 photos. Reused, the buffers are about as many as the images resized at once.
 */
const spareShared: SharedArrayBuffer[] = [];
const MOST_SPARE_SHARED = 8;

/** A shared buffer of `bytes`, with whatever an earlier image left in it. */
function borrowShared(bytes: number): Uint8Array {
  const i = spareShared.findIndex((b) => b.byteLength === bytes);
  return new Uint8Array(i >= 0 ? spareShared.splice(i, 1)[0]! : new SharedArrayBuffer(bytes));
}

function giveBack(buffer: Uint8Array): void {
  spareShared.push(buffer.buffer as SharedArrayBuffer);
  // The oldest go first: a folder of mixed sizes keeps the latest sizes.
  if (spareShared.length > MOST_SPARE_SHARED) spareShared.shift();
}

/** Multiply-adds per channel of both passes, as resample.ts runs them. */
function filterTaps(image: RgbImage, width: number, height: number, interpolation: FilteredInterpolation): number {
  let taps = 0;
  if (height !== image.height) taps += width * height * tapsPerPixel(image.height, height, interpolation);
  if (width !== image.width) {
    // The horizontal pass runs over the rows the vertical one reads: all of them, or nearly.
    taps += image.height * width * tapsPerPixel(image.width, width, interpolation);
  }
  return taps;
}

/**
 * Pillow's nearest: output pixel x takes input pixel trunc(p), p starting at half a step and growing
 * by a step (from / size) per pixel, summed in floating point as Pillow sums it. Where a position falls
 * exactly on a pixel edge, which is common (every fifth row of 600 -> 250), the running sum settles it.
 */
function resizeNearest(image: RgbImage, width: number, height: number): RgbImage {
  const columns = nearestSources(image.width, width);
  const rows = nearestSources(image.height, height);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0, o = 0; y < height; y++) {
    const row = rows[y]! * image.width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      const p = row + columns[x]! * 3;
      out[o] = image.data[p]!;
      out[o + 1] = image.data[p + 1]!;
      out[o + 2] = image.data[p + 2]!;
    }
  }
  return { data: out, width, height };
}

function nearestSources(from: number, size: number): Int32Array {
  const step = from / size;
  const sources = new Int32Array(size);
  let position = step * 0.5;
  for (let i = 0; i < size; i++) {
    sources[i] = Math.min(Math.trunc(position), from - 1);
    position += step;
  }
  return sources;
}
