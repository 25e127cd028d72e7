import { AvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential, F, type Tensor } from "../nn/index.js";
import type { KeyRename } from "@fxc/runtime/internal/weights/rename";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/** torchvision.models.densenet, module for module: same attribute names, same forward order. */

interface DenseLayerArgs {
  numInputFeatures: number;
  growthRate: number;
  bnSize: number;
  dropRate: number;
  memoryEfficient?: boolean;
}

export class DenseLayer extends Module {
  norm1: BatchNorm2d;
  relu1: ReLU;
  conv1: Conv2d;
  norm2: BatchNorm2d;
  relu2: ReLU;
  conv2: Conv2d;
  readonly dropRate: number;
  readonly memoryEfficient: boolean;

  constructor({ numInputFeatures, growthRate, bnSize, dropRate, memoryEfficient = false }: DenseLayerArgs) {
    super();
    this.norm1 = new BatchNorm2d(numInputFeatures);
    this.relu1 = new ReLU(true);
    this.conv1 = new Conv2d(numInputFeatures, bnSize * growthRate, 1, { bias: false });
    this.norm2 = new BatchNorm2d(bnSize * growthRate);
    this.relu2 = new ReLU(true);
    this.conv2 = new Conv2d(bnSize * growthRate, growthRate, 3, { padding: 1, bias: false });
    this.dropRate = dropRate;
    this.memoryEfficient = memoryEfficient;
  }

  bnFunction(inputs: readonly Tensor[]): Tensor {
    const concatedFeatures = F.cat(inputs, 1);
    return this.conv1.call(this.relu1.call(this.norm1.call(concatedFeatures)));
  }

  /**
   * torchvision checks `tensor.requires_grad` to choose gradient checkpointing, which only
   * saves memory in backward and computes the same values. fxc compiles forward passes, whose
   * values carry no autograd, so it is never taken and the graph stays the plain one.
   * (torchvision's own tracer cannot trace this check: it raises a TraceError.)
   */
  anyRequiresGrad(_inputs: readonly Tensor[]): boolean {
    return false;
  }

  /** Takes one tensor, or the list of every earlier layer's features as a dense block passes. */
  forward(input: Tensor | readonly Tensor[]): Tensor {
    const prevFeatures = Array.isArray(input) ? (input as readonly Tensor[]) : [input as Tensor];
    if (this.memoryEfficient && this.anyRequiresGrad(prevFeatures)) throw new InternalError("unreachable checkpointing path");
    const bottleneckOutput = this.bnFunction(prevFeatures);
    let newFeatures = this.conv2.call(this.relu2.call(this.norm2.call(bottleneckOutput)));
    if (this.dropRate > 0) newFeatures = F.dropout(newFeatures, this.dropRate, this.training);
    return newFeatures;
  }
}

/** torchvision's `_DenseBlock`: a ModuleDict of `denselayer1`, `denselayer2`, ... each fed all earlier features. */
export class DenseBlock extends Module {
  constructor(numLayers: number, numInputFeatures: number, bnSize: number, growthRate: number, dropRate: number, memoryEfficient = false) {
    super();
    for (let i = 0; i < numLayers; i++) {
      const layer = new DenseLayer({ numInputFeatures: numInputFeatures + i * growthRate, growthRate, bnSize, dropRate, memoryEfficient });
      (this as unknown as Record<string, Module>)[`denselayer${i + 1}`] = layer;
    }
  }

  forward(initFeatures: Tensor): Tensor {
    const features = [initFeatures];
    for (const [, layer] of this.namedChildren()) features.push((layer as DenseLayer).call(features));
    return F.cat(features, 1);
  }
}

/** torchvision's `_Transition`: a Sequential of norm, relu, conv, pool. */
export class Transition extends Sequential {
  constructor(numInputFeatures: number, numOutputFeatures: number) {
    super({
      norm: new BatchNorm2d(numInputFeatures),
      relu: new ReLU(true),
      conv: new Conv2d(numInputFeatures, numOutputFeatures, 1, { bias: false }),
      pool: new AvgPool2d(2, { stride: 2 }),
    });
  }
}

