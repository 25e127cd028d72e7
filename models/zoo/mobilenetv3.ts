import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2dNormActivation,
  Dropout,
  Hardsigmoid,
  Hardswish,
  hardswish,
  Linear,
  Module,
  relu,
  Sequential,
  SqueezeExcitation,
  F,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";
import { makeDivisible } from "./utils.js";
import { imagenetPreset, registerModels, zooFamily } from "./entry.js";

/** torchvision.models.mobilenetv3, module for module: same attribute names, same forward order. */

export class InvertedResidualConfig {
  readonly inputChannels: number;
  readonly expandedChannels: number;
  readonly outChannels: number;
  readonly useHs: boolean;

  constructor(
    inputChannels: number,
    readonly kernel: number,
    expandedChannels: number,
    outChannels: number,
    readonly useSe: boolean,
    activation: "RE" | "HS",
    readonly stride: number,
    readonly dilation: number,
    widthMult: number,
  ) {
    this.inputChannels = InvertedResidualConfig.adjustChannels(inputChannels, widthMult);
    this.expandedChannels = InvertedResidualConfig.adjustChannels(expandedChannels, widthMult);
    this.outChannels = InvertedResidualConfig.adjustChannels(outChannels, widthMult);
    this.useHs = activation === "HS";
  }

  static adjustChannels(channels: number, widthMult: number): number {
    return makeDivisible(channels * widthMult, 8);
  }
}

/** torchvision's `se_layer` argument: SqueezeExcitation with a hard sigmoid by default. */
export type SELayerFactory = (inputChannels: number, squeezeChannels: number) => Layer;
const hardSigmoidSE: SELayerFactory = (input, squeeze) => new SqueezeExcitation(input, squeeze, undefined, () => new Hardsigmoid());

export class InvertedResidual extends Module {
  block: Sequential;
  readonly useResConnect: boolean;
  readonly outChannels: number;
  /** torchvision's `_is_cn`: a strided block, where a new stage (C1, C2, ...) starts; the detection backbones cut stages here. */
  readonly isCn: boolean;

  constructor(cnf: InvertedResidualConfig, normLayer: NormFactory, seLayer: SELayerFactory = hardSigmoidSE) {
    super();
    if (!(cnf.stride >= 1 && cnf.stride <= 2)) throw new Error("illegal stride value");
    this.useResConnect = cnf.stride === 1 && cnf.inputChannels === cnf.outChannels;
    const activationLayer = cnf.useHs ? hardswish : relu;
    const layers: Module[] = [];
    if (cnf.expandedChannels !== cnf.inputChannels) {
      layers.push(new Conv2dNormActivation(cnf.inputChannels, cnf.expandedChannels, { kernelSize: 1, normLayer, activationLayer }));
    }
    const stride = cnf.dilation > 1 ? 1 : cnf.stride;
    layers.push(
      new Conv2dNormActivation(cnf.expandedChannels, cnf.expandedChannels, {
        kernelSize: cnf.kernel,
        stride,
        dilation: cnf.dilation,
        groups: cnf.expandedChannels,
        normLayer,
        activationLayer,
      }),
    );
    if (cnf.useSe) layers.push(seLayer(cnf.expandedChannels, makeDivisible(Math.floor(cnf.expandedChannels / 4), 8)));
    layers.push(new Conv2dNormActivation(cnf.expandedChannels, cnf.outChannels, { kernelSize: 1, normLayer, activationLayer: null }));
    this.block = new Sequential(...layers);
    this.outChannels = cnf.outChannels;
    this.isCn = cnf.stride > 1;
  }

  forward(input: Tensor): Tensor {
    let result = this.block.call(input);
    // torchvision writes `result += input`; torch.fx records it as an out-of-place add.
    if (this.useResConnect) result = F.add(result, input);
    return result;
  }
}

/** torchvision's `block` argument: an InvertedResidual-like class. */
export type MobileNetV3Block = new (cnf: InvertedResidualConfig, normLayer: NormFactory) => Layer;

export interface MobileNetV3Options {
  numClasses?: number;
  block?: MobileNetV3Block | null;
  normLayer?: NormFactory | null;
  dropout?: number;
}

export class MobileNetV3 extends Module {
  features: Sequential;
  avgpool: AdaptiveAvgPool2d;
  classifier: Sequential;

  constructor(invertedResidualSetting: readonly InvertedResidualConfig[], lastChannel: number, { numClasses = 1000, block = null, normLayer = null, dropout = 0.2 }: MobileNetV3Options = {}) {
    super();
    if (invertedResidualSetting.length === 0) throw new Error("The inverted_residual_setting should not be empty");
    const blockClass = block ?? InvertedResidual;
    const norm: NormFactory = normLayer ?? ((c) => new BatchNorm2d(c, 0.001, 0.01));
    const firstconvOutputChannels = invertedResidualSetting[0]!.inputChannels;
    const layers: Module[] = [new Conv2dNormActivation(3, firstconvOutputChannels, { kernelSize: 3, stride: 2, normLayer: norm, activationLayer: hardswish })];
    for (const cnf of invertedResidualSetting) layers.push(new blockClass(cnf, norm));
    const lastconvInputChannels = invertedResidualSetting[invertedResidualSetting.length - 1]!.outChannels;
    const lastconvOutputChannels = 6 * lastconvInputChannels;
    layers.push(new Conv2dNormActivation(lastconvInputChannels, lastconvOutputChannels, { kernelSize: 1, normLayer: norm, activationLayer: hardswish }));
    this.features = new Sequential(...layers);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.classifier = new Sequential(new Linear(lastconvOutputChannels, lastChannel), new Hardswish(true), new Dropout(dropout, true), new Linear(lastChannel, numClasses));
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.avgpool.call(x);
    x = F.flatten(x, 1);
    return this.classifier.call(x);
  }
}

