import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2dNormActivation,
  Dropout,
  Linear,
  Module,
  Sequential,
  SiLU,
  batchNorm2d,
  silu,
  SqueezeExcitation,
  StochasticDepth,
  F,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";
import { makeDivisible } from "./utils.js";
import { imagenetPreset, zooFamily, type EntryInfo, type Preset, registerModels } from "./entry.js";

/** torchvision.models.efficientnet (V1 and V2), module for module: same attribute names, same forward order. */

/** A block class as `MBConvConfig.block`: built from its config, stochastic depth probability and norm layer. */
export type BlockType = new (cnf: MBConvConfig | FusedMBConvConfig, stochasticDepthProb: number, normLayer: NormFactory) => Module;


/** torchvision's `_MBConvConfig`: one stage of the network. */
abstract class StageConfig {
  constructor(
    public expandRatio: number,
    public kernel: number,
    public stride: number,
    public inputChannels: number,
    public outChannels: number,
    public numLayers: number,
    public block: BlockType,
  ) {}

  static adjustChannels(channels: number, widthMult: number, minValue: number | null = null): number {
    return makeDivisible(channels * widthMult, 8, minValue);
  }

  /** A shallow copy, as `copy.copy(cnf)`. */
  copy(): this {
    return Object.assign(Object.create(Object.getPrototypeOf(this) as object) as this, this);
  }
}

/** Table 1 of the EfficientNet paper and Table 4 of EfficientNetV2: widths and depths scaled by the multipliers. */
export class MBConvConfig extends StageConfig {
  constructor(
    expandRatio: number,
    kernel: number,
    stride: number,
    inputChannels: number,
    outChannels: number,
    numLayers: number,
    widthMult = 1.0,
    depthMult = 1.0,
    block: BlockType | null = null,
  ) {
    super(
      expandRatio,
      kernel,
      stride,
      StageConfig.adjustChannels(inputChannels, widthMult),
      StageConfig.adjustChannels(outChannels, widthMult),
      MBConvConfig.adjustDepth(numLayers, depthMult),
      block ?? MBConv,
    );
  }

  static adjustDepth(numLayers: number, depthMult: number): number {
    return Math.ceil(numLayers * depthMult);
  }
}

/** Table 4 of the EfficientNetV2 paper: stages of fused blocks. */
export class FusedMBConvConfig extends StageConfig {
  constructor(expandRatio: number, kernel: number, stride: number, inputChannels: number, outChannels: number, numLayers: number, block: BlockType | null = null) {
    super(expandRatio, kernel, stride, inputChannels, outChannels, numLayers, block ?? FusedMBConv);
  }
}

export class MBConv extends Module {
  block: Sequential;
  stochastic_depth: StochasticDepth;
  readonly useResConnect: boolean;
  readonly outChannels: number;

  constructor(
    cnf: MBConvConfig | FusedMBConvConfig,
    stochasticDepthProb: number,
    normLayer: NormFactory,
    seLayer: (inputChannels: number, squeezeChannels: number, activation: () => Layer) => Module = (i, s, a) => new SqueezeExcitation(i, s, a),
  ) {
    super();
    if (!(cnf.stride >= 1 && cnf.stride <= 2)) throw new Error("illegal stride value");
    this.useResConnect = cnf.stride === 1 && cnf.inputChannels === cnf.outChannels;
    const layers: Module[] = [];
    // expand
    const expandedChannels = StageConfig.adjustChannels(cnf.inputChannels, cnf.expandRatio);
    if (expandedChannels !== cnf.inputChannels) {
      layers.push(new Conv2dNormActivation(cnf.inputChannels, expandedChannels, { kernelSize: 1, normLayer, activationLayer: silu }));
    }
    // depthwise
    layers.push(
      new Conv2dNormActivation(expandedChannels, expandedChannels, { kernelSize: cnf.kernel, stride: cnf.stride, groups: expandedChannels, normLayer, activationLayer: silu }),
    );
    // squeeze and excitation
    const squeezeChannels = Math.max(1, Math.floor(cnf.inputChannels / 4));
    layers.push(seLayer(expandedChannels, squeezeChannels, () => new SiLU(true)));
    // project
    layers.push(new Conv2dNormActivation(expandedChannels, cnf.outChannels, { kernelSize: 1, normLayer, activationLayer: null }));
    this.block = new Sequential(...layers);
    this.stochastic_depth = new StochasticDepth(stochasticDepthProb, "row");
    this.outChannels = cnf.outChannels;
  }

