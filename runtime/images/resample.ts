/**
 * Pillow's antialiased resampling (`ImagingResample` in its Resample.c) for 8-bit RGB, ported
 * operation for operation so that the result equals Pillow's bit for bit: the same coefficients
 * (computed here in double precision, then rounded to 22-bit fixed point), the same integer sums and
 * clipping (resample.wat's SIMD passes, several channels at a time), the horizontal pass first over
 * only the rows the vertical pass reads.
 *
 * `resampleRows` computes a band of output rows and columns (a center crop computes only what it
 * keeps): every output pixel depends only on its own coefficients and the source, so a band gives
 * the same bytes as the whole resize.
 */

import { RESAMPLE_WASM_BASE64 } from "./resampleWasm.js";

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

/** What this file uses of WebAssembly's API, which the libraries in this project's settings do not declare. */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: object };
};

/** The passes of resample.wat, over its memory. */
interface ResampleKernels {
  readonly memory: WasmMemory;
  horizontal(src: number, srcStride: number, rows: number, first: number, count: number, weights: number, ksize: number, colStart: number, colEnd: number, dst: number, dstStride: number): void;
  vertical(src: number, srcStride: number, rowOffset: number, first: number, count: number, weights: number, ksize: number, rowStart: number, rowEnd: number, byteFrom: number, byteTo: number, dst: number, dstStride: number): void;
}

let kernels: ResampleKernels | undefined;

/** resample.wat, instantiated once per thread (the module is under 1 kB: compiling it takes microseconds). */
function resampleKernels(): ResampleKernels {
  if (kernels === undefined) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(RESAMPLE_WASM_BASE64, "base64")));
    kernels = instance.exports as unknown as ResampleKernels;
  }
  return kernels;
}

/**
 * Regions of the kernels' memory, handed out in order from 0 for one band: the memory grows to
 * the largest band a thread has computed and is reused for the next.
 */
class Arena {
  private end = 0;
  constructor(private readonly memory: WasmMemory) {}

  /** `bytes` bytes (and 16 of padding after them, which the kernels may read or write past the end), 16-aligned. */
  take(bytes: number): number {
    const at = this.end;
    this.end = Math.ceil((at + bytes + 16) / 16) * 16;
    const missing = this.end - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / 65536));
    return at;
  }

  /** A coefficient table copied in: its `first`, `count` and `weights` addresses. */
  coefficients(c: Coeffs): { first: number; count: number; weights: number; ksize: number } {
    const first = this.copy(c.first);
    const count = this.copy(c.count);
    return { first, count, weights: this.copy(c.weights), ksize: c.ksize };
  }

  private copy(values: Int32Array): number {
    const at = this.take(values.byteLength);
    new Int32Array(this.memory.buffer, at, values.length).set(values);
    return at;
  }

  bytes(at: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, at, length);
  }
}

/** Source rows copied into the kernels' memory per call of the horizontal pass: a few hundred kB for a photo. */
const ROWS_PER_CHUNK = 64;

/**
 * The horizontal pass over source rows [rowFrom, rowTo) into `dst` (one output row per source row,
 * `dstStride` bytes apart): the rows go through the kernels' memory a chunk at a time.
 */
function horizontalPass(k: ResampleKernels, arena: Arena, source: Uint8Array, width: number, rowFrom: number, rowTo: number, c: Coeffs, columns: Columns, dst: number, dstStride: number): void {
  const coeffs = arena.coefficients(c);
  const stride = width * 3;
  const chunk = arena.take(Math.min(ROWS_PER_CHUNK, rowTo - rowFrom) * stride);
  for (let y = rowFrom; y < rowTo; y += ROWS_PER_CHUNK) {
    const rows = Math.min(ROWS_PER_CHUNK, rowTo - y);
    arena.bytes(chunk, rows * stride).set(source.subarray(y * stride, (y + rows) * stride));
    k.horizontal(chunk, stride, rows, coeffs.first, coeffs.count, coeffs.weights, coeffs.ksize, columns.start, columns.end, dst + (y - rowFrom) * dstStride, dstStride);
  }
}

/** Copies rows [rowStart, rowEnd) of `columns` from the kernels' memory (first row at `from`, `stride` apart) to their place in `out`. */
function copyOut(arena: Arena, from: number, stride: number, rowStart: number, rowEnd: number, rowBytes: number, columns: Columns, out: Uint8Array): void {
  const [start, end] = [columns.start * 3, columns.end * 3];
  for (let yy = rowStart; yy < rowEnd; yy++) {
    out.set(arena.bytes(from + (yy - rowStart) * stride + start, end - start), yy * rowBytes + start);
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

/**
 * Computes output rows [rowStart, rowEnd) of Pillow's resize of `source` into `out`: the horizontal
 * pass first, over only the source rows the vertical pass reads, as Pillow orders them (its 8-bit
 * intermediate rows make the order matter).
 */
export function resampleRows(band: ResampleBand): void {
  const { source, width, height, outWidth, outHeight, interpolation, rowStart, rowEnd, out } = band;
  const rowBytes = outWidth * 3;
  const columns: Columns = { start: band.columnStart ?? 0, end: band.columnEnd ?? outWidth };
  if (rowEnd <= rowStart || columns.end <= columns.start) return;
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  if (!needHorizontal && !needVertical) {
    out.set(source.subarray(rowStart * rowBytes, rowEnd * rowBytes), rowStart * rowBytes);
    return;
  }
  const k = resampleKernels();
  const arena = new Arena(k.memory);
  if (!needVertical) {
    const rows = arena.take((rowEnd - rowStart) * rowBytes);
    horizontalPass(k, arena, source, width, rowStart, rowEnd, precomputeCoeffs(width, outWidth, interpolation), columns, rows, rowBytes);
    copyOut(arena, rows, rowBytes, rowStart, rowEnd, rowBytes, columns, out);
    return;
  }
  const vertical = precomputeCoeffs(height, outHeight, interpolation);
  const { from, to } = rowsRead(vertical, rowStart, rowEnd);
  // The vertical pass reads the rows it filters: the horizontal pass's output, or the source's own rows.
  const across = arena.take((to - from) * rowBytes);
  if (needHorizontal) horizontalPass(k, arena, source, width, from, to, precomputeCoeffs(width, outWidth, interpolation), columns, across, rowBytes);
  else arena.bytes(across, (to - from) * rowBytes).set(source.subarray(from * rowBytes, to * rowBytes));
  const coeffs = arena.coefficients(vertical);
  const rows = arena.take((rowEnd - rowStart) * rowBytes);
  k.vertical(across, rowBytes, from, coeffs.first, coeffs.count, coeffs.weights, coeffs.ksize, rowStart, rowEnd, columns.start * 3, columns.end * 3, rows, rowBytes);
  copyOut(arena, rows, rowBytes, rowStart, rowEnd, rowBytes, columns, out);
}
