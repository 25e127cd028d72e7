import { Module } from "../nn/index.js";

/**
 * torchvision.ops.MultiScaleRoIAlign's configuration: which feature maps, the output size and
 * sampling ratio (RoIAlign with aligned=False), and LevelMapper's canonical scale and level.
 * Its work depends on the boxes, so the detector runs runtime/detection's multiScaleRoIAlign.
 */
export class MultiScaleRoIAlign extends Module {
  static override readonly leaf = true;
  readonly featmapNames: readonly string[];
  readonly outputSize: readonly [number, number];

  constructor(
    featmapNames: readonly string[],
    outputSize: number | readonly [number, number] | readonly [number],
    readonly samplingRatio: number,
    readonly options: { readonly canonicalScale?: number; readonly canonicalLevel?: number } = {},
  ) {
    super();
    this.featmapNames = [...featmapNames];
    this.outputSize = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize.length === 1 ? [outputSize[0]!, outputSize[0]!] : [outputSize[0]!, outputSize[1]!];
  }

  get canonicalScale(): number {
    return this.options.canonicalScale ?? 224;
  }

  get canonicalLevel(): number {
    return this.options.canonicalLevel ?? 4;
  }

  forward(): never {
    throw new Error("MultiScaleRoIAlign depends on the boxes; run the model through createDetector(model)");
  }
}
