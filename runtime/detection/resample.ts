/**
 * torch's F.interpolate(mode="bilinear", align_corners=False) of one float plane, over typed arrays:
 * the sampling positions are torch 1.13's CPU rules (runtime/ops/support/sampling.ts); each output pixel
 * blends along the width first, then the height, as its upsample_bilinear2d kernel.
 */

import { linearSamples } from "../ops/support/sampling.js";

/** Per output index along one axis: the two source indices and their weights. */
export interface AxisTaps {
  readonly low: Int32Array;
  readonly high: Int32Array;
  readonly lowWeight: Float32Array;
  readonly highWeight: Float32Array;
}

/** torch's bilinear taps from inSize to outSize (align_corners=False, the scale recomputed as in / out). */
export function bilinearTaps(inSize: number, outSize: number): AxisTaps {
  const samples = linearSamples(inSize, outSize, false);
  const taps = { low: new Int32Array(outSize), high: new Int32Array(outSize), lowWeight: new Float32Array(outSize), highWeight: new Float32Array(outSize) };
  samples.forEach(([i0, i1, t], o) => {
    taps.low[o] = i0;
    taps.high[o] = i1;
    taps.highWeight[o] = t;
    taps.lowWeight[o] = 1 - t;
  });
  return taps;
}

/**
 * Output rows [rowStart, rowEnd) × columns [colStart, colEnd) of the plane at source[sourceOffset ..]
 * (inHeight × inWidth) resized by the given taps, written to out[outOffset + (y - rowShift) * outStride + (x - colShift)].
 */
export function resamplePlane(
  source: Float32Array,
  sourceOffset: number,
  inWidth: number,
  rows: AxisTaps,
  cols: AxisTaps,
  region: { readonly rowStart: number; readonly rowEnd: number; readonly colStart: number; readonly colEnd: number },
  out: Float32Array,
  outOffset: number,
  outStride: number,
): void {
  for (let y = region.rowStart; y < region.rowEnd; y++) {
    const r0 = sourceOffset + rows.low[y]! * inWidth;
    const r1 = sourceOffset + rows.high[y]! * inWidth;
    const wy0 = rows.lowWeight[y]!, wy1 = rows.highWeight[y]!;
    const o = outOffset + (y - region.rowStart) * outStride - region.colStart;
    for (let x = region.colStart; x < region.colEnd; x++) {
      const c0 = cols.low[x]!, c1 = cols.high[x]!, wx0 = cols.lowWeight[x]!, wx1 = cols.highWeight[x]!;
      out[o + x] = wy0 * (wx0 * source[r0 + c0]! + wx1 * source[r0 + c1]!) + wy1 * (wx0 * source[r1 + c0]! + wx1 * source[r1 + c1]!);
    }
  }
}
