import type { Sharp } from "sharp";
import { loadSharp, type RgbImage, type SharpFactory } from "./decode.js";

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
 * - upscales: `affine`, sampling at Pillow's pixel centres over an edge-copied border;
 * - downscales under 4×: `resize`, whose filter is Pillow's;
 * - downscales from 4×: `convolve` with Pillow's filter stretched by the factor, then `affine`
 *   samples the filtered image at Pillow's centres (in 16 bits, so only the last step rounds);
 *   near the ends, where part of the filter falls outside, the result is rescaled as Pillow does.
 * Like Pillow, the horizontal pass runs first and its result is rounded to 8 bits. Nearest selects
 * pixels by Pillow's own arithmetic (`selectNearest`).
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

/** sharp's convolution kernels are at most 1001 pixels wide. */
const MAX_TAPS = 1001;

/** An RGB raster from sharp: 8-bit, or 16-bit holding 8-bit values times 256. */
interface Raster {
  readonly data: Uint8Array | Uint16Array;
  readonly width: number;
  readonly height: number;
}

async function resizeAxis(image: RgbImage, axis: Axis, size: number, interpolation: Interpolation): Promise<RgbImage> {
  const from = axis === "x" ? image.width : image.height;
  if (size === from) return image;
  if (interpolation === "nearest") return selectNearest(image, axis, size);
  const factor = from / size;
  const sharp = await loadSharp();
  if (factor < 1) {
    return rgb(await sampleAlong(await raw(extendAlong(input(sharp, image), axis, SAMPLER_REACH, "copy")), axis, SAMPLER_REACH, size, from, interpolation));
  }
  const filter = interpolation === "bicubic" ? KEYS_CUBIC : TRIANGLE;
  if (factor < BOX_SHRINK_FROM) {
    const [width, height] = axis === "x" ? [size, image.height] : [image.width, size];
    return rgb(await raw(input(sharp, image).resize(width, height, { fit: "fill", kernel: interpolation === "bicubic" ? "cubic" : "linear" })));
  }
  const widest = Math.floor((MAX_TAPS - 1) / 2 / filter.support);
  if (factor > widest) {
    // Beyond sharp's widest kernel (a 250x bicubic or 500x bilinear downscale), filter in two steps,
    // the first as small as it can be, so that the blur it adds is small against the second's.
    return resizeAxis(await resizeAxis(image, axis, size * widest, interpolation), axis, size, interpolation);
  }
  const taps = filterTaps(filter, factor);
  const border = (taps.length - 1) / 2 + SAMPLER_REACH;
  const filterAndSample = async (raster: RgbImage): Promise<Raster> => {
    const filtered = await raw(extendAlong(input(sharp, raster), axis, border, "black").convolve(convolution(taps, axis)), "ushort");
    return sampleAlong(filtered, axis, border, size, from, interpolation);
  };
  // Pillow drops the part of its filter that falls outside the image and rescales the rest to sum
  // to 1. Here the image is extended with black, and each output divided by what the same steps
  // make of a white line: the share of the filter that fell inside.
  const [filtered, coverage] = await Promise.all([filterAndSample(image), filterAndSample(whiteLine(image, axis))]);
  return renormalize(filtered, coverage, axis);
}

/**
 * Pillow's nearest: output pixel i takes input pixel trunc(p), p starting at half a step and
 * growing by a step (from / size) per pixel, summed in floating point as Pillow sums it. This is a
 * selection, not a filter, and it is not sharp's: where a position falls exactly on a pixel edge,
 * which is common (every fifth row of 600 -> 250), Pillow's running sum settles it, and libvips'
 * affine settles it otherwise.
 */
