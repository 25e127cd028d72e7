import type { FusedActivation } from "../ops/support/activation.js";
import type { Tensor, Tensor3D } from "../ops/tf.js";
import { MAX_WORKGROUPS_PER_DIMENSION, runProgram, type WebgpuProgram } from "./program.js";
import { wgslFloat } from "./rows.js";
import { InternalError } from "../errors.js";

/**
 * The one matrix-product shader every fxc product runs (linear, matmul, conv2d as implicit GEMM):
 * `result[b, M, N] = act(A[b] @ B[b] + bias + addend)`, generated for the layer it serves.
 *
 * A workgroup computes a BM x BN tile of the output, stepping BK along K through workgroup memory;
 * each thread keeps TM x TN (TN = 4, one vec4 per row) outputs in registers. K, N and a
 * convolution's geometry are constants in the source (an ahead-of-time compiler knows them): the
 * loop over K has a constant trip count, and only the bounds checks the shape needs are written.
 * M (rows: tokens, or batch x output pixels) and the batch are read at run time, so one pipeline
 * serves every batch size.
 *
 * The A operand comes from a loader: a row-major [M, K] matrix, or implicit im2col over an NHWC
 * input (row = output pixel, column = (kh, kw, c)), read straight from the input so that no im2col
 * buffer is ever written. B is [K, N] row-major (an HWIO filter is one as [KH*KW*C, O]).
 * A matrix's rows may be layer-normalized on the way in (the prologue: a linear reading a layer
 * norm, layerNormLinear), so that the normalized matrix is never written either.
 *
 * In half precision (`precision: "f16"`, webgpuKernels "fxc-f16", which needs the device's
 * shader-f16) the workgroup tiles of A and B hold f16, rounded as they are stored, and each BK
 * step's products are summed in f16 (vec4<f16> FMAs into a partial sum), which is then added into
 * the f32 accumulators. Everything else stays f32: global memory (tfjs's tensors are float32), the
 * layer-norm prologue's statistics and normalization (rounded to f16 only as the tile is stored),
 * and the epilogue (bias, residual, activation, the stored result).
 *
 * A product with too few output tiles to occupy a big GPU splits K (chooseSplitK): S workgroups
 * per tile each walk a slice of K and write their raw fp32 sums, and a second program adds the S
 * slices in a fixed order and applies the epilogue. No atomics: results repeat bit for bit.
 */

/**
 * What a BK step's products are computed in: "f32" throughout, or "f16" tiles and partial sums
 * (f32 accumulators across steps). An f16 value keeps 11 significant bits: each operand rounded to
 * it is off by at most 2^-11 (4.9e-4) of itself, and values past 65504 do not fit at all.
 */
export type GemmPrecision = "f32" | "f16";

/** Output tile of a workgroup (BM x BN), K step (BK), and the outputs each thread keeps (TM x TN). */
export interface GemmTile {
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  readonly tm: number;
  readonly tn: number;
}

/** A convolution's geometry as the im2col loader reads it (NHWC input, HWIO filter, torch's symmetric padding). */
export interface ConvGeometry {
  readonly inHeight: number;
  readonly inWidth: number;
  readonly channels: number;
  readonly kernelHeight: number;
  readonly kernelWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly padHeight: number;
  readonly padWidth: number;
  readonly dilationHeight: number;
  readonly dilationWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
}

/** Where the A operand's rows come from: a row-major [M, K] matrix, or the im2col rows of a convolution's input. */
export type GemmLoader = { readonly kind: "matrix" } | { readonly kind: "im2col"; readonly conv: ConvGeometry };

/**
 * A layer norm over A's rows (over K) applied as A is loaded: the workgroup computes each of its
 * rows' mean and 1/sqrt(variance + eps) before its K loop (two passes over the row, as tfjs's
 * moments), then each value loaded is (a - mean) * rstd * gamma[k] + beta[k].
 */
export interface LayerNormPrologue {
  readonly eps: number;
  readonly gamma: boolean;
  readonly beta: boolean;
}

/** Everything the generated source depends on: equal specs mean equal sources. */
export interface GemmSpec {
  readonly k: number;
  readonly n: number;
  readonly loader: GemmLoader;
  /** Whether A, B have one matrix per batch entry (false: one matrix shared by all, as a broadcast batch dim). */
  readonly aBatched: boolean;
  readonly bBatched: boolean;
  readonly bias: boolean;
  /** A tensor of the output's shape added before the activation (a residual). */
  readonly addend: boolean;
  readonly activation: FusedActivation | undefined;
  /** The matrix loader's rows layer-normalized as they are loaded; absent: A as it is. */
  readonly layerNorm?: LayerNormPrologue;
  readonly tile: GemmTile;
  readonly precision: GemmPrecision;
  /**
   * Slices of K (S >= 1; absent: 1), each a workgroup of its own along the dispatch's z with the
   * batch: S = 1 is the one-pass product with its epilogue; S > 1 writes each slice's raw fp32 sums
   * to a [batch * S, M, N] scratch tensor that splitKSumShader adds and finishes (chooseSplitK).
   */
  readonly splitK?: number;
}

