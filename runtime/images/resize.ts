import { ImageError, type RgbImage } from "./decode.js";
import { resampleRows, tapsPerPixel } from "./resample.js";
import { groupDigits, maxImagePixels, MAX_IMAGE_PIXELS_VARIABLE } from "./limits.js";

/** torchvision's interpolation modes that fxc reproduces, as PIL runs them on 8-bit RGB images. */
export type Interpolation = "bilinear" | "bicubic" | "nearest";

export interface ResizeOptions {
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
 * 0 (docs/images.md). So the filtering is fxc's and sharp only decodes. It runs on the calling thread:
 * in SIMD a 12-megapixel photo takes about 21 ms, a fifth of its decoding, and callers that want
 * more cores keep several images in flight (their decoding runs on libuv's threads). Splitting one
 * image over worker threads cost more than it saved: copying the photo into shared memory, 100 MB
 * more at the peak, and ~8% more CPU per image.
 *
 * Throws an ImageError, before allocating, where a buffer would exceed the image limit
 * (`FXC_MAX_IMAGE_PIXELS`, limits.ts): only extreme aspect ratios get near it (a 4500x1 image resized
 * to 232 on its short side is 1044000x232).
 */
export async function resizeRgb(image: RgbImage, width: number, height: number, interpolation: Interpolation, options: ResizeOptions = {}): Promise<RgbImage> {
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`cannot resize to ${width}x${height}; sizes are positive integers`);
  }
  if (width === image.width && height === image.height) return image;
  checkResizeBuffers(image, width, height, interpolation);
  if (interpolation === "nearest") return resizeNearest(image, width, height);
  const keep = clampWindow(options.keep, width, height);
  const out = new Uint8Array(width * height * 3);
  resampleRows({ source: image.data, width: image.width, height: image.height, outWidth: width, outHeight: height, interpolation, rowStart: keep.top, rowEnd: keep.top + keep.height, columnStart: keep.left, columnEnd: keep.left + keep.width, out });
  return { data: out, width, height };
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

/** The window within a width x height output (all of it when none is given). */
function clampWindow(keep: Window | undefined, width: number, height: number): Window {
  if (keep === undefined) return { left: 0, top: 0, width, height };
  const left = Math.min(Math.max(0, keep.left), width);
  const top = Math.min(Math.max(0, keep.top), height);
  return { left, top, width: Math.max(0, Math.min(width, keep.left + keep.width) - left), height: Math.max(0, Math.min(height, keep.top + keep.height) - top) };
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