  forward(input: Tensor): Tensor {
    let result = this.block.call(input);
    if (this.useResConnect) {
      result = this.stochastic_depth.call(result);
      result = F.add(result, input); // `result += input`: torch.fx records an add
    }
    return result;
  }
}

export class FusedMBConv extends Module {
  block: Sequential;
  stochastic_depth: StochasticDepth;
  readonly useResConnect: boolean;
  readonly outChannels: number;

  constructor(cnf: MBConvConfig | FusedMBConvConfig, stochasticDepthProb: number, normLayer: NormFactory) {
    super();
    if (!(cnf.stride >= 1 && cnf.stride <= 2)) throw new Error("illegal stride value");
    this.useResConnect = cnf.stride === 1 && cnf.inputChannels === cnf.outChannels;
    const layers: Module[] = [];
    const expandedChannels = StageConfig.adjustChannels(cnf.inputChannels, cnf.expandRatio);
    if (expandedChannels !== cnf.inputChannels) {
      // fused expand
      layers.push(new Conv2dNormActivation(cnf.inputChannels, expandedChannels, { kernelSize: cnf.kernel, stride: cnf.stride, normLayer, activationLayer: silu }));
      // project
      layers.push(new Conv2dNormActivation(expandedChannels, cnf.outChannels, { kernelSize: 1, normLayer, activationLayer: null }));
    } else {
      layers.push(new Conv2dNormActivation(cnf.inputChannels, cnf.outChannels, { kernelSize: cnf.kernel, stride: cnf.stride, normLayer, activationLayer: silu }));
    }
    this.block = new Sequential(...layers);
    this.stochastic_depth = new StochasticDepth(stochasticDepthProb, "row");
    this.outChannels = cnf.outChannels;
  }

  forward(input: Tensor): Tensor {
    let result = this.block.call(input);
    if (this.useResConnect) {
      result = this.stochastic_depth.call(result);
      result = F.add(result, input);
    }
    return result;
  }
}

export interface EfficientNetOptions {
  stochasticDepthProb?: number;
  numClasses?: number;
  normLayer?: NormFactory | null;
  lastChannel?: number | null;
}

export class EfficientNet extends Module {
  features: Sequential;
  avgpool = new AdaptiveAvgPool2d(1);
  classifier: Sequential;

  constructor(invertedResidualSetting: readonly (MBConvConfig | FusedMBConvConfig)[], dropout: number, options: EfficientNetOptions = {}) {
    super();
    const { stochasticDepthProb = 0.2, numClasses = 1000, lastChannel = null } = options;
    if (invertedResidualSetting.length === 0) throw new Error("The inverted_residual_setting should not be empty");
    if (!invertedResidualSetting.every((s) => s instanceof StageConfig)) throw new TypeError("The inverted_residual_setting should be List[MBConvConfig]");
    const normLayer = options.normLayer ?? batchNorm2d;

    const layers: Module[] = [];
    // building first layer
    const firstconvOutputChannels = invertedResidualSetting[0]!.inputChannels;
    layers.push(new Conv2dNormActivation(3, firstconvOutputChannels, { kernelSize: 3, stride: 2, normLayer, activationLayer: silu }));

    // building inverted residual blocks
    const totalStageBlocks = invertedResidualSetting.reduce((n, cnf) => n + cnf.numLayers, 0);
    let stageBlockId = 0;
    for (const cnf of invertedResidualSetting) {
      const stage: Module[] = [];
      for (let i = 0; i < cnf.numLayers; i++) {
        const blockCnf = cnf.copy();
        // every block after the stage's first keeps the stage's width and resolution
        if (stage.length > 0) {
          blockCnf.inputChannels = blockCnf.outChannels;
          blockCnf.stride = 1;
        }
        // stochastic depth grows with the block's depth in the network
        const sdProb = (stochasticDepthProb * stageBlockId) / totalStageBlocks;
        stage.push(new blockCnf.block(blockCnf, sdProb, normLayer));
        stageBlockId++;
      }
      layers.push(new Sequential(...stage));
    }

    // building last several layers
    const lastconvInputChannels = invertedResidualSetting[invertedResidualSetting.length - 1]!.outChannels;
    const lastconvOutputChannels = lastChannel ?? 4 * lastconvInputChannels;
    layers.push(new Conv2dNormActivation(lastconvInputChannels, lastconvOutputChannels, { kernelSize: 1, normLayer, activationLayer: silu }));

    this.features = new Sequential(...layers);
    this.classifier = new Sequential(new Dropout(dropout, true), new Linear(lastconvOutputChannels, numClasses));
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.avgpool.call(x);
    x = F.flatten(x, 1);
    return this.classifier.call(x);
  }
}

