/**
 * Pillow's antialiased resampling (`ImagingResample` in its Resample.c) for 8-bit RGB, ported
 * operation for operation so that the result equals Pillow's bit for bit: the same coefficients
 * (computed in double precision, then rounded to 22-bit fixed point), the same integer sums, the same
 * clipping, the horizontal pass first over only the rows the vertical pass reads.
 *
 * `resampleRows` computes a band of output rows, so that one image can be split over threads:
 * every output pixel depends only on its own coefficients and the source, so bands computed
 * separately give the same bytes as one pass.
 */

/** The filtered modes; nearest is a selection and lives in resize.ts. */
export type FilteredInterpolation = "bilinear" | "bicubic";

/** What to resample: an 8-bit RGB source, the output size, and the output rows to compute. */
export interface ResampleBand {
  readonly source: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly outWidth: number;
  readonly outHeight: number;
  readonly interpolation: FilteredInterpolation;
  /** Output rows [rowStart, rowEnd) are written into `out`, which holds the whole output image. */
  readonly rowStart: number;
  readonly rowEnd: number;
  /**
   * Of those rows, output columns [columnStart, columnEnd) at least (all by default): a center crop
   * needs no more, and the horizontal pass, most of the work, then skips the columns cut away.
   * Every output pixel is computed alone, so the columns computed equal the whole resize's.
   */
  readonly columnStart?: number;
  readonly columnEnd?: number;
  readonly out: Uint8Array;
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

/** Pillow's per-output-pixel filter taps along one axis. */
export interface Coeffs {
  /** Taps per output pixel (the stride of `weights`). */
  readonly ksize: number;
  /** Per output pixel: first input index. */
  readonly first: Int32Array;
  /** Per output pixel: tap count. */
  readonly count: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  readonly weights: Int32Array;
}

/** Taps per output pixel for a resize of `inSize` to `outSize` (Pillow's ksize): bounds the coefficient table. */
export function tapsPerPixel(inSize: number, outSize: number, interpolation: FilteredInterpolation): number {
  const filter = interpolation === "bicubic" ? BICUBIC : BILINEAR;
  return Math.ceil(filter.support * Math.max(1, inSize / outSize)) * 2 + 1;
}

/** Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, with C's truncating casts. */
export function precomputeCoeffs(inSize: number, outSize: number, interpolation: FilteredInterpolation): Coeffs {
  const filter = interpolation === "bicubic" ? BICUBIC : BILINEAR;
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const weights = new Int32Array(outSize * ksize);
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const raw = new Float64Array(ksize);
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
      raw[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? raw[x]! / ww : raw[x]!;
      weights[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, first, count, weights };
}

/** Output columns [start, end) to compute. */
interface Columns {
  readonly start: number;
  readonly end: number;
}

/** Pillow's clip8: the fixed-point sum back to a byte (the arithmetic shift floors negatives). */
function clip8(v: number): number {
  if (v <= 0) return 0;
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  return v >> PRECISION_BITS;
}

/**
 * The rows of source `rows` [rowFrom, rowTo), each resampled to `c`'s width, into `out` from its
 * start. Sums are int32 as in Pillow: a byte times a weight of at most 2^22, summed over weights whose
 * positive parts add up to under 1.2, stays below 2^31.
 */
function resampleHorizontal(source: Uint8Array, width: number, rowFrom: number, rowTo: number, c: Coeffs, outWidth: number, columns: Columns, out: Uint8Array): void {
  const { ksize, first, count, weights } = c;
  const stride = width * 3;
  for (let y = rowFrom; y < rowTo; y++) {
    const row = y * stride;
    let o = ((y - rowFrom) * outWidth + columns.start) * 3;
    for (let xx = columns.start; xx < columns.end; xx++) {
      const n = count[xx]!;
      const k = xx * ksize;
      let p = row + first[xx]! * 3;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < n; x++, p += 3) {
        const w = weights[k + x]!;
        s0 = (s0 + source[p]! * w) | 0;
        s1 = (s1 + source[p + 1]! * w) | 0;
        s2 = (s2 + source[p + 2]! * w) | 0;
      }
      out[o++] = clip8(s0);
      out[o++] = clip8(s1);
      out[o++] = clip8(s2);
    }
  }
}

/**
 * Output rows [rowStart, rowEnd) of the vertical pass over `source` (whose row 0 is input row
 * `rowOffset`), written at their place in `out`. Each output row accumulates whole input rows, so
 * memory is read in order; integer sums do not depend on the order they are added in.
 */
function resampleVertical(source: Uint8Array, rowBytes: number, rowOffset: number, c: Coeffs, rowStart: number, rowEnd: number, columns: Columns, out: Uint8Array): void {
  const { ksize, first, count, weights } = c;
  const sums = new Int32Array(rowBytes);
  const [from, to] = [columns.start * 3, columns.end * 3];
  for (let yy = rowStart; yy < rowEnd; yy++) {
    sums.fill(HALF);
    const n = count[yy]!;
    const k = yy * ksize;
    for (let y = 0; y < n; y++) {
      const w = weights[k + y]!;
      if (w === 0) continue;
      const row = (first[yy]! + y - rowOffset) * rowBytes;
      for (let i = from; i < to; i++) sums[i] = (sums[i]! + source[row + i]! * w) | 0;
    }
    const o = yy * rowBytes;
    for (let i = from; i < to; i++) out[o + i] = clip8(sums[i]!);
  }
}

/** The input rows that output rows [rowStart, rowEnd) read through the vertical filter: [from, to). */
export function rowsRead(c: Coeffs, rowStart: number, rowEnd: number): { from: number; to: number } {
  let from = Infinity;
  let to = 0;
  for (let yy = rowStart; yy < rowEnd; yy++) {
    from = Math.min(from, c.first[yy]!);
    to = Math.max(to, c.first[yy]! + c.count[yy]!);
  }
  return { from, to };
}

/** Computes output rows [rowStart, rowEnd) of Pillow's resize of `source` into `out`. */
export function resampleRows(band: ResampleBand): void {
  const { source, width, height, outWidth, outHeight, interpolation, rowStart, rowEnd, out } = band;
  const rowBytes = outWidth * 3;
  const columns: Columns = { start: band.columnStart ?? 0, end: band.columnEnd ?? outWidth };
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  if (!needVertical) {
    const target = out.subarray(rowStart * rowBytes, rowEnd * rowBytes);
    if (needHorizontal) resampleHorizontal(source, width, rowStart, rowEnd, precomputeCoeffs(width, outWidth, interpolation), outWidth, columns, target);
    else target.set(source.subarray(rowStart * rowBytes, rowEnd * rowBytes));
    return;
  }
  const vertical = precomputeCoeffs(height, outHeight, interpolation);
  if (!needHorizontal) {
    resampleVertical(source, rowBytes, 0, vertical, rowStart, rowEnd, columns, out);
    return;
  }
  const { from, to } = rowsRead(vertical, rowStart, rowEnd);
  const across = new Uint8Array((to - from) * rowBytes);
  resampleHorizontal(source, width, from, to, precomputeCoeffs(width, outWidth, interpolation), outWidth, columns, across);
  resampleVertical(across, rowBytes, from, vertical, rowStart, rowEnd, columns, out);
}