/**
 * The tile for a product of these sizes. Big layers get 64x64 tiles with 4x4 outputs per thread
 * (256 threads, 16 multiply-adds per pair of workgroup-memory reads); a narrow output (N <= 32)
 * gets a narrower tile so that threads do not idle on columns past N, and few rows (M < 256: ViT's
 * tokens at batch 1, late convolution stages) get shorter tiles so that more workgroups keep the
 * GPU's cores busy; a handful of rows (M <= 8: a head on pooled features, a few tokens) gets a
 * tile of 4 or 8 rows where N is wide enough to keep 64 threads a workgroup, so that fewer rows
 * past M are computed for nothing (5 tokens: 3 of 8 rows, not 11 of 16). K below 16 steps 8 at a
 * time.
 */
export function chooseGemmTile(m: number, n: number, k: number): GemmTile {
  const bn = n <= 16 ? 16 : n <= 32 ? 32 : 64;
  // At least 64 threads a workgroup (BN/4 x BM with one row each) keeps two warps of 32 busy.
  const fewRows = Math.max(m <= 4 ? 4 : m <= 8 ? 8 : 16, 256 / bn);
  const [bm, tm] = m <= 16 ? [fewRows, 1] : m < 256 ? [32, 2] : [64, 4];
  return { bm, bn, bk: k <= 8 ? 8 : 16, tm, tn: 4 };
}

/**
 * Split-K (chooseSplitK): a product whose output tiles are too few to occupy a big GPU gets its K
 * walked in S slices by S workgroups per tile, then a second program adds the slices' sums.
 * WebGPU does not say how many cores (SMs, compute units) the device has; these assume a large
 * GPU's: an H100 has 132 SMs, an H200 as many.
 */
/** Workgroups a launch should reach: about one per core of a large GPU. Fewer leave cores idle while each walks all of K. */
export const SPLIT_K_TARGET_WORKGROUPS = 128;
/** The shortest K worth splitting: below it a workgroup's K loop is short, and the second pass and its scratch traffic would cost about what the split saves. */
export const SPLIT_K_MIN_K = 1024;
/** The least of K a slice walks (16 K tiles of 16): shorter slices would spend more on their loads' latency, the prologue and the scratch write than on products. */
export const SPLIT_K_MIN_SLICE = 256;

/**
 * The number of K slices for a product of these sizes on this tile (1: no split).
 *
 * One workgroup computes one BM x BN output tile over the whole of K, so a product with few
 * tiles (ceil(M / BM) x ceil(N / BN) x batch) runs on few cores however long K is: at batch 1
 * resnet50's layer4 3x3 convolution (M = 49, N = 512, K = 4608) is 16 workgroups of 32 x 64,
 * layer3's (M = 196, N = 256, K = 2304) 28, vit_b_16's MLP fc2 (M = 197, N = 768, K = 3072) 84,
 * on a GPU of 132 SMs. Splitting K into S slices multiplies the workgroups by S at the price of
 * a second, cheap program that reads S partial sums per output (see splitKSumShader).
 *
 * So: below SPLIT_K_TARGET_WORKGROUPS workgroups and with K of at least SPLIT_K_MIN_K, S is the
 * least that reaches SPLIT_K_TARGET_WORKGROUPS, but no more than keeps every slice at least
 * SPLIT_K_MIN_SLICE of K; then evened out so that no slice is empty (slices of whole BK tiles,
 * the last possibly shorter). Anything else (a launch that already fills the GPU, as every one of
 * those layers does at batch 32, or a short K) is S = 1, the one-pass product. The scratch of a
 * split is S x batch x M x N floats, at most S x workgroups tiles, and S x workgroups stays under
 * 2 x SPLIT_K_TARGET_WORKGROUPS: under 4 MiB with 64 x 64 tiles.
 *
 * With the layer-norm prologue each slice still computes its rows' statistics over the whole of
 * K (a row's mean and variance need all of it), so a split repeats those two reads of the rows
 * S times (2K reads of each row per workgroup, against the K / S of its K loop; rows that every
 * column tile's workgroup reads too, so mostly from cache). That is correct, rare and not
 * restricted; what it costs is unmeasured. At batch 1 it is e.g. swin's last patch merging (a
 * layer norm over 4C, then the reduction: swin_t's K = 1536, M = 49 splits in 6).
 */
export function chooseSplitK(m: number, n: number, k: number, tile: GemmTile, batch: number): number {
  const workgroups = Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) * batch;
  if (workgroups >= SPLIT_K_TARGET_WORKGROUPS || k < SPLIT_K_MIN_K) return 1;
  const wanted = Math.min(Math.ceil(SPLIT_K_TARGET_WORKGROUPS / workgroups), Math.floor(k / SPLIT_K_MIN_SLICE));
  return wanted < 2 ? 1 : splitKSlices(k, tile.bk, wanted).slices;
}

/**
 * How `splitK` slices K's ceil(K / BK) tiles: `tilesPerSlice` each (the last slice what is left),
 * and `slices`, the requested count less any slice that would have had no tile at all.
 */