/** Options of the efficientnet_* builders: EfficientNet's, camelCased (the builder fixes dropout and last_channel). */
export type EfficientNetBuilderOptions = Omit<EfficientNetOptions, "lastChannel">;

/** torchvision's `_efficientnet_conf`: the stage settings of each architecture. */
export function efficientnetConf(arch: string, widthMult = 1.0, depthMult = 1.0): { invertedResidualSetting: (MBConvConfig | FusedMBConvConfig)[]; lastChannel: number | null } {
  if (arch.startsWith("efficientnet_b")) {
    const bneck = (e: number, k: number, s: number, i: number, o: number, n: number): MBConvConfig => new MBConvConfig(e, k, s, i, o, n, widthMult, depthMult);
    return {
      invertedResidualSetting: [
        bneck(1, 3, 1, 32, 16, 1),
        bneck(6, 3, 2, 16, 24, 2),
        bneck(6, 5, 2, 24, 40, 2),
        bneck(6, 3, 2, 40, 80, 3),
        bneck(6, 5, 1, 80, 112, 3),
        bneck(6, 5, 2, 112, 192, 4),
        bneck(6, 3, 1, 192, 320, 1),
      ],
      lastChannel: null,
    };
  }
  if (arch.startsWith("efficientnet_v2_s")) {
    return {
      invertedResidualSetting: [
        new FusedMBConvConfig(1, 3, 1, 24, 24, 2),
        new FusedMBConvConfig(4, 3, 2, 24, 48, 4),
        new FusedMBConvConfig(4, 3, 2, 48, 64, 4),
        new MBConvConfig(4, 3, 2, 64, 128, 6),
        new MBConvConfig(6, 3, 1, 128, 160, 9),
        new MBConvConfig(6, 3, 2, 160, 256, 15),
      ],
      lastChannel: 1280,
    };
  }
  if (arch.startsWith("efficientnet_v2_m")) {
    return {
      invertedResidualSetting: [
        new FusedMBConvConfig(1, 3, 1, 24, 24, 3),
        new FusedMBConvConfig(4, 3, 2, 24, 48, 5),
        new FusedMBConvConfig(4, 3, 2, 48, 80, 5),
        new MBConvConfig(4, 3, 2, 80, 160, 7),
        new MBConvConfig(6, 3, 1, 160, 176, 14),
        new MBConvConfig(6, 3, 2, 176, 304, 18),
        new MBConvConfig(6, 3, 1, 304, 512, 5),
      ],
      lastChannel: 1280,
    };
  }
  if (arch.startsWith("efficientnet_v2_l")) {
    return {
      invertedResidualSetting: [
        new FusedMBConvConfig(1, 3, 1, 32, 32, 4),
        new FusedMBConvConfig(4, 3, 2, 32, 64, 7),
        new FusedMBConvConfig(4, 3, 2, 64, 96, 7),
        new MBConvConfig(4, 3, 2, 96, 192, 10),
        new MBConvConfig(6, 3, 1, 192, 224, 19),
        new MBConvConfig(6, 3, 2, 224, 384, 25),
        new MBConvConfig(6, 3, 1, 384, 640, 7),
      ],
      lastChannel: 1280,
    };
  }
  throw new Error(`Unsupported model type ${arch}`);
}

