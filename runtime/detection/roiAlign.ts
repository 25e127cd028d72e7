/**
 * torchvision.ops.roi_align (its CPU kernel, roi_align_kernel.cpp) and ops.poolers.MultiScaleRoIAlign.
 *
 * As torchvision's pre_calc, the four bilinear taps (positions and weights) of every sample of every
 * bin are computed once per box, then reused for each of its channels: the per-channel loop is only
 * loads and multiply-adds. Positions are computed in float32 steps as the kernel's, so that the same
 * pixels are read; the sums are accumulated in double.
 * Weights are stored as float32 (they are float32 products, so nothing is lost): the taps of a 7 × 7
 * box with 2 × 2 samples take 6 kB and stay in L1 while its 256 channels are read. (Pooling blocks of
 * boxes channel by channel, to keep a plane in cache, measured slower: the taps no longer fit.)
 */

import { boxArea, boxCount } from "./boxes.js";
import { DetectionInputError } from "./errors.js";
import type { FeatureMap } from "./types.js";
import { pythonRound } from "../pythonMath.js";
import { concatFloat32 } from "../weights/dtype.js";

const f32 = Math.fround;

export type Nchw = readonly [n: number, c: number, h: number, w: number];

/** Boxes pooled together channel by channel: their taps (about 6 kB each at 7 × 7 bins, 2 × 2 samples) and a plane stay in cache. */
const BLOCK = 8;

/** One box to pool: the feature map it reads (at its scale), its image, its corners, where its C × ph × pw output goes. */
export interface Job {
  /** The feature level `input` is (0 for roiAlign's one map). */
  readonly level: number;
  readonly input: Float32Array;
  readonly shape: Nchw;
  readonly spatialScale: number;
  readonly batchIndex: number;
  readonly box: readonly [number, number, number, number];
  readonly outOffset: number;
}

export interface AlignParams {
  readonly outputSize: readonly [number, number];
  readonly samplingRatio: number;
  readonly aligned: boolean;
}

/** Grow-only buffers of one box's taps. */
class Taps {
  pos = new Int32Array(0);
  weight = new Float32Array(0);
  ensure(taps: number): void {
    if (this.pos.length < taps) {
      this.pos = new Int32Array(taps);
      this.weight = new Float32Array(taps);
    }
  }
}

/** roi_align's sampling grid of one box: rows and columns of samples per bin, the bin size and the box's start, in float32 as the kernel's. */
function grid(job: Job, params: AlignParams) {
  const [pooledHeight, pooledWidth] = params.outputSize;
  const [x1, y1, x2, y2] = job.box;
  const scale = f32(job.spatialScale);
  const offset = params.aligned ? 0.5 : 0;
  const startW = f32(f32(x1 * scale) - offset);
  const startH = f32(f32(y1 * scale) - offset);
  let roiWidth = f32(f32(f32(x2 * scale) - offset) - startW);
  let roiHeight = f32(f32(f32(y2 * scale) - offset) - startH);
  if (!params.aligned) {
    roiWidth = Math.max(roiWidth, 1);
    roiHeight = Math.max(roiHeight, 1);
  }
  return {
    startW,
    startH,
    binH: f32(roiHeight / pooledHeight),
    binW: f32(roiWidth / pooledWidth),
    gridH: params.samplingRatio > 0 ? params.samplingRatio : Math.ceil(f32(roiHeight / pooledHeight)),
    gridW: params.samplingRatio > 0 ? params.samplingRatio : Math.ceil(f32(roiWidth / pooledWidth)),
  };
}

/**
 * pre_calc_for_bilinear_interpolate for one box: 4 positions and weights per sample, bins row-major,
 * samples row-major within a bin, written from taps[at]. A sample outside the map reads nothing.
 */