export function splitKSlices(k: number, bk: number, splitK: number): { readonly slices: number; readonly tilesPerSlice: number } {
  const tiles = Math.ceil(k / bk);
  const tilesPerSlice = Math.ceil(tiles / splitK);
  return { slices: Math.ceil(tiles / tilesPerSlice), tilesPerSlice };
}

/** The tile's share of a shader key. */
const tileKey = (t: GemmTile): string => `${t.bm}x${t.bn}x${t.bk}_${t.tm}x${t.tn}`;

/** A convolution's geometry as part of a shader key: every field, in a fixed order. */
export function geometryKey(c: ConvGeometry): string {
  return [c.inHeight, c.inWidth, c.channels, c.kernelHeight, c.kernelWidth, c.strideHeight, c.strideWidth, c.padHeight, c.padWidth, c.dilationHeight, c.dilationWidth, c.outHeight, c.outWidth].join(",");
}

/** The loader's share of a shader key: every constant it writes into the source. */
const loaderKey = (loader: GemmLoader): string => (loader.kind === "matrix" ? "mat" : `im2col${geometryKey(loader.conv)}`);

/** The prologue's share of a shader key. */
const layerNormKey = (ln: LayerNormPrologue | undefined): string => (ln === undefined ? "" : `ln${ln.eps}${ln.gamma ? "g" : ""}${ln.beta ? "b" : ""}`);

/** The key tfjs caches the compiled pipeline by: every constant that changes the source. */
export function gemmShaderKey(spec: GemmSpec): string {
  const batching = `${spec.aBatched ? "a" : ""}${spec.bBatched ? "b" : ""}`;
  // f32's key is the one it had before there was a choice: an f16 shader appends its precision.
  return `fxcGemm_${spec.k}_${spec.n}_${loaderKey(spec.loader)}_${tileKey(spec.tile)}_${batching}_${spec.bias ? "bias" : ""}_${spec.addend ? "add" : ""}_${spec.activation ?? ""}_${layerNormKey(spec.layerNorm)}${spec.precision === "f16" ? "_f16" : ""}${splitKOf(spec) > 1 ? `_split${splitKOf(spec)}` : ""}`;
}

/** The spec's K slices (1 when absent). */
const splitKOf = (spec: Pick<GemmSpec, "splitK">): number => spec.splitK ?? 1;

/** Whether A is read 4 values at a time along K: 4 consecutive k are contiguous and 16-byte aligned. */
export function aIsVec4(spec: Pick<GemmSpec, "k" | "loader">): boolean {
  return spec.loader.kind === "matrix" ? spec.k % 4 === 0 : spec.loader.conv.channels % 4 === 0;
}

/** Whether B, the bias, the addend and the result are read and written 4 columns at a time. */
export function nIsVec4(spec: Pick<GemmSpec, "n">): boolean {
  return spec.n % 4 === 0;
}

/** The threads of a workgroup: one per TM x TN block of the tile. */
export function gemmWorkgroupSize(tile: GemmTile): [number, number, number] {
  return [tile.bn / tile.tn, tile.bm / tile.tm, 1];
}

/**
 * WGSL applying a fused activation to `name` (of WGSL type `type`, f32 or vec4<f32>) in place; "" for none.
 * GELU is torch's exact x/2 * (1 + erf(x/sqrt 2)); WGSL has no erf, so it is Abramowitz and Stegun's
 * 7.1.26, |error| <= 1.5e-7 (tfjs's own erf kernels use the same one), far inside fp32's bounds for the
 * 1e-5 fxc's kernels are held to.
 */
export function activationWgsl(activation: FusedActivation | undefined, name: string, type: string): string {
  if (activation === "relu") return `${name} = max(${name}, ${type}(0.0));`;
  if (activation === "relu6") return `${name} = clamp(${name}, ${type}(0.0), ${type}(6.0));`;
  if (activation === "gelu") {
    return `{
          let erfZ = ${name} * 0.7071067811865476;
          let erfT = 1.0 / (1.0 + 0.3275911 * abs(erfZ));
          let erfPoly = erfT * (0.254829592 + erfT * (-0.284496736 + erfT * (1.421413741 + erfT * (-1.453152027 + erfT * 1.061405429))));
          let erfValue = sign(erfZ) * (1.0 - erfPoly * exp(-erfZ * erfZ));
          ${name} = 0.5 * ${name} * (1.0 + erfValue);
        }`;
  }
  return "";
}

/** `a && b` of the conditions that apply, "" when none does. */
export const conjunction = (...conditions: (string | false)[]): string => conditions.filter(Boolean).join(" && ");

/** `if (cond) { body }`, or the body alone when no condition applies. */
export const guarded = (condition: string, body: string): string => (condition === "" ? body : `if (${condition}) { ${body} }`);

/**
 * WGSL computing, for A's row `row` and column `k` (i32s, `k` a multiple of 4 when `vec4`), the
 * value(s) of A into `v` (declared by the caller, zero where out of bounds). Checks only what the
 * shape needs: rows past M always (M is read at run time), K past its end when K is not a multiple
 * of BK, and a convolution's padding only along an axis that has some.
 */
