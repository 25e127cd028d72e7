import { batchNorm2d, Conv2d, Conv2dNormActivation, Dropout, Linear, Module, relu6, Sequential, F, type Layer, type NormFactory, type Tensor } from "../nn/index.js";
import { pythonRound } from "@fxc/runtime/internal/pythonMath";
import { makeDivisible } from "./utils.js";
import { imagenetPreset, registerModels, zooFamily } from "./entry.js";

// torchvision.models.mobilenetv2 imports _make_divisible into its namespace; so does this module.
export { makeDivisible };

/** torchvision.models.mobilenetv2, module for module: same attribute names, same forward order. */


export class InvertedResidual extends Module {
  conv: Sequential;
  readonly stride: number;
  readonly useResConnect: boolean;
  readonly outChannels: number;
  /** torchvision's `_is_cn`: a strided block, where a new stage (C1, C2, ...) starts; the detection backbones cut stages here. */
  readonly isCn: boolean;

  constructor(inp: number, oup: number, stride: number, expandRatio: number, normLayer: NormFactory | null = null) {
    super();
    if (stride !== 1 && stride !== 2) throw new Error(`stride should be 1 or 2 insted of ${stride}`);
    const norm = normLayer ?? batchNorm2d;
    this.stride = stride;
    const hiddenDim = pythonRound(inp * expandRatio);
    this.useResConnect = stride === 1 && inp === oup;
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(new Conv2dNormActivation(inp, hiddenDim, { kernelSize: 1, normLayer: norm, activationLayer: relu6 }));
    layers.push(
      new Conv2dNormActivation(hiddenDim, hiddenDim, { stride, groups: hiddenDim, normLayer: norm, activationLayer: relu6 }),
      new Conv2d(hiddenDim, oup, 1, { stride: 1, padding: 0, bias: false }),
      norm(oup),
    );
    this.conv = new Sequential(...layers);
    this.outChannels = oup;
    this.isCn = stride > 1;
  }

  forward(x: Tensor): Tensor {
    if (this.useResConnect) return F.add(x, this.conv.call(x));
    return this.conv.call(x);
  }
}

/** torchvision's `block` argument: an InvertedResidual-like class. */
export type MobileNetV2Block = new (inp: number, oup: number, stride: number, expandRatio: number, normLayer: NormFactory | null) => Layer;

/** Per stage: expansion t, output channels c, repeats n, first stride s. */
export type InvertedResidualSetting = readonly (readonly [t: number, c: number, n: number, s: number])[];

export interface MobileNetV2Options {
  numClasses?: number;
  widthMult?: number;
  invertedResidualSetting?: InvertedResidualSetting | null;
  roundNearest?: number;
  block?: MobileNetV2Block | null;
  normLayer?: NormFactory | null;
  dropout?: number;
}

export class MobileNetV2 extends Module {
  features: Sequential;
  classifier: Sequential;
  readonly lastChannel: number;

  constructor({ numClasses = 1000, widthMult = 1.0, invertedResidualSetting = null, roundNearest = 8, block = null, normLayer = null, dropout = 0.2 }: MobileNetV2Options = {}) {
    super();
    const blockClass = block ?? InvertedResidual;
    const norm = normLayer ?? batchNorm2d;
    const setting: InvertedResidualSetting = invertedResidualSetting ?? [
      [1, 16, 1, 1],
      [6, 24, 2, 2],
      [6, 32, 3, 2],
      [6, 64, 4, 2],
      [6, 96, 3, 1],
      [6, 160, 3, 2],
      [6, 320, 1, 1],
    ];
    if (setting.length === 0 || setting[0]!.length !== 4) {
      throw new Error(`inverted_residual_setting should be non-empty or a 4-element list, got ${JSON.stringify(setting)}`);
    }
    let inputChannel = makeDivisible(32 * widthMult, roundNearest);
    this.lastChannel = makeDivisible(1280 * Math.max(1.0, widthMult), roundNearest);
    const features: Module[] = [new Conv2dNormActivation(3, inputChannel, { stride: 2, normLayer: norm, activationLayer: relu6 })];
    for (const [t, c, n, s] of setting) {
      const outputChannel = makeDivisible(c * widthMult, roundNearest);
      for (let i = 0; i < n; i++) {
        features.push(new blockClass(inputChannel, outputChannel, i === 0 ? s : 1, t, norm));
        inputChannel = outputChannel;
      }
    }
    features.push(new Conv2dNormActivation(inputChannel, this.lastChannel, { kernelSize: 1, normLayer: norm, activationLayer: relu6 }));
    this.features = new Sequential(...features);
    this.classifier = new Sequential(new Dropout(dropout), new Linear(this.lastChannel, numClasses));
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = F.adaptive_avg_pool2d(x, [1, 1]);
    x = F.flatten(x, 1);
    return this.classifier.call(x);
  }
}

export const mobilenet_v2 = (options: MobileNetV2Options = {}): MobileNetV2 => new MobileNetV2(options);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
/** torchvision's DEFAULT weights: IMAGENET1K_V2 (resize 232). */
registerModels(zooFamily("MobileNet", { minSize: 1, preset: imagenetPreset(224, 232) })("mobilenet_v2", mobilenet_v2));