function precompute(job: Job, params: AlignParams, g: ReturnType<typeof grid>, taps: Taps, at: number): void {
  const [pooledHeight, pooledWidth] = params.outputSize;
  const [, , height, width] = job.shape;
  const { pos, weight } = taps;
  let t = at;
  for (let ph = 0; ph < pooledHeight; ph++) {
    for (let pw = 0; pw < pooledWidth; pw++) {
      for (let iy = 0; iy < g.gridH; iy++) {
        const yy = f32(f32(g.startH + f32(ph * g.binH)) + f32(f32((iy + 0.5) * g.binH) / g.gridH));
        for (let ix = 0; ix < g.gridW; ix++, t += 4) {
          const xx = f32(f32(g.startW + f32(pw * g.binW)) + f32(f32((ix + 0.5) * g.binW) / g.gridW));
          if (yy < -1 || yy > height || xx < -1 || xx > width) {
            // Outside the feature map: the sample counts as zero.
            pos[t] = pos[t + 1] = pos[t + 2] = pos[t + 3] = 0;
            weight[t] = weight[t + 1] = weight[t + 2] = weight[t + 3] = 0;
            continue;
          }
          let y = yy <= 0 ? 0 : yy;
          let x = xx <= 0 ? 0 : xx;
          let yLow = Math.trunc(y), xLow = Math.trunc(x), yHigh: number, xHigh: number;
          if (yLow >= height - 1) {
            yHigh = yLow = height - 1;
            y = yLow;
          } else yHigh = yLow + 1;
          if (xLow >= width - 1) {
            xHigh = xLow = width - 1;
            x = xLow;
          } else xHigh = xLow + 1;
          const ly = f32(y - yLow), lx = f32(x - xLow);
          const hy = f32(1 - ly), hx = f32(1 - lx);
          pos[t] = yLow * width + xLow;
          pos[t + 1] = yLow * width + xHigh;
          pos[t + 2] = yHigh * width + xLow;
          pos[t + 3] = yHigh * width + xHigh;
          weight[t] = f32(hy * hx);
          weight[t + 1] = f32(hy * lx);
          weight[t + 2] = f32(ly * hx);
          weight[t + 3] = f32(ly * lx);
        }
      }
    }
  }
}

/** roi_align_forward_kernel_impl over a list of boxes sharing the channel count: per box, its taps, then each channel. */
export function alignJobs(jobs: readonly Job[], channels: number, params: AlignParams, out: Float32Array): void {
  const bins = params.outputSize[0] * params.outputSize[1];
  const taps = new Taps();
  for (const job of jobs) {
    const g = grid(job, params);
    const step = 4 * g.gridH * g.gridW;
    const count = Math.max(g.gridH * g.gridW, 1);
    taps.ensure(bins * step);
    precompute(job, params, g, taps, 0);
    const { pos, weight } = taps;
    const plane = job.shape[2] * job.shape[3];
    const input = job.input;
    // Eight channels per pass: each tap's position and weight are loaded once for all eight, which
    // took 1000 boxes × 256 channels from ~620 ms to ~370 ms of CPU (one at a time, then four: ~420).
    let c = 0;
    for (; c + 7 < channels; c += 8) {
      const a0 = (job.batchIndex * channels + c) * plane;
      const a1 = a0 + plane, a2 = a1 + plane, a3 = a2 + plane, a4 = a3 + plane, a5 = a4 + plane, a6 = a5 + plane, a7 = a6 + plane;
      const outBase = job.outOffset + c * bins;
      for (let bin = 0, t0 = 0; bin < bins; bin++, t0 += step) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (let k = t0, end = t0 + step; k < end; k++) {
          const w = weight[k]!, p = pos[k]!;
          s0 += w * input[a0 + p]!;
          s1 += w * input[a1 + p]!;
          s2 += w * input[a2 + p]!;
          s3 += w * input[a3 + p]!;
          s4 += w * input[a4 + p]!;
          s5 += w * input[a5 + p]!;
          s6 += w * input[a6 + p]!;
          s7 += w * input[a7 + p]!;
        }
        const o = outBase + bin;
        out[o] = s0 / count;
        out[o + bins] = s1 / count;
        out[o + 2 * bins] = s2 / count;
        out[o + 3 * bins] = s3 / count;
        out[o + 4 * bins] = s4 / count;
        out[o + 5 * bins] = s5 / count;
        out[o + 6 * bins] = s6 / count;
        out[o + 7 * bins] = s7 / count;
      }
    }
    // The last channels (fewer than eight) one at a time.
    for (; c < channels; c++) {
      const a = (job.batchIndex * channels + c) * plane;
      const outBase = job.outOffset + c * bins;
      for (let bin = 0, t0 = 0; bin < bins; bin++, t0 += step) {
        let sum = 0;
        for (let k = t0, end = t0 + step; k < end; k++) sum += weight[k]! * input[a + pos[k]!]!;
        out[outBase + bin] = sum / count;
      }
    }
  }
}