function loadA(spec: GemmSpec, vec4: boolean, kChecked: boolean): string {
  const kGuard = kChecked ? "k < K" : "";
  if (spec.loader.kind === "matrix") {
    const index = `aBase + row * K + k`;
    return guarded(conjunction("row < M", kGuard), `v = A[${vec4 ? `(${index}) / 4` : index}];${normalized(spec.layerNorm, vec4)}`);
  }
  const c = spec.loader.conv;
  const index = `((image * ${c.inHeight} + ih) * ${c.inWidth} + iw) * ${c.channels} + channel`;
  return `
      let image = row / ${c.outHeight * c.outWidth};
      let pixel = row % ${c.outHeight * c.outWidth};
      let ih = (pixel / ${c.outWidth}) * ${c.strideHeight} - ${c.padHeight} + (k / ${c.channels * c.kernelWidth}) * ${c.dilationHeight};
      let iw = (pixel % ${c.outWidth}) * ${c.strideWidth} - ${c.padWidth} + ((k / ${c.channels}) % ${c.kernelWidth}) * ${c.dilationWidth};
      let channel = k % ${c.channels};
      ${guarded(
        conjunction("row < M", kGuard, c.padHeight > 0 && `ih >= 0 && ih < ${c.inHeight}`, c.padWidth > 0 && `iw >= 0 && iw < ${c.inWidth}`),
        `v = A[${vec4 ? `(${index}) / 4` : index}];`,
      )}`;
}

/**
 * WGSL normalizing `v`, A's value(s) at the tile's row `r` and column `k`, by the row's statistics
 * (layerNormStatistics) and the affine's gamma and beta; "" without a prologue.
 */
function normalized(ln: LayerNormPrologue | undefined, vec4: boolean): string {
  if (ln === undefined) return "";
  const column = vec4 ? "k / 4" : "k";
  return ` v = (v - rowMean[r]) * rowRstd[r]${ln.gamma ? ` * Gamma[${column}]` : ""}${ln.beta ? ` + Beta[${column}]` : ""};`;
}

/**
 * WGSL computing the mean and 1/sqrt(variance + eps) of each of the tile's BM rows of A into
 * workgroup memory, `perRow` threads a row: each sums a strided share of the row, one of them adds
 * the shares; the mean first, then the squares about it (a second read of the row, from cache).
 */
function layerNormStatistics(ln: LayerNormPrologue, vec4: boolean, perRow: number, K: number): string {
  const width = vec4 ? 4 : 1;
  const read = `A[(aBase + statRow * K) / ${width} + q]`;
  const share = (term: string): string => `
        if (statRow < M) {
          for (var q = statPart; q < ${K / width}; q = q + ${perRow}) {
            ${term}
          }
        }
        rowPartials[thread] = statSum;
        workgroupBarrier();`;
  const rowTotal = `var rowTotal = 0.0;
          for (var j = 0; j < ${perRow}; j = j + 1) {
            rowTotal = rowTotal + rowPartials[thread + j];
          }`;
  return `{
        let statPart = thread % ${perRow};
        let statLocal = thread / ${perRow};
        let statRow = tileRow + statLocal;
        var statSum = 0.0;${share(vec4 ? `statSum = statSum + dot(${read}, vec4<f32>(1.0));` : `statSum = statSum + ${read};`)}
        if (statPart == 0) {
          ${rowTotal}
          rowMean[statLocal] = rowTotal / ${wgslFloat(K)};
        }
        workgroupBarrier();
        let mean = rowMean[statLocal];
        statSum = 0.0;${share(`let d = ${read} - mean;
            statSum = statSum + ${vec4 ? "dot(d, d)" : "d * d"};`)}
        if (statPart == 0) {
          ${rowTotal}
          rowRstd[statLocal] = inverseSqrt(rowTotal / ${wgslFloat(K)} + ${wgslFloat(ln.eps)});
        }
        workgroupBarrier();
      }`;
}

/**
 * WGSL finishing a thread's `value` (vec4<f32>), the output at `row` and columns `col` to `col + 3`
 * of the batch entry at `outBase` (N a constant of the source): `terms` adds the bias and the addend
 * and applies the activation, `store` writes it. One epilogue for both programs that finish a
 * product, the one-pass GEMM and split-K's sum of its slices. `nChecked`: whether columns past N
 * occur (their reads clamped to N - 1, their stores skipped).
 */
function finishWgsl(spec: Pick<GemmSpec, "n" | "bias" | "addend" | "activation">, nChecked: boolean): { readonly terms: string; readonly store: string } {
  const nVec4 = nIsVec4(spec);
  const perColumn = (read: (col: string) => string): string =>
    `vec4<f32>(${[0, 1, 2, 3].map((j) => read(nChecked ? `min(col + ${j}, N - 1)` : `col + ${j}`)).join(", ")})`;
  const outIndex = "outBase + row * N + col";
  const terms = [
    spec.bias ? `value = value + ${nVec4 ? "Bias[col / 4]" : perColumn((col) => `Bias[${col}]`)};` : "",
    spec.addend ? `value = value + ${nVec4 ? `Addend[(${outIndex}) / 4]` : perColumn((col) => `Addend[outBase + row * N + ${col}]`)};` : "",
    activationWgsl(spec.activation, "value", "vec4<f32>"),
  ]
    .filter(Boolean)
    .join("\n        ");
  const store = nVec4
    ? guarded(nChecked ? "col < N" : "", `result[(${outIndex}) / 4] = value;`)
    : [0, 1, 2, 3].map((j) => guarded(nChecked ? `col + ${j} < N` : "", `result[${outIndex} + ${j}] = value[${j}];`)).join("\n        ");
  return { terms, store };
}

