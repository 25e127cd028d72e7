import { alongHeightAndWidth } from "./support/pool.js";
import { linearSamples, nearestIndices } from "./support/sampling.js";
import { tf, type Tensor, type Tensor4D } from "./tf.js";

// The sampling rules live in support/sampling.ts (no tfjs) so that the typed-array kernels of runtime/detection share them.

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

/** interpolateLike's attributes: interpolate's, the size aside. */
export interface InterpolateLikeAttrs {
  readonly mode: "nearest" | "bilinear";
  readonly alignCorners?: boolean;
}

/**
 * `F.interpolate(x, size=other.shape[-2:])`: to the height and width another 4-D value (stored
 * NHWC) has when the program runs, so that a program built at one input size runs at any (the
 * FPN's top-down path, whose levels' sizes follow the input's).
 */
export function interpolateLike(input: Tensor, like: Tensor, attrs: InterpolateLikeAttrs): Tensor4D {
  const [, oh, ow] = like.shape as [number, number, number, number];
  return interpolate(input, { ...attrs, size: [oh, ow] });
}
