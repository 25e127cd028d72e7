import type { RgbImage } from "./decode.js";

/** torchvision's interpolation modes that fxc reproduces, as PIL runs them on 8-bit RGB images. */
export type Interpolation = "bilinear" | "bicubic" | "nearest";

/**
 * Resizes an 8-bit RGB image exactly as Pillow's `Image.resize` does, which is what torchvision's
 * presets run on PIL images: bilinear and bicubic are antialiased (the filter widens with the
 * downscale factor) and computed in Pillow's fixed point, so the result matches it bit for bit.
 * sharp's resize (libvips) aligns pixel centres differently on upscales and box-shrinks first
 * beyond 2× downscales: 0.03–0.10 in normalized units from torchvision (docs/images.md).
 */
export function resizeRgb(image: RgbImage, width: number, height: number, interpolation: Interpolation): RgbImage {
  if (!(Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`cannot resize to ${width}x${height}; sizes are positive integers`);
  }
  if (width === image.width && height === image.height) return image;
  if (interpolation === "nearest") return resizeNearest(image, width, height);
  const filter = interpolation === "bicubic" ? BICUBIC : BILINEAR;
  // Pillow's ImagingResampleInner: a horizontal pass over the rows the vertical pass reads, then a vertical pass.
  const horizontal = precomputeCoeffs(image.width, width, filter);
  const vertical = precomputeCoeffs(image.height, height, filter);
  let current = image;
  let verticalBounds = vertical.bounds;
  if (width !== image.width) {
    const first = vertical.bounds[0]!;
    const last = vertical.bounds[height * 2 - 2]! + vertical.bounds[height * 2 - 1]!;
    verticalBounds = vertical.bounds.slice();
    for (let i = 0; i < height; i++) verticalBounds[i * 2] -= first;
    current = resampleHorizontal(image, width, first, last - first, horizontal);
  }
  if (height !== image.height) current = resampleVertical(current, height, { ...vertical, bounds: verticalBounds });
  return current;
}

interface Filter {
  readonly support: number;
  readonly weight: (x: number) => number;
}

const BILINEAR: Filter = {
  support: 1,
  weight: (x) => {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
  },
};

const A = -0.5; // Pillow's bicubic is Keys' kernel with a = -0.5
const BICUBIC: Filter = {
  support: 2,
  weight: (x) => {
    if (x < 0) x = -x;
    if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * A;
    return 0;
  },
};

/** Pillow's fixed point for 8-bit images: 32 bits minus 8 for the pixel and 2 for the sign and overflow. */
const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coeffs {
  /** Taps per output pixel. */
  readonly ksize: number;
  /** Per output pixel: first input index and tap count. */
  readonly bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  readonly kk: Int32Array;
}

/** Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, with C's truncating casts. */
function precomputeCoeffs(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      weights[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? weights[x]! / ww : weights[x]!;
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

function resampleHorizontal(image: RgbImage, width: number, rowOffset: number, rows: number, c: Coeffs): RgbImage {
  const src = image.data;
  const out = new Uint8Array(width * rows * 3);
  for (let yy = 0; yy < rows; yy++) {
    const rowStart = (yy + rowOffset) * image.width * 3;
    for (let xx = 0; xx < width; xx++) {
      const xmin = c.bounds[xx * 2]!;
      const xmax = c.bounds[xx * 2 + 1]!;
      const k = xx * c.ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < xmax; x++) {
        const w = c.kk[k + x]!;
        const p = rowStart + (x + xmin) * 3;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      const o = (yy * width + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { data: out, width, height: rows };
}

function resampleVertical(image: RgbImage, height: number, c: Coeffs): RgbImage {
  const src = image.data;
  const stride = image.width * 3;
  const out = new Uint8Array(stride * height);
  for (let yy = 0; yy < height; yy++) {
    const ymin = c.bounds[yy * 2]!;
    const ymax = c.bounds[yy * 2 + 1]!;
    const k = yy * c.ksize;
    for (let xx = 0; xx < image.width; xx++) {
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let y = 0; y < ymax; y++) {
        const w = c.kk[k + y]!;
        const p = (y + ymin) * stride + xx * 3;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      const o = yy * stride + xx * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { data: out, width: image.width, height };
}

/**
 * Pillow's nearest resize (an affine scale): the source of output pixel x is trunc((x + 0.5) * scale),
 * with the position accumulated step by step as Pillow does.
 */
function resizeNearest(image: RgbImage, width: number, height: number): RgbImage {
  const sx = image.width / width;
  const sy = image.height / height;
  const xin = new Int32Array(width);
  let xo = sx * 0.5;
  for (let x = 0; x < width; x++) {
    xin[x] = Math.min(Math.trunc(xo), image.width - 1);
    xo += sx;
  }
  const out = new Uint8Array(width * height * 3);
  let yo = sy * 0.5;
  for (let y = 0; y < height; y++) {
    const row = Math.min(Math.trunc(yo), image.height - 1) * image.width * 3;
    for (let x = 0; x < width; x++) {
      const p = row + xin[x]! * 3;
      const o = (y * width + x) * 3;
      out[o] = image.data[p]!;
      out[o + 1] = image.data[p + 1]!;
      out[o + 2] = image.data[p + 2]!;
    }
    yo += sy;
  }
  return { data: out, width, height };
}