/** The WGSL body of the product `spec` describes (tfjs's preamble declares A, B, Bias, Addend, result and uniforms). */
export function gemmShader(spec: GemmSpec): string {
  const { k: K, n: N, tile } = spec;
  const { bm, bn, bk, tm, tn } = tile;
  // The swizzle of A's tile XORs a column index with less than BM (or BM/4 in vec4s): it stays in range for BM a power of 2 from 4 (32 with TM 4) and BK at most 16.
  const powerOfTwo = (v: number): boolean => (v & (v - 1)) === 0;
  if (tn !== 4 || bm % tm !== 0 || bn % tn !== 0 || bk % 4 !== 0 || bk > 16 || !powerOfTwo(bm) || bm < (tm === 4 ? 32 : 4)) {
    throw new InternalError(`gemm tile ${tileKey(tile)} (TN must be 4, BK a multiple of 4 up to 16, BM a power of 2 from 4, 32 with TM 4)`);
  }
  const aVec4 = aIsVec4(spec);
  const nVec4 = nIsVec4(spec);
  // The type of the workgroup tiles and of a BK step's products: f16 in half precision (values rounded as they are stored).
  const half = spec.precision === "f16";
  const tileType = half ? "f16" : "f32";
  const toTile = (value: string): string => (half ? `f16(${value})` : value);
  const [threadsX, threadsY] = gemmWorkgroupSize(tile);
  const threads = threadsX * threadsY;
  const nChecked = N % bn !== 0;
  // A split-K slice walks `tiles` of K's BK tiles from `firstTile`; the last slice's past K's end read zeros.
  const splitK = splitKOf(spec);
  if (!Number.isInteger(splitK) || splitK < 1) throw new InternalError(`gemm split-K ${splitK} (a whole number of slices, at least 1)`);
  const { tilesPerSlice: tiles } = splitKSlices(K, bk, splitK);
  const kChecked = K % bk !== 0 || splitK * tiles * bk > K;
  const firstTile = (t: string): string => (splitK > 1 ? `firstTile + ${t}` : t);
  if (spec.layerNorm !== undefined && spec.loader.kind !== "matrix") throw new InternalError("a layer norm prologue reads a matrix's rows, not im2col's");
  // Threads per row of A's tile in the prologue: a whole number, BN/4 and TM being powers of 2 with TM <= BN/4.
  const statThreadsPerRow = threads / bm;
  const prologue = spec.layerNorm === undefined ? "" : layerNormStatistics(spec.layerNorm, aVec4, statThreadsPerRow, K);

  // Tiles are double-buffered through registers: while the workgroup multiplies tile t out of
  // workgroup memory, each thread's global reads of tile t + 1 are in flight into aNext/bNext,
  // which go to workgroup memory after the products (the classic register prefetch).
  // A thread's share of a tile load: `loads` slots, spread over the workgroup `threads` apart.
  const slots = (loads: number, body: string): string => `
      for (var i = 0; i < ${Math.ceil(loads / threads)}; i = i + 1) {
        let index = i * ${threads} + thread;
        ${guarded(loads % threads === 0 ? "" : `index < ${loads}`, body)}
      }`;

  // A's tile, BM rows x BK columns, stored transposed (As[k][m]) so that the inner loop reads a
  // thread's TM rows side by side: one vec4 read per k when TM is 4 (As[k] as vec4s of 4 rows).
  // The threads that load one row of A write it down a column of As, whose rows lie a multiple of
  // 32 banks apart: the column is XOR-swizzled by the k row's group of 4, in vec4s of rows by 2
  // (so that the 8 rows a warp loads spread over all 32 banks), in single rows by BM/4, and read
  // back the same way. Counted over a warp's stores: 4-way conflicts to none for BM 64 and 32
  // with vec4 loads of A, 16-way to 4-way with scalar ones.
  const aRowsVec4 = tm === 4;
  const swizzle = (k: string): string => `((${k}) / 4 * ${aRowsVec4 ? 2 : bm / 4})`;
  const aStore = (k: string, value: string): string =>
    aRowsVec4 ? `As[${k}][(r / 4) ^ ${swizzle(k)}][r % 4] = ${toTile(value)};` : `As[${k}][r ^ ${swizzle(k)}] = ${toTile(value)};`;
  const aWidth = aVec4 ? 4 : 1;
  const aType = aVec4 ? "vec4<f32>" : "f32";
  const aLoads = (bm * bk) / aWidth;
  const aSlot = `
        let r = index / ${bk / aWidth};
        let kk = (index % ${bk / aWidth}) * ${aWidth};`;
  const aFetch = (tile: string): string =>
    slots(
      aLoads,
      `${aSlot}
        let row = tileRow + r;
        let k = (${tile}) * ${bk} + kk;
        var v = ${aType}(0.0);
        ${loadA(spec, aVec4, kChecked)}
        aNext[i] = v;`,
    );
  const aPut = slots(
    aLoads,
    `${aSlot}
        let v = aNext[i];
        ${aVec4 ? ["x", "y", "z", "w"].map((c, j) => aStore(j === 0 ? "kk" : `kk + ${j}`, `v.${c}`)).join(" ") : aStore("kk", "v")}`,
  );

  // B's tile, BK rows x BN columns as vec4s: consecutive threads read consecutive columns of a row.
  const bLoads = (bk * bn) / 4;
  const bIndex = (col: string): string => `bBase + k * N + ${col}`;
  const bScalar = (j: number): string => {
    const col = `col + ${j}`;
    return nChecked ? `select(0.0, B[${bIndex(`min(${col}, N - 1)`)}], ${col} < N)` : `B[${bIndex(col)}]`;
  };
  const bValue = nVec4
    ? guarded(conjunction(kChecked && "k < K", nChecked && "col < N"), `v = B[(${bIndex("col")}) / 4];`)
    : guarded(kChecked ? "k < K" : "", `v = vec4<f32>(${[0, 1, 2, 3].map(bScalar).join(", ")});`);
  const bSlot = `
        let kk = index / ${bn / 4};
        let j = index % ${bn / 4};`;
  const bFetch = (tile: string): string =>
    slots(
      bLoads,
      `${bSlot}
        let k = (${tile}) * ${bk} + kk;
        let col = tileCol + j * 4;
        var v = vec4<f32>(0.0);
        ${bValue}
        bNext[i] = v;`,
    );
  const bPut = slots(bLoads, `${bSlot}
        Bs[kk][j] = ${half ? "vec4<f16>(bNext[i])" : "bNext[i]"};`);

  // Per row of the thread's block: the epilogue, then the store; a split-K slice stores its raw sums.
  const { terms, store } = finishWgsl(spec, nChecked);
  const epilogue = splitK > 1 ? "" : terms;

  // A BK step's products go to `acc` directly in f32; in f16 into a partial sum, added to acc after the step.
  // The partial sum is zeroed by an explicit initializer: Dawn on lavapipe did not zero a `var part : T;`
  // declared in the loop again on each pass (WGSL says it should), and carried the sums over (errors of 8x).
  const sum = half ? "part" : "acc";
  return `${half ? "\n  enable f16;" : ""}
  const K : i32 = ${K};
  const N : i32 = ${N};
  var<workgroup> As : array<array<${aRowsVec4 ? `vec4<${tileType}>, ${bm / 4}` : `${tileType}, ${bm}`}>, ${bk}>;
  var<workgroup> Bs : array<array<vec4<${tileType}>, ${bn / 4}>, ${bk}>;${
    spec.layerNorm === undefined
      ? ""
      : `
  var<workgroup> rowMean : array<f32, ${bm}>;
  var<workgroup> rowRstd : array<f32, ${bm}>;
  var<workgroup> rowPartials : array<f32, ${threads}>;`
  }

  fn main() {
    let M = uniforms.outShape.y;
    ${
      splitK > 1
        ? `let batch = i32(workgroupId.z) / ${splitK};
    let firstTile = (i32(workgroupId.z) % ${splitK}) * ${tiles};`
        : "let batch = i32(workgroupId.z);"
    }
    let thread = i32(localIndex);
    let tileRow = i32(workgroupId.y) * ${bm};
    let tileCol = i32(workgroupId.x) * ${bn};
    let rowBase = i32(localId.y) * ${tm};
    let colQuad = i32(localId.x);
    let aBase = ${spec.aBatched ? "batch * M * K" : "0"};
    let bBase = ${spec.bBatched ? "batch * K * N" : "0"};
    let outBase = ${splitK > 1 ? "i32(workgroupId.z)" : "batch"} * M * N;
    var acc : array<vec4<f32>, ${tm}>;
    var aNext : array<${aType}, ${Math.ceil(aLoads / threads)}>;
    var bNext : array<vec4<f32>, ${Math.ceil(bLoads / threads)}>;
    ${prologue}
    ${aFetch(splitK > 1 ? "firstTile" : "0")}
    ${bFetch(splitK > 1 ? "firstTile" : "0")}
    ${aPut}
    ${bPut}
    workgroupBarrier();
    for (var t = 0; t < ${tiles}; t = t + 1) {${half ? `
      var part = array<vec4<f16>, ${tm}>();` : ""}
      ${tiles > 1 ? `if (t + 1 < ${tiles}) {${aFetch(firstTile("t + 1"))}${bFetch(firstTile("t + 1"))}
      }` : ""}
      for (var kk = 0; kk < ${bk}; kk = kk + 1) {
        let b = Bs[kk][colQuad];
        ${
          aRowsVec4
            ? `let a = As[kk][i32(localId.y) ^ ${swizzle("kk")}];
        ${sum}[0] = fma(vec4<${tileType}>(a.x), b, ${sum}[0]);
        ${sum}[1] = fma(vec4<${tileType}>(a.y), b, ${sum}[1]);
        ${sum}[2] = fma(vec4<${tileType}>(a.z), b, ${sum}[2]);
        ${sum}[3] = fma(vec4<${tileType}>(a.w), b, ${sum}[3]);`
            : `for (var i = 0; i < ${tm}; i = i + 1) {
          ${sum}[i] = fma(vec4<${tileType}>(As[kk][(rowBase + i) ^ ${swizzle("kk")}]), b, ${sum}[i]);
        }`
        }
      }${half ? `
      for (var i = 0; i < ${tm}; i = i + 1) {
        acc[i] = acc[i] + vec4<f32>(part[i]);
      }` : ""}
      ${
        tiles > 1
          ? `workgroupBarrier();
      if (t + 1 < ${tiles}) {${aPut}${bPut}
      }
      workgroupBarrier();`
          : ""
      }
    }
    for (var i = 0; i < ${tm}; i = i + 1) {
      let row = tileRow + rowBase + i;
      let col = tileCol + colQuad * 4;
      if (row < M) {
        var value = acc[i];
        ${epilogue}
        ${store}
      }
    }
  }
  `;
}