function selectNearest(image: RgbImage, axis: Axis, size: number): RgbImage {
  const from = axis === "x" ? image.width : image.height;
  const step = from / size;
  const source = new Int32Array(size);
  let position = step * 0.5;
  for (let i = 0; i < size; i++) {
    source[i] = Math.min(Math.trunc(position), from - 1);
    position += step;
  }
  const rowBytes = image.width * 3;
  if (axis === "y") {
    const out = new Uint8Array(rowBytes * size);
    for (let y = 0; y < size; y++) out.set(image.data.subarray(source[y]! * rowBytes, (source[y]! + 1) * rowBytes), y * rowBytes);
    return { data: out, width: image.width, height: size };
  }
  const out = new Uint8Array(size * image.height * 3);
  for (let y = 0, o = 0; y < image.height; y++) {
    for (let x = 0; x < size; x++, o += 3) {
      const i = y * rowBytes + source[x]! * 3;
      out[o] = image.data[i]!;
      out[o + 1] = image.data[i + 1]!;
      out[o + 2] = image.data[i + 2]!;
    }
  }
  return { data: out, width: size, height: image.height };
}

/** How far libvips' interpolators read beyond the pixel they sample at (bicubic: two pixels). */
const SAMPLER_REACH = 2;

function input(sharp: SharpFactory, raster: Raster): Sharp {
  return sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 3 } });
}

/** A one-pixel line of white along `axis`, as long as the image is. */
function whiteLine(image: RgbImage, axis: Axis): RgbImage {
  const [width, height] = axis === "x" ? [image.width, 1] : [1, image.height];
  return { data: new Uint8Array(width * height * 3).fill(255), width, height };
}

/** `filtered` (16-bit) divided by `coverage` (the white line's result, 255 * 256 where all of the filter fell inside), to 8 bits. */
function renormalize(filtered: Raster, coverage: Raster, axis: Axis): RgbImage {
  const { data, width, height } = filtered;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const share = coverage.data[(axis === "x" ? x : y) * 3]! / 255;
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c;
        out[i] = Math.min(255, Math.round(data[i]! / share));
      }
    }
  }
  return { data: out, width, height };
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

/** `border` pixels on both ends of `axis`: copies of the edge pixels, or black. */
function extendAlong(pipeline: Sharp, axis: Axis, border: number, fill: "copy" | "black"): Sharp {
  const [x, y] = axis === "x" ? [border, 0] : [0, border];
  const edges = { left: x, right: x, top: y, bottom: y };
  return pipeline.extend(fill === "copy" ? { ...edges, extendWith: "copy" } : { ...edges, background: { r: 0, g: 0, b: 0 } });
}

/**
 * Samples `padded` (the image with `border` pixels added on both ends of `axis`) at Pillow's
 * centres: output pixel X reads input position (X + 0.5) * from / size - 0.5. Keeps the depth.
 */
async function sampleAlong(padded: Raster, axis: Axis, border: number, size: number, from: number, interpolation: "bilinear" | "bicubic"): Promise<Raster> {
  const sharp = await loadSharp();
  const scale = size / from;
  // libvips maps input x to output scale * (x + idx) + odx, with a pixel's centre at its index.
  const shift = 0.5 - border;
  const interpolator = sharp.interpolators[interpolation === "bicubic" ? "bicubic" : "bilinear"];
  const options = axis === "x" ? { idx: shift, odx: -0.5 } : { idy: shift, ody: -0.5 };
  const matrix: [number, number, number, number] = axis === "x" ? [scale, 0, 0, 1] : [1, 0, 0, scale];
  const sixteenBit = padded.data instanceof Uint16Array;
  const affine = input(sharp, padded).affine(matrix, { ...options, interpolator });
  // A 16-bit input stays 16-bit only if asked to; sharp would otherwise convert it to 8-bit sRGB.
  const sampled = await raw(sixteenBit ? affine.toColourspace("rgb16") : affine, sixteenBit ? "ushort" : "uchar");
  const [width, height] = axis === "x" ? [size, padded.height] : [padded.width, size];
  return cropTopLeft(sampled, width, height);
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

/** An 8-bit raster as the image it is. */
function rgb(raster: Raster): RgbImage {
  const { data, width, height } = raster;
  if (!(data instanceof Uint8Array)) throw new Error("expected an 8-bit raster");
  return { data, width, height };
}