export interface DenseNetOptions {
  growthRate?: number;
  blockConfig?: readonly [number, number, number, number];
  numInitFeatures?: number;
  bnSize?: number;
  dropRate?: number;
  numClasses?: number;
  memoryEfficient?: boolean;
}

export class DenseNet extends Module {
  features: Sequential;
  classifier: Linear;

  constructor({ growthRate = 32, blockConfig = [6, 12, 24, 16], numInitFeatures = 64, bnSize = 4, dropRate = 0, numClasses = 1000, memoryEfficient = false }: DenseNetOptions = {}) {
    super();
    this.features = new Sequential({
      conv0: new Conv2d(3, numInitFeatures, 7, { stride: 2, padding: 3, bias: false }),
      norm0: new BatchNorm2d(numInitFeatures),
      relu0: new ReLU(true),
      pool0: new MaxPool2d(3, { stride: 2, padding: 1 }),
    });
    let numFeatures = numInitFeatures;
    blockConfig.forEach((numLayers, i) => {
      this.features.addModule(`denseblock${i + 1}`, new DenseBlock(numLayers, numFeatures, bnSize, growthRate, dropRate, memoryEfficient));
      numFeatures += numLayers * growthRate;
      if (i !== blockConfig.length - 1) {
        this.features.addModule(`transition${i + 1}`, new Transition(numFeatures, Math.floor(numFeatures / 2)));
        numFeatures = Math.floor(numFeatures / 2);
      }
    });
    this.features.addModule("norm5", new BatchNorm2d(numFeatures));
    this.classifier = new Linear(numFeatures, numClasses);
  }

  forward(x: Tensor): Tensor {
    const features = this.features.call(x);
    let out = F.relu(features, true);
    out = F.adaptive_avg_pool2d(out, [1, 1]);
    out = F.flatten(out, 1);
    return this.classifier.call(out);
  }
}

/**
 * torchvision's published DenseNet checkpoints name dense-layer tensors the old way
 * (`denselayer1.norm.1.weight`); torchvision's loader renames them (`denselayer1.norm1.weight`)
 * with this pattern, and fxc's loader does the same.
 */
export const OLD_DENSENET_KEYS: readonly KeyRename[] = [
  { pattern: String.raw`^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$`, replacement: "$1$2" },
];

type BuilderOptions = Omit<DenseNetOptions, "growthRate" | "blockConfig" | "numInitFeatures">;
type Builder = (options?: BuilderOptions) => DenseNet;
const densenet =
  (growthRate: number, blockConfig: readonly [number, number, number, number], numInitFeatures: number): Builder =>
  (options = {}) => {
    // The builder fixes these, as torchvision's does (passing one again is a TypeError there).
    for (const fixed of ["growthRate", "blockConfig", "numInitFeatures"]) {
      if (fixed in options) throw new Error(`the densenet builders fix ${fixed}; build a DenseNet to choose it`);
    }
    return new DenseNet({ ...options, growthRate, blockConfig, numInitFeatures });
  };

export const densenet121: Builder = densenet(32, [6, 12, 24, 16], 64);
export const densenet161: Builder = densenet(48, [6, 12, 36, 24], 96);
export const densenet169: Builder = densenet(32, [6, 12, 32, 32], 64);
export const densenet201: Builder = densenet(32, [6, 12, 48, 32], 64);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("DenseNet", { minSize: 29, preset: imagenetPreset(224, 256), checkpointKeyRenames: OLD_DENSENET_KEYS });

registerModels(
  entry("densenet121", densenet121),
  entry("densenet161", densenet161),
  entry("densenet169", densenet169),
  entry("densenet201", densenet201),
);