/**
 * The WGSL body of split-K's second program: the output `spec` describes, [batch, M, N], from the
 * [batch * S, M, N] raw sums of its S slices (batch entry b's slice s at b * S + s). A thread
 * per output row and 4 columns adds the slices in a fixed order (slice 0 first), so the result
 * is the same on every run (no atomics), then finishes it with the one-pass GEMM's epilogue
 * (finishWgsl: bias, addend, activation, store). M and the batch are read at run time.
 */
export function splitKSumShader(spec: GemmSpec): string {
  const splitK = splitKOf(spec);
  const nVec4 = nIsVec4(spec);
  const quads = Math.ceil(spec.n / 4);
  // Columns past N occur only in a last quad of a width not a multiple of 4.
  const nChecked = !nVec4;
  const { terms, store } = finishWgsl(spec, nChecked);
  // Slice `s`'s sums of the thread's row start at rowStart + s * M * N.
  const slice = (s: string): string => {
    const start = s === "0" ? "rowStart" : `rowStart + ${s} * M * N`;
    return nVec4 ? `Partials[(${start} + col) / 4]` : `vec4<f32>(${[0, 1, 2, 3].map((j) => `Partials[${start} + min(col + ${j}, N - 1)]`).join(", ")})`;
  };
  return `
  const N : i32 = ${spec.n};
  fn main(index : i32) {
    let M = uniforms.outShape.y;
    let rowIndex = index / ${quads};
    if (rowIndex < uniforms.outShape.x * M) {
      let row = rowIndex % M;
      let batch = rowIndex / M;
      let col = (index % ${quads}) * 4;
      let outBase = batch * M * N;
      let rowStart = (batch * ${splitK} * M + row) * N;
      var value = ${slice("0")};
      for (var s = 1; s < ${splitK}; s = s + 1) {
        value = value + ${slice("s")};
      }
      ${terms}
      ${store}
    }
  }
  `;
}

