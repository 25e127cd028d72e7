/**
 * A scalar port of Pillow's 8-bit resampling passes (Resample.c), one channel and one tap at a time:
 * the oracle that the SIMD passes (runtime/images/resample.wat) are checked against on sizes, filters
 * and windows the Pillow fixtures do not reach. It was the runtime's own implementation before them.
 */
import { precomputeCoeffs, rowsRead, type Coeffs, type ResampleBand } from "../../runtime/images/resample.js";

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

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

/** Computes output rows [rowStart, rowEnd) of Pillow's resize of `source` into `out`. */
export function scalarResampleRows(band: ResampleBand): void {
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
