import { tf, type Tensor, type Tensor4D } from "./tf.js";
import { alongHeightAndWidth } from "./pooling.js";

/**
 * torch's `F.interpolate` on a 4-D value stored NHWC: nearest, and bilinear with or without
 * align_corners. Source positions follow torch 1.13's CPU kernels (UpSample.h), so that both
 * engines pick the same pixels and weights as torch.
 */
export interface InterpolateAttrs {
  /** Output height and width. */
  readonly size: readonly number[];
  readonly mode: "nearest" | "bilinear";
  readonly alignCorners?: boolean;
  /** The scale_factor torch hands its kernel (absent when the size was given or recomputed). */
  readonly scale?: readonly number[];
}

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
  const scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : sourceScale(inSize, outSize, scaleFactor);
  return Array.from({ length: outSize }, (_, dst) => {
    const src = alignCorners ? scale * dst : Math.max(scale * (dst + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
    // Past the last row both samples are that row, so the weight no longer matters; torch clamps it to [0, 1].
    return [i0, i1, Math.min(Math.max(src - i0, 0), 1)];
  });
}

/** The [out, in] matrix whose rows interpolate linearly along one axis. */
function linearMatrix(inSize: number, outSize: number, alignCorners: boolean, scaleFactor: number | undefined): tf.Tensor2D {
  const m = new Float32Array(outSize * inSize);
  linearSamples(inSize, outSize, alignCorners, scaleFactor).forEach(([i0, i1, t], o) => {
    m[o * inSize + i0]! += 1 - t;
    m[o * inSize + i1]! += t;
  });
  return tf.tensor2d(m, [outSize, inSize]);
}

export function interpolate(input: Tensor, attrs: InterpolateAttrs): Tensor4D {
  const x = input as Tensor4D;
  const [, h, w] = x.shape;
  const [oh, ow] = [attrs.size[0]!, attrs.size[1]!];
  const [sh, sw] = [attrs.scale?.[0], attrs.scale?.[1]];
  return tf.tidy(() => {
    if (attrs.mode === "nearest") {
      const rows = tf.gather(x, tf.tensor1d(nearestIndices(h, oh, sh), "int32"), 1);
      return tf.gather(rows, tf.tensor1d(nearestIndices(w, ow, sw), "int32"), 2) as Tensor4D;
    }
    const alignCorners = attrs.alignCorners ?? false;
    return alongHeightAndWidth(x, linearMatrix(h, oh, alignCorners, sh), linearMatrix(w, ow, alignCorners, sw));
  });
}
