/**
 * torch 1.13's CPU sampling rules for `F.interpolate` along one axis (UpSample.h), over plain numbers:
 * which source indices and weights each output index takes. The tfjs kernel (interpolate.ts), the
 * visualizer and the typed-array detection kernels all sample through these, so they agree with torch
 * and with each other.
 */

/** torch's `compute_scales_value`: 1/scale_factor when one was given, else input/output, as a float32. */
function sourceScale(inSize: number, outSize: number, scaleFactor: number | undefined): number {
  return Math.fround(scaleFactor !== undefined && scaleFactor > 0 ? 1 / scaleFactor : inSize / outSize);
}

/** torch's nearest rule: the source index of each output index is min(floor(dst * scale), in - 1), in float32. */
export function nearestIndices(inSize: number, outSize: number, scaleFactor?: number): Int32Array {
  const out = new Int32Array(outSize);
  const scale = sourceScale(inSize, outSize, scaleFactor);
  for (let dst = 0; dst < outSize; dst++) {
    // torch's shortcuts for the identity and exact doubling, taken before any float math.
    if (outSize === inSize) out[dst] = dst;
    else if (outSize === 2 * inSize) out[dst] = dst >> 1;
    else out[dst] = Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
  }
  return out;
}

/**
 * torch's linear rule along one axis: for each output index, the two source indices and the
 * weight of the second. align_corners maps corner to corner; otherwise half-pixel centres,
 * clamped at 0 below.
 */
export function linearSamples(inSize: number, outSize: number, alignCorners: boolean, scaleFactor?: number): [number, number, number][] {
  const scale = alignCorners ? Math.fround(outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : sourceScale(inSize, outSize, scaleFactor);
  return Array.from({ length: outSize }, (_, dst) => {
    // torch computes the position in double and stores it as a float32 before taking its floor.
    const src = Math.fround(alignCorners ? scale * dst : Math.max(scale * (dst + 0.5) - 0.5, 0));
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
    // Past the last row both samples are that row, so the weight no longer matters; torch clamps it to [0, 1].
    return [i0, i1, Math.min(Math.max(src - i0, 0), 1)];
  });
}