type Builder = (options?: EfficientNetBuilderOptions) => EfficientNet;

/** b5 to b7 were ported with TensorFlow's batch norm settings; V2 uses eps=1e-3. */
const tfBatchNorm: NormFactory = (c) => new BatchNorm2d(c, 0.001, 0.01);
const v2BatchNorm: NormFactory = (c) => new BatchNorm2d(c, 1e-3);

function builder(arch: string, dropout: number, widthMult = 1.0, depthMult = 1.0, normLayer?: NormFactory): Builder {
  return (o = {}) => {
    // As in Python, where the builder passes norm_layer itself and a second one is a TypeError.
    if (normLayer !== undefined && o.normLayer !== undefined) throw new TypeError(`${arch}() got multiple values for keyword argument 'normLayer'`);
    const { invertedResidualSetting, lastChannel } = efficientnetConf(arch, widthMult, depthMult);
    return new EfficientNet(invertedResidualSetting, dropout, { ...o, lastChannel, ...(normLayer ? { normLayer } : {}) });
  };
}

export const efficientnet_b0 = builder("efficientnet_b0", 0.2, 1.0, 1.0);
export const efficientnet_b1 = builder("efficientnet_b1", 0.2, 1.0, 1.1);
export const efficientnet_b2 = builder("efficientnet_b2", 0.3, 1.1, 1.2);
export const efficientnet_b3 = builder("efficientnet_b3", 0.3, 1.2, 1.4);
export const efficientnet_b4 = builder("efficientnet_b4", 0.4, 1.4, 1.8);
export const efficientnet_b5 = builder("efficientnet_b5", 0.4, 1.6, 2.2, tfBatchNorm);
export const efficientnet_b6 = builder("efficientnet_b6", 0.5, 1.8, 2.6, tfBatchNorm);
export const efficientnet_b7 = builder("efficientnet_b7", 0.5, 2.0, 3.1, tfBatchNorm);
export const efficientnet_v2_s = builder("efficientnet_v2_s", 0.2, 1.0, 1.0, v2BatchNorm);
export const efficientnet_v2_m = builder("efficientnet_v2_m", 0.3, 1.0, 1.0, v2BatchNorm);
export const efficientnet_v2_l = builder("efficientnet_v2_l", 0.4, 1.0, 1.0, v2BatchNorm);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("EfficientNet", { minSize: 1, preset: imagenetPreset(224, 256, "bicubic") });
const v2 = (preset: Preset): EntryInfo => ({ minSize: 33, preset });

/** torchvision's DEFAULT weights: V1 models accept any size, V2's document 33 pixels at least. */
registerModels(
  entry("efficientnet_b0", efficientnet_b0),
  entry("efficientnet_b1", efficientnet_b1, { preset: imagenetPreset(240, 255) }),
  entry("efficientnet_b2", efficientnet_b2, { preset: imagenetPreset(288, 288, "bicubic") }),
  entry("efficientnet_b3", efficientnet_b3, { preset: imagenetPreset(300, 320, "bicubic") }),
  entry("efficientnet_b4", efficientnet_b4, { preset: imagenetPreset(380, 384, "bicubic") }),
  entry("efficientnet_b5", efficientnet_b5, { preset: imagenetPreset(456, 456, "bicubic") }),
  entry("efficientnet_b6", efficientnet_b6, { preset: imagenetPreset(528, 528, "bicubic") }),
  entry("efficientnet_b7", efficientnet_b7, { preset: imagenetPreset(600, 600, "bicubic") }),
  entry("efficientnet_v2_s", efficientnet_v2_s, v2(imagenetPreset(384, 384))),
  entry("efficientnet_v2_m", efficientnet_v2_m, v2(imagenetPreset(480, 480))),
  entry("efficientnet_v2_l", efficientnet_v2_l, v2({ cropSize: 480, resizeSize: 480, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: "bicubic" })),
);
