import {
  AdaptiveAvgPool2d,
  Conv2d,
  Conv2dNormActivation,
  Flatten,
  GELU,
  LayerNorm,
  Linear,
  Module,
  Parameter,
  Permute,
  Sequential,
  StochasticDepth,
  F,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.convnext, module for module: same attribute names, same forward order. */

/**
 * LayerNorm over the channels of an NCHW tensor. It lives in torchvision.models, so the
 * tracer goes through it (permute, layer_norm, permute) instead of keeping it as a leaf.
 */
export class LayerNorm2d extends LayerNorm {
  static override readonly leaf: boolean = false;

  override forward(x: Tensor): Tensor {
    x = x.permute(0, 2, 3, 1);
    x = F.layer_norm(x, this.normalizedShape, this.weight, this.bias, this.eps);
    return x.permute(0, 3, 1, 2);
  }
}

export class CNBlock extends Module {
  block: Sequential;
  layer_scale: Parameter;
  stochastic_depth: StochasticDepth;

  constructor(dim: number, layerScale: number, stochasticDepthProb: number, normLayer: NormFactory | null = null) {
    super();
    const norm = normLayer ?? ((c: number) => new LayerNorm(c, 1e-6));
    this.block = new Sequential(
      new Conv2d(dim, dim, 7, { padding: 3, groups: dim, bias: true }),
      new Permute([0, 2, 3, 1]),
      norm(dim),
      new Linear(dim, 4 * dim, true),
      new GELU(),
      new Linear(4 * dim, dim, true),
      new Permute([0, 3, 1, 2]),
    );
    // torch.ones(dim, 1, 1) * layer_scale is only its initial value; the checkpoint holds the trained one.
    this.layer_scale = new Parameter([dim, 1, 1]);
    this.stochastic_depth = new StochasticDepth(stochasticDepthProb, "row");
  }

  forward(input: Tensor): Tensor {
    let result = F.mul(F.get_attr(this.layer_scale), this.block.call(input));
    result = this.stochastic_depth.call(result);
    return F.add(result, input); // `result += input`: torch.fx records an add
  }
}

/** Section 3 of the ConvNeXt paper: one stage, and the width after its downsampling (null for the last). */
export class CNBlockConfig {
  constructor(
    readonly inputChannels: number,
    readonly outChannels: number | null,
    readonly numLayers: number,
  ) {}
}

export type CNBlockType = new (dim: number, layerScale: number, stochasticDepthProb: number) => Module;

export interface ConvNeXtOptions {
  stochasticDepthProb?: number;
  layerScale?: number;
  numClasses?: number;
  block?: CNBlockType | null;
  normLayer?: NormFactory | null;
}

export class ConvNeXt extends Module {
  features: Sequential;
  avgpool: AdaptiveAvgPool2d;
  classifier: Sequential;

  constructor(blockSetting: readonly CNBlockConfig[], options: ConvNeXtOptions = {}) {
    super();
    const { stochasticDepthProb = 0.0, layerScale = 1e-6, numClasses = 1000 } = options;
    if (blockSetting.length === 0) throw new Error("The block_setting should not be empty");
    if (!blockSetting.every((s) => s instanceof CNBlockConfig)) throw new TypeError("The block_setting should be List[CNBlockConfig]");
    const block = options.block ?? CNBlock;
    const normLayer: NormFactory = options.normLayer ?? ((c: number): Layer => new LayerNorm2d(c, 1e-6));

    const layers: Module[] = [];
    // Stem
    const firstconvOutputChannels = blockSetting[0]!.inputChannels;
    layers.push(new Conv2dNormActivation(3, firstconvOutputChannels, { kernelSize: 4, stride: 4, padding: 0, normLayer, activationLayer: null, bias: true }));

    const totalStageBlocks = blockSetting.reduce((n, cnf) => n + cnf.numLayers, 0);
    // torchvision divides by total - 1 (a single-block network fails there too).
    if (totalStageBlocks === 1) throw new Error("ConvNeXt needs at least two blocks in all (torchvision divides by their number minus one)");
    let stageBlockId = 0;
    for (const cnf of blockSetting) {
      // Bottlenecks
      const stage: Module[] = [];
      for (let i = 0; i < cnf.numLayers; i++) {
        // stochastic depth grows with the block's depth in the network
        const sdProb = (stochasticDepthProb * stageBlockId) / (totalStageBlocks - 1.0);
        stage.push(new block(cnf.inputChannels, layerScale, sdProb));
        stageBlockId++;
      }
      layers.push(new Sequential(...stage));
      if (cnf.outChannels !== null) {
        // Downsampling
        layers.push(new Sequential(normLayer(cnf.inputChannels), new Conv2d(cnf.inputChannels, cnf.outChannels, 2, { stride: 2 })));
      }
    }
    this.features = new Sequential(...layers);
    this.avgpool = new AdaptiveAvgPool2d(1);
    const lastblock = blockSetting[blockSetting.length - 1]!;
    const lastconvOutputChannels = lastblock.outChannels ?? lastblock.inputChannels;
    this.classifier = new Sequential(normLayer(lastconvOutputChannels), new Flatten(1), new Linear(lastconvOutputChannels, numClasses));
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.avgpool.call(x);
    return this.classifier.call(x);
  }
}

type Builder = (options?: ConvNeXtOptions) => ConvNeXt;

/** The builders differ in their stages and default stochastic depth probability. */
function builder(blockSetting: readonly [number, number | null, number][], stochasticDepthProb: number): Builder {
  return (o = {}) => new ConvNeXt(blockSetting.map(([i, out, n]) => new CNBlockConfig(i, out, n)), { ...o, stochasticDepthProb: o.stochasticDepthProb ?? stochasticDepthProb });
}

export const convnext_tiny = builder(
  [
    [96, 192, 3],
    [192, 384, 3],
    [384, 768, 9],
    [768, null, 3],
  ],
  0.1,
);
export const convnext_small = builder(
  [
    [96, 192, 3],
    [192, 384, 3],
    [384, 768, 27],
    [768, null, 3],
  ],
  0.4,
);
export const convnext_base = builder(
  [
    [128, 256, 3],
    [256, 512, 3],
    [512, 1024, 27],
    [1024, null, 3],
  ],
  0.5,
);
export const convnext_large = builder(
  [
    [192, 384, 3],
    [384, 768, 3],
    [768, 1536, 27],
    [1536, null, 3],
  ],
  0.5,
);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
// A 4x4 stem, then three 2x2 downsamplings: anything under 32 pixels runs out of input.
const entry = zooFamily("ConvNeXt", { minSize: 32, preset: imagenetPreset(224, 232) });

/** torchvision's DEFAULT weights: IMAGENET1K_V1 for each. */
registerModels(
  entry("convnext_tiny", convnext_tiny, { preset: imagenetPreset(224, 236) }),
  entry("convnext_small", convnext_small, { preset: imagenetPreset(224, 230) }),
  entry("convnext_base", convnext_base),
  entry("convnext_large", convnext_large),
);
