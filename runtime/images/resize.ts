import type { Sharp } from "sharp";
import { loadSharp, type RgbImage } from "./decode.js";

/** torchvision's interpolation modes that fxc reproduces, as PIL runs them on 8-bit RGB images. */
export type Interpolation = "bilinear" | "bicubic" | "nearest";

/**
 * Resizes an 8-bit RGB image with sharp (libvips) to what Pillow's `Image.resize` gives, which is
 * what torchvision's presets run on PIL images: bilinear and bicubic are antialiased (the filter
 * widens with the downscale factor), nearest takes the pixel under each output pixel's centre.
 *
 * sharp's `resize` alone does not give Pillow's result: on upscales libvips aligns pixel centres
 * differently, and from a 4× downscale on it first shrinks with a box filter. So each axis takes
 * the sharp operation that matches Pillow there (docs/images.md has the measurements):
 * - upscales and nearest: `affine`, sampling at Pillow's pixel centres over an edge-copied border;
 * - downscales under 4×: `resize`, whose filter is Pillow's;
 * - downscales from 4×: `convolve` with Pillow's filter stretched by the factor, then `affine`
 *   samples the filtered image at Pillow's centres (in 16 bits, so only the last step rounds).
 * Like Pillow, the horizontal pass runs first and its result is rounded to 8 bits.
 */
export async function resizeRgb(image: RgbImage, width: number, height: number, interpolation: Interpolation): Promise<RgbImage> {
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`cannot resize to ${width}x${height}; sizes are positive integers`);
  }
  const across = await resizeAxis(image, "x", width, interpolation);
  return resizeAxis(across, "y", height, interpolation);
}

type Axis = "x" | "y";

/** Pillow's filters, in units of input pixels at scale 1; `support` is the half-width. */
interface Filter {
  readonly support: number;
  readonly weight: (x: number) => number;
}

const TRIANGLE: Filter = { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) };

const A = -0.5; // Pillow's bicubic is Keys' kernel with a = -0.5
const KEYS_CUBIC: Filter = {
  support: 2,
  weight: (x) => {
    x = Math.abs(x);
    if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * A;
    return 0;
  },
};

/** From this downscale factor on, libvips' resize box-shrinks before filtering. */
const BOX_SHRINK_FROM = 4;

/** An RGB raster from sharp: 8-bit, or 16-bit holding 8-bit values times 256. */
interface Raster {
  readonly data: Uint8Array | Uint16Array;
  readonly width: number;
  readonly height: number;
}

async function resizeAxis(image: RgbImage, axis: Axis, size: number, interpolation: Interpolation): Promise<RgbImage> {
  const from = axis === "x" ? image.width : image.height;
  if (size === from) return image;
  const factor = from / size;
  const sharp = await loadSharp();
  const input = (raster: Raster): Sharp => sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 3 } });
  const filter = interpolation === "bicubic" ? KEYS_CUBIC : TRIANGLE;
  if (interpolation !== "nearest" && factor > 1 && factor < BOX_SHRINK_FROM) {
    const [width, height] = axis === "x" ? [size, image.height] : [image.width, size];
    const kernel = interpolation === "bicubic" ? "cubic" : "linear";
    return rgb(await raw(input(image).resize(width, height, { fit: "fill", kernel })));
  }
  // The sampler reads up to two pixels beyond its centre; the convolution, the filter's reach.
  let border = 2;
  let pipeline = input(image);
  if (interpolation !== "nearest" && factor > 1) {
    const taps = filterTaps(filter, factor);
    border += (taps.length - 1) / 2;
    pipeline = extendAlong(pipeline, axis, border).convolve(convolution(taps, axis));
  } else {
    pipeline = extendAlong(pipeline, axis, border);
  }
  const padded = await raw(pipeline, factor > 1 && interpolation !== "nearest" ? "ushort" : "uchar");
  return sampleAlong(input, padded, axis, border, size, from, interpolation);
}

