import { Module } from "../nn/index.js";

/**
 * torchvision.models.detection.anchor_utils.AnchorGenerator's configuration: anchor sizes and
 * aspect ratios per feature map. Its anchors depend on the feature maps' sizes, so the detector
 * makes them with runtime/detection's anchorsForImage; it has no state_dict entries.
 */
export class AnchorGenerator extends Module {
  readonly sizes: readonly (readonly number[])[];
  readonly aspectRatios: readonly (readonly number[])[];

  /** As torchvision's: a flat list of sizes is one size per feature map; a flat list of ratios is shared by all. */
  constructor(sizes: readonly (number | readonly number[])[] = [[128, 256, 512]], aspectRatios: readonly (number | readonly number[])[] = [[0.5, 1.0, 2.0]]) {
    super();
    this.sizes = sizes.map((s) => (typeof s === "number" ? [s] : [...s]));
    this.aspectRatios = aspectRatios.every((r) => typeof r === "number") ? this.sizes.map(() => aspectRatios as number[]) : aspectRatios.map((r) => (typeof r === "number" ? [r] : [...r]));
  }

  /** torchvision's `num_anchors_per_location`. */
  numAnchorsPerLocation(): number[] {
    return this.sizes.map((s, i) => s.length * (this.aspectRatios[i]?.length ?? 0));
  }

  forward(): never {
    throw new Error("AnchorGenerator depends on the feature maps' sizes; run the model through createDetector(model)");
  }
}

/** torchvision's `_default_anchorgen`: one size per FPN level (32 to 512), three aspect ratios each. */
export function defaultAnchorGenerator(): AnchorGenerator {
  const sizes = [32, 64, 128, 256, 512].map((s) => [s]);
  return new AnchorGenerator(sizes, sizes.map(() => [0.5, 1.0, 2.0]));
}