/** The key tfjs caches split-K's sum program by: every constant that changes its source. */
export function splitKSumShaderKey(spec: GemmSpec): string {
  return `fxcGemmSum_${splitKOf(spec)}_${spec.n}_${spec.bias ? "bias" : ""}_${spec.addend ? "add" : ""}_${spec.activation ?? ""}`;
}

/** Threads per workgroup of split-K's sum program, each finishing 4 columns of one output row. */
const SPLIT_K_SUM_WORKGROUP = 64;

/** Split-K's second program: the slices' sums added and finished into the [batch, M, N] output. */
class SplitKSumProgram implements WebgpuProgram {
  readonly variableNames: string[];
  readonly variableComponents: number[];
  readonly outputComponent: number;
  readonly workgroupSize: [number, number, number] = [SPLIT_K_SUM_WORKGROUP, 1, 1];
  readonly dispatchLayout = { x: [0, 1, 2] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: [number, number, number],
    private readonly spec: GemmSpec,
  ) {
    const [batch, rows, cols] = outputShape;
    const width = nIsVec4(spec) ? 4 : 1;
    this.variableNames = ["Partials", ...(spec.bias ? ["Bias"] : []), ...(spec.addend ? ["Addend"] : [])];
    this.variableComponents = this.variableNames.map(() => width);
    this.outputComponent = width;
    const workgroups = Math.ceil((batch * rows * Math.ceil(cols / 4)) / SPLIT_K_SUM_WORKGROUP);
    if (workgroups > MAX_WORKGROUPS_PER_DIMENSION) throw new InternalError(`split-K's sum over [${outputShape}] needs ${workgroups} workgroups (split-K is for products with few output tiles)`);
    this.dispatch = [workgroups, 1, 1];
    this.shaderKey = splitKSumShaderKey(spec);
  }

  getUserCode(): string {
    return splitKSumShader(this.spec);
  }
}

/**
 * The program tfjs-webgpu's runner compiles (once per shader key) and dispatches over a [batch, M, N]
 * output, or for split-K over the [batch * S, M, N] slices' sums (without the epilogue's operands).
 */
