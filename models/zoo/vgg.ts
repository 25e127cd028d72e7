import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, ReLU, Sequential, F, type Layer, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.vgg, module for module: same attribute names, same forward order. */

export interface VGGOptions {
  numClasses?: number;
  /** Accepted for torchvision's signature; fxc models hold shapes, not initial values. */
  initWeights?: boolean;
  dropout?: number;
}

export class VGG extends Module {
  features: Layer;
  avgpool: AdaptiveAvgPool2d;
  classifier: Sequential;

  constructor(features: Layer, { numClasses = 1000, dropout = 0.5 }: VGGOptions = {}) {
    super();
    this.features = features;
    this.avgpool = new AdaptiveAvgPool2d([7, 7]);
    this.classifier = new Sequential(
      new Linear(512 * 7 * 7, 4096),
      new ReLU(true),
      new Dropout(dropout),
      new Linear(4096, 4096),
      new ReLU(true),
      new Dropout(dropout),
      new Linear(4096, numClasses),
    );
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.avgpool.call(x);
    x = F.flatten(x, 1);
    return this.classifier.call(x);
  }
}

/** A layer configuration: output channels of a 3x3 convolution, or "M" for a 2x2 max pool. */
export type VGGConfig = readonly (number | "M")[];

export function makeLayers(cfg: VGGConfig, batchNorm = false): Sequential {
  const layers: Module[] = [];
  let inChannels = 3;
  for (const v of cfg) {
    if (v === "M") {
      layers.push(new MaxPool2d(2, { stride: 2 }));
      continue;
    }
    const conv = new Conv2d(inChannels, v, 3, { padding: 1 });
    layers.push(...(batchNorm ? [conv, new BatchNorm2d(v), new ReLU(true)] : [conv, new ReLU(true)]));
    inChannels = v;
  }
  return new Sequential(...layers);
}

export const cfgs = {
  A: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  B: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  D: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  E: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
} as const satisfies Record<string, VGGConfig>;

type Builder = (options?: VGGOptions) => VGG;
const vgg =
  (cfg: keyof typeof cfgs, batchNorm: boolean): Builder =>
  (options = {}) =>
    new VGG(makeLayers(cfgs[cfg], batchNorm), options);

export const vgg11: Builder = vgg("A", false);
export const vgg11_bn: Builder = vgg("A", true);
export const vgg13: Builder = vgg("B", false);
export const vgg13_bn: Builder = vgg("B", true);
export const vgg16: Builder = vgg("D", false);
export const vgg16_bn: Builder = vgg("D", true);
export const vgg19: Builder = vgg("E", false);
export const vgg19_bn: Builder = vgg("E", true);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("VGG", { minSize: 32, preset: imagenetPreset(224, 256) });

registerModels(
  entry("vgg11", vgg11),
  entry("vgg11_bn", vgg11_bn),
  entry("vgg13", vgg13),
  entry("vgg13_bn", vgg13_bn),
  entry("vgg16", vgg16),
  entry("vgg16_bn", vgg16_bn),
  entry("vgg19", vgg19),
  entry("vgg19_bn", vgg19_bn),
);