/** Pillow's filter stretched by a downscale factor, at whole-pixel offsets, scaled to sum to 256 (16-bit output). */
function filterTaps(filter: Filter, factor: number): number[] {
  const reach = Math.ceil(filter.support * factor);
  const taps: number[] = [];
  for (let d = -reach; d <= reach; d++) taps.push(filter.weight(d / factor));
  const sum = taps.reduce((a, b) => a + b, 0);
  return taps.map((t) => (t * 256) / sum);
}

/** A one-dimensional kernel as the 3-wide 2-D kernel sharp takes (its smallest). */
function convolution(taps: readonly number[], axis: Axis): { width: number; height: number; kernel: number[]; scale: number } {
  const n = taps.length;
  const kernel = new Array<number>(n * 3).fill(0);
  for (let i = 0; i < n; i++) kernel[axis === "x" ? n + i : i * 3 + 1] = taps[i]!;
  return axis === "x" ? { width: n, height: 3, kernel, scale: 1 } : { width: 3, height: n, kernel, scale: 1 };
}

function extendAlong(pipeline: Sharp, axis: Axis, border: number): Sharp {
  const [x, y] = axis === "x" ? [border, 0] : [0, border];
  return pipeline.extend({ left: x, right: x, top: y, bottom: y, extendWith: "copy" });
}

/**
 * Samples `padded` (the image with `border` copied pixels on both ends of `axis`) at Pillow's
 * centres: output pixel X reads input position (X + 0.5) * from / size - 0.5.
 */
async function sampleAlong(
  input: (raster: Raster) => Sharp,
  padded: Raster,
  axis: Axis,
  border: number,
  size: number,
  from: number,
  interpolation: Interpolation,
): Promise<RgbImage> {
  const sharp = await loadSharp();
  const scale = size / from;
  // libvips maps input x to output scale * (x + idx) + odx; its interpolators put a pixel's centre
  // at its index, its nearest neighbour at index + 0.5.
  const shift = (interpolation === "nearest" ? 0 : 0.5) - border;
  const interpolator = sharp.interpolators[interpolation === "bicubic" ? "bicubic" : interpolation === "nearest" ? "nearest" : "bilinear"];
  const options = axis === "x" ? { idx: shift, odx: -0.5 } : { idy: shift, ody: -0.5 };
  const matrix: [number, number, number, number] = axis === "x" ? [scale, 0, 0, 1] : [1, 0, 0, scale];
  const sixteenBit = padded.data instanceof Uint16Array;
  const affine = input(padded).affine(matrix, { ...options, interpolator });
  // A 16-bit input stays 16-bit only if asked to; sharp would otherwise convert it to 8-bit sRGB.
  const sampled = await raw(sixteenBit ? affine.toColourspace("rgb16") : affine, sixteenBit ? "ushort" : "uchar");
  const [width, height] = axis === "x" ? [size, padded.height] : [padded.width, size];
  return rgb(cropTopLeft(sampled, width, height));
}

async function raw(pipeline: Sharp, depth: "uchar" | "ushort" = "uchar"): Promise<Raster> {
  const { data, info } = await pipeline.raw({ depth }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`sharp returned ${info.channels} channels where 3 were expected`);
  const pixels = depth === "ushort" ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { data: pixels, width: info.width, height: info.height };
}

function cropTopLeft(raster: Raster, width: number, height: number): Raster {
  if (raster.width < width || raster.height < height) {
    throw new Error(`sharp's affine gave ${raster.width}x${raster.height} where at least ${width}x${height} was expected`);
  }
  if (raster.width === width && raster.height === height) return raster;
  const out = raster.data instanceof Uint16Array ? new Uint16Array(width * height * 3) : new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) out.set(raster.data.subarray(y * raster.width * 3, (y * raster.width + width) * 3), y * width * 3);
  return { data: out, width, height };
}

/** 8-bit RGB from a raster, rounding 16-bit values (8-bit times 256) to the nearest level. */
function rgb(raster: Raster): RgbImage {
  const { data, width, height } = raster;
  if (data instanceof Uint8Array) return { data, width, height };
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(255, (data[i]! + 128) >> 8);
  return { data: out, width, height };
}