export interface MobileNetV3ConfOptions {
  widthMult?: number;
  reducedTail?: boolean;
  dilated?: boolean;
}

/** torchvision's `_mobilenet_v3_conf`: the block settings and last channel of each architecture. */
export function mobilenetV3Conf(arch: "mobilenet_v3_large" | "mobilenet_v3_small", { widthMult = 1.0, reducedTail = false, dilated = false }: MobileNetV3ConfOptions = {}): {
  setting: InvertedResidualConfig[];
  lastChannel: number;
} {
  const r = reducedTail ? 2 : 1;
  const d = dilated ? 2 : 1;
  const bneck = (i: number, k: number, e: number, o: number, se: boolean, act: "RE" | "HS", s: number, dil: number): InvertedResidualConfig =>
    new InvertedResidualConfig(i, k, e, o, se, act, s, dil, widthMult);
  const div = (a: number): number => Math.floor(a / r);
  if (arch === "mobilenet_v3_large") {
    return {
      setting: [
        bneck(16, 3, 16, 16, false, "RE", 1, 1),
        bneck(16, 3, 64, 24, false, "RE", 2, 1), // C1
        bneck(24, 3, 72, 24, false, "RE", 1, 1),
        bneck(24, 5, 72, 40, true, "RE", 2, 1), // C2
        bneck(40, 5, 120, 40, true, "RE", 1, 1),
        bneck(40, 5, 120, 40, true, "RE", 1, 1),
        bneck(40, 3, 240, 80, false, "HS", 2, 1), // C3
        bneck(80, 3, 200, 80, false, "HS", 1, 1),
        bneck(80, 3, 184, 80, false, "HS", 1, 1),
        bneck(80, 3, 184, 80, false, "HS", 1, 1),
        bneck(80, 3, 480, 112, true, "HS", 1, 1),
        bneck(112, 3, 672, 112, true, "HS", 1, 1),
        bneck(112, 5, 672, div(160), true, "HS", 2, d), // C4
        bneck(div(160), 5, div(960), div(160), true, "HS", 1, d),
        bneck(div(160), 5, div(960), div(160), true, "HS", 1, d),
      ],
      lastChannel: InvertedResidualConfig.adjustChannels(div(1280), widthMult), // C5
    };
  }
  if (arch === "mobilenet_v3_small") {
    return {
      setting: [
        bneck(16, 3, 16, 16, true, "RE", 2, 1), // C1
        bneck(16, 3, 72, 24, false, "RE", 2, 1), // C2
        bneck(24, 3, 88, 24, false, "RE", 1, 1),
        bneck(24, 5, 96, 40, true, "HS", 2, 1), // C3
        bneck(40, 5, 240, 40, true, "HS", 1, 1),
        bneck(40, 5, 240, 40, true, "HS", 1, 1),
        bneck(40, 5, 120, 48, true, "HS", 1, 1),
        bneck(48, 5, 144, 48, true, "HS", 1, 1),
        bneck(48, 5, 288, div(96), true, "HS", 2, d), // C4
        bneck(div(96), 5, div(576), div(96), true, "HS", 1, d),
        bneck(div(96), 5, div(576), div(96), true, "HS", 1, d),
      ],
      lastChannel: InvertedResidualConfig.adjustChannels(div(1024), widthMult), // C5
    };
  }
  throw new Error(`Unsupported model type ${String(arch)}`);
}

/** The builders take the configuration options and the model's, as torchvision's kwargs go to both. */
export type MobileNetV3BuilderOptions = MobileNetV3ConfOptions & MobileNetV3Options;

const builder =
  (arch: "mobilenet_v3_large" | "mobilenet_v3_small") =>
  (options: MobileNetV3BuilderOptions = {}): MobileNetV3 => {
    const { setting, lastChannel } = mobilenetV3Conf(arch, options);
    return new MobileNetV3(setting, lastChannel, options);
  };

export const mobilenet_v3_large = builder("mobilenet_v3_large");
export const mobilenet_v3_small = builder("mobilenet_v3_small");

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
/** torchvision's DEFAULT weights: IMAGENET1K_V2 for v3_large (resize 232), V1 for v3_small (resize 256). */
const entry = zooFamily("MobileNet", { minSize: 1, preset: imagenetPreset(224, 232) });

registerModels(entry("mobilenet_v3_large", mobilenet_v3_large), entry("mobilenet_v3_small", mobilenet_v3_small, { preset: imagenetPreset(224, 256) }));