function checkFeature(data: Float32Array, shape: Nchw, what: string): void {
  const [n, c, h, w] = shape;
  if (![n, c, h, w].every((d) => Number.isInteger(d) && d >= 0) || data.length !== n * c * h * w) {
    throw new DetectionInputError(`${what}: ${data.length} values do not fill the shape [${shape.join(", ")}]; pass an NCHW array of n × c × h × w floats`);
  }
}

function checkParams(outputSize: readonly [number, number], samplingRatio: number, what: string): void {
  if (!outputSize.every((d) => Number.isInteger(d) && d > 0)) {
    throw new DetectionInputError(`${what}: output size [${outputSize.join(", ")}] is not two whole numbers > 0; pass [height, width] such as [7, 7]`);
  }
  if (!Number.isInteger(samplingRatio)) {
    throw new DetectionInputError(`${what}: sampling ratio ${samplingRatio} is not a whole number; pass one > 0, or <= 0 for torchvision's adaptive ceil(roi size / output size)`);
  }
}

/**
 * torchvision.ops.roi_align: `rois` is K × 5 (batch index, x1, y1, x2, y2) in image coordinates,
 * scaled by spatialScale onto `input` (N × C × H × W); returns K × C × ph × pw.
 */
export function roiAlign(
  input: Float32Array,
  shape: Nchw,
  rois: Float32Array,
  outputSize: readonly [number, number],
  spatialScale: number,
  samplingRatio: number,
  aligned: boolean,
): Float32Array {
  checkFeature(input, shape, "roiAlign");
  checkParams(outputSize, samplingRatio, "roiAlign");
  if (rois.length % 5 !== 0) throw new DetectionInputError(`roiAlign: ${rois.length} values is not a list of (batch index, x1, y1, x2, y2) rois; pass 5 values per roi`);
  const k = rois.length / 5;
  const perRoi = shape[1] * outputSize[0] * outputSize[1];
  const out = new Float32Array(k * perRoi);
  const jobs: Job[] = [];
  for (let r = 0; r < k; r++) {
    const batchIndex = Math.trunc(rois[5 * r]!);
    if (!(batchIndex >= 0 && batchIndex < shape[0])) {
      throw new DetectionInputError(`roiAlign: roi ${r} names batch index ${rois[5 * r]}, but the input holds ${shape[0]} images; pass indices in [0, ${shape[0] - 1}]`);
    }
    const box = [rois[5 * r + 1]!, rois[5 * r + 2]!, rois[5 * r + 3]!, rois[5 * r + 4]!] as const;
    jobs.push({ level: 0, input, shape, spatialScale, batchIndex, box, outOffset: r * perRoi });
  }
  alignJobs(jobs, shape[1], { outputSize, samplingRatio, aligned }, out);
  return out;
}

/** poolers._infer_scale: the feature's height over the largest image height, rounded to a power of two (log2 rounded half to even, in float32). */
export function inferScale(featureHeight: number, imageHeight: number): number {
  return 2 ** pythonRound(f32(Math.log2(f32(featureHeight / imageHeight))));
}

/** poolers.LevelMapper: the FPN level of each box, floor(k0 + log2(sqrt(area) / s0) + eps) clamped to [kMin, kMax], minus kMin. */
export function mapLevels(boxes: Float32Array, kMin: number, kMax: number, canonicalScale = 224, canonicalLevel = 4, eps = 1e-6): Int32Array {
  const areas = boxArea(boxes);
  const out = new Int32Array(areas.length);
  const epsilon = f32(eps);
  for (let i = 0; i < areas.length; i++) {
    const s = f32(Math.sqrt(areas[i]!));
    const level = Math.floor(f32(f32(canonicalLevel + f32(Math.log2(f32(s / canonicalScale)))) + epsilon));
    out[i] = Math.min(Math.max(level, kMin), kMax) - kMin;
  }
  return out;
}