class GemmProgram implements WebgpuProgram {
  readonly variableNames: string[];
  readonly variableComponents: number[];
  readonly outputComponent: number;
  readonly workgroupSize: [number, number, number];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: [number, number, number],
    private readonly spec: GemmSpec,
  ) {
    const [batch, rows, cols] = outputShape;
    const nWidth = nIsVec4(spec) ? 4 : 1;
    const kWidth = aIsVec4(spec) ? 4 : 1;
    // A split-K slice has no epilogue: the bias and addend are split-K's sum program's operands.
    const [bias, addend] = splitKOf(spec) > 1 ? [false, false] : [spec.bias, spec.addend];
    this.variableNames = ["A", "B", ...(bias ? ["Bias"] : []), ...(addend ? ["Addend"] : []), ...(spec.layerNorm?.gamma ? ["Gamma"] : []), ...(spec.layerNorm?.beta ? ["Beta"] : [])];
    this.variableComponents = [
      kWidth,
      nWidth,
      ...(bias ? [nWidth] : []),
      ...(addend ? [nWidth] : []),
      ...(spec.layerNorm?.gamma ? [kWidth] : []),
      ...(spec.layerNorm?.beta ? [kWidth] : []),
    ];
    this.outputComponent = nWidth;
    this.workgroupSize = gemmWorkgroupSize(spec.tile);
    this.dispatch = [Math.ceil(cols / spec.tile.bn), Math.ceil(rows / spec.tile.bm), batch];
    this.shaderKey = gemmShaderKey(spec);
  }

  getUserCode(): string {
    return gemmShader(this.spec);
  }
}

/** A product for runGemm: operands as the loader reads them, the epilogue's terms, and the output's [batch, M]. */
export interface GemmCall {
  /** [batch or 1, M, K] for the matrix loader; the NHWC input for im2col. */
  readonly a: Tensor;
  /** [batch or 1, K, N] or [K, N]. */
  readonly b: Tensor;
  readonly bias: Tensor | null;
  /** Of the output's size, [batch, M, N] in row-major order. */
  readonly addend: Tensor | null;
  readonly activation: FusedActivation | undefined;
  /** A's rows layer-normalized as they are loaded (matrix loader only): the affine's [K] gamma and beta, or null for none. */
  readonly layerNorm?: { readonly eps: number; readonly gamma: Tensor | null; readonly beta: Tensor | null };
  readonly loader: GemmLoader;
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly aBatched: boolean;
  readonly bBatched: boolean;
  /** What a BK step's products are computed in (see GemmPrecision). */
  readonly precision: GemmPrecision;
  /** K's slices, forced (tests); absent: chooseSplitK's. */
  readonly splitK?: number;
}

/**
 * Whether runGemm covers a product of these sizes: within WebGPU's per-dimension workgroup limit,
 * and K at least 1 (an empty sum is left to tfjs's kernel, which writes zeros).
 */
export function gemmFits(batch: number, m: number, k: number, n: number): boolean {
  const tile = chooseGemmTile(m, n, k);
  return k >= 1 && batch <= MAX_WORKGROUPS_PER_DIMENSION && Math.ceil(m / tile.bm) <= MAX_WORKGROUPS_PER_DIMENSION && Math.ceil(n / tile.bn) <= MAX_WORKGROUPS_PER_DIMENSION;
}

/** Runs the product on the webgpu backend: a [batch, M, N] float32 tensor. The caller checks ownKernelApplies and gemmFits. */
export function runGemm(call: GemmCall): Tensor3D {
  const tile = chooseGemmTile(call.m, call.n, call.k);
  const splitK = call.splitK ?? chooseSplitK(call.m, call.n, call.k, tile, call.batch);
  const spec: GemmSpec = {
    k: call.k,
    n: call.n,
    loader: call.loader,
    aBatched: call.aBatched,
    bBatched: call.bBatched,
    bias: call.bias !== null,
    addend: call.addend !== null,
    activation: call.activation,
    ...(call.layerNorm === undefined ? {} : { layerNorm: { eps: call.layerNorm.eps, gamma: call.layerNorm.gamma !== null, beta: call.layerNorm.beta !== null } }),
    tile,
    precision: call.precision,
    splitK,
  };
  const affine = [call.layerNorm?.gamma ?? null, call.layerNorm?.beta ?? null].filter((t): t is Tensor => t !== null);
  const finishing = [...(call.bias === null ? [] : [call.bias]), ...(call.addend === null ? [] : [call.addend])];
  if (splitK === 1) return runProgram<Tensor3D>(new GemmProgram([call.batch, call.m, call.n], spec), [call.a, call.b, ...finishing, ...affine]);
  if (call.batch * splitK > MAX_WORKGROUPS_PER_DIMENSION) throw new InternalError(`gemm split-K ${splitK} of a batch of ${call.batch} is over WebGPU's ${MAX_WORKGROUPS_PER_DIMENSION} workgroups along z`);
  const partials = runProgram<Tensor3D>(new GemmProgram([call.batch * splitK, call.m, call.n], spec), [call.a, call.b, ...affine]);
  try {
    return runProgram<Tensor3D>(new SplitKSumProgram([call.batch, call.m, call.n], spec), [partials, ...finishing]);
  } finally {
    partials.dispose();
  }
}
