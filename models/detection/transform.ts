import { Module } from "../nn/index.js";

/**
 * torchvision.models.detection.transform.GeneralizedRCNNTransform's configuration. It has no
 * parameters; its work (normalize, resize with torchvision's rounding, batching to a multiple of
 * `sizeDivisible`, and postprocess's box rescaling and mask pasting) depends on each image's
 * size, so the detector (createDetector) does it with runtime/detection's kernels.
 */
export class GeneralizedRCNNTransform extends Module {
  /** torchvision keeps a tuple; eval resizes to its last entry (training picks one at random). */
  readonly minSize: readonly number[];

  constructor(
    minSize: number | readonly number[],
    readonly maxSize: number,
    readonly imageMean: readonly number[],
    readonly imageStd: readonly number[],
    readonly sizeDivisible = 32,
    /** torchvision's `fixed_size`: resize every image to this [height, width] instead. */
    readonly fixedSize: readonly [number, number] | null = null,
  ) {
    super();
    this.minSize = typeof minSize === "number" ? [minSize] : [...minSize];
  }

  forward(): never {
    throw new Error("GeneralizedRCNNTransform depends on each image's size; run the model through createDetector(model)");
  }
}