/**
 * ops.MultiScaleRoIAlign's forward (aligned = false): the boxes of each image (in the resized image's
 * pixels) pooled from the FPN level LevelMapper picks for them, levels' scales inferred from the
 * largest image size. Returns K × C × ph × pw for the boxes of all images in order.
 */
export function multiScaleRoIAlign(...args: MultiScaleRoIAlignArgs): Float32Array {
  const plan = planMultiScaleRoIAlign(...args);
  const out = new Float32Array(plan.outputLength);
  alignJobs(plan.jobs, plan.channels, plan.params, out);
  return out;
}

/** multiScaleRoIAlign's arguments: features (NCHW levels), boxes per image, image sizes, output size, sampling ratio, canonical scale (224) and level (4). */
export type MultiScaleRoIAlignArgs = Parameters<typeof planMultiScaleRoIAlign>;

/** multiScaleRoIAlign's work, checked and split per box (each job writes its own C × ph × pw of the output), to run here or spread over threads. */
export interface RoIAlignPlan {
  readonly jobs: readonly Job[];
  readonly channels: number;
  readonly params: AlignParams;
  readonly outputLength: number;
}

/** Checks multiScaleRoIAlign's arguments and maps each box to its level: the jobs alignJobs runs. */
export function planMultiScaleRoIAlign(
  features: readonly FeatureMap[],
  boxesPerImage: readonly Float32Array[],
  imageSizes: readonly (readonly [number, number])[],
  outputSize: readonly [number, number],
  samplingRatio: number,
  canonicalScale = 224,
  canonicalLevel = 4,
): RoIAlignPlan {
  if (features.length === 0) throw new DetectionInputError("multiScaleRoIAlign: no feature maps; pass at least one level");
  if (imageSizes.length === 0) throw new DetectionInputError("multiScaleRoIAlign: images list should not be empty; pass the size of each image");
  if (boxesPerImage.length !== imageSizes.length) {
    throw new DetectionInputError(`multiScaleRoIAlign: ${boxesPerImage.length} box lists for ${imageSizes.length} images; pass one list per image`);
  }
  features.forEach((f, level) => checkFeature(f.data, f.shape, `multiScaleRoIAlign level ${level}`));
  checkParams(outputSize, samplingRatio, "multiScaleRoIAlign");
  const channels = features[0]!.shape[1];
  if (features.some((f) => f.shape[1] !== channels)) throw new DetectionInputError("multiScaleRoIAlign: levels with different channel counts; pass FPN levels of one width");
  const maxHeight = Math.max(...imageSizes.map(([h]) => h));
  const scales = features.map((f) => inferScale(f.shape[2], maxHeight));
  const kMin = Math.trunc(-f32(Math.log2(scales[0]!)));
  const kMax = Math.trunc(-f32(Math.log2(scales[scales.length - 1]!)));

  const counts = boxesPerImage.map((b, i) => boxCount(b, `multiScaleRoIAlign's boxes of image ${i}`));
  const all = concatFloat32(boxesPerImage);
  const levels = features.length === 1 ? new Int32Array(all.length / 4) : mapLevels(all, kMin, kMax, canonicalScale, canonicalLevel);

  const perRoi = channels * outputSize[0] * outputSize[1];
  const jobs: Job[] = [];
  let r = 0;
  counts.forEach((count, image) => {
    for (let i = 0; i < count; i++, r++) {
      const level = levels[r]!;
      const { data, shape } = features[level]!;
      if (image >= shape[0]) throw new DetectionInputError(`multiScaleRoIAlign: boxes for image ${image}, but level ${level} holds ${shape[0]} images; pass one box list per image of the batch`);
      const box = [all[4 * r]!, all[4 * r + 1]!, all[4 * r + 2]!, all[4 * r + 3]!] as const;
      jobs.push({ level, input: data, shape, spatialScale: scales[level]!, batchIndex: image, box, outOffset: r * perRoi });
    }
  });
  return { jobs, channels, params: { outputSize, samplingRatio, aligned: false }, outputLength: (all.length / 4) * perRoi };
}
