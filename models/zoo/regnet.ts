import {
  batchNorm2d,
  AdaptiveAvgPool2d,
  Conv2dNormActivation,
  Linear,
  Module,
  Sequential,
  SqueezeExcitation,
  F,
  relu,
  type ActivationFactory,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";
import { makeDivisible } from "./utils.js";
import { pythonRound } from "@fxc/runtime/internal/pythonMath";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.regnet, module for module: same attribute names, same forward order. */

/** Simple stem for ImageNet: 3x3, BN, ReLU. A Conv2dNormActivation, so a leaf as torchvision's is. */
export class SimpleStemIN extends Conv2dNormActivation {
  constructor(widthIn: number, widthOut: number, normLayer: NormFactory, activationLayer: ActivationFactory) {
    super(widthIn, widthOut, { kernelSize: 3, stride: 2, normLayer, activationLayer });
  }
}

/** Bottleneck transformation: 1x1, 3x3 [+SE], 1x1. */
export class BottleneckTransform extends Sequential {
  constructor(
    widthIn: number,
    widthOut: number,
    stride: number,
    normLayer: NormFactory,
    activationLayer: ActivationFactory,
    groupWidth: number,
    bottleneckMultiplier: number,
    seRatio: number | null,
  ) {
    const wB = pythonRound(widthOut * bottleneckMultiplier);
    const g = Math.floor(wB / groupWidth);
    const layers: Record<string, Module> = {
      a: new Conv2dNormActivation(widthIn, wB, { kernelSize: 1, stride: 1, normLayer, activationLayer }),
      b: new Conv2dNormActivation(wB, wB, { kernelSize: 3, stride, groups: g, normLayer, activationLayer }),
    };
    if (seRatio) {
      // The SE reduction ratio is defined with respect to the beginning of the block.
      const widthSeOut = pythonRound(seRatio * widthIn);
      layers.se = new SqueezeExcitation(wB, widthSeOut, () => activationLayer(undefined));
    }
    layers.c = new Conv2dNormActivation(wB, widthOut, { kernelSize: 1, stride: 1, normLayer, activationLayer: null });
    super(layers);
  }
}

/** Residual bottleneck block: x + F(x), F = bottleneck transform. */
export class ResBottleneckBlock extends Module {
  proj: Conv2dNormActivation | null = null;
  f: BottleneckTransform;
  activation: Layer;

  constructor(
    widthIn: number,
    widthOut: number,
    stride: number,
    normLayer: NormFactory,
    activationLayer: ActivationFactory,
    groupWidth = 1,
    bottleneckMultiplier = 1.0,
    seRatio: number | null = null,
  ) {
    super();
    // A projection on the skip connection when the shape changes.
    if (widthIn !== widthOut || stride !== 1) {
      this.proj = new Conv2dNormActivation(widthIn, widthOut, { kernelSize: 1, stride, normLayer, activationLayer: null });
    }
    this.f = new BottleneckTransform(widthIn, widthOut, stride, normLayer, activationLayer, groupWidth, bottleneckMultiplier, seRatio);
    this.activation = activationLayer(true);
  }

  forward(x: Tensor): Tensor {
    x = this.proj !== null ? F.add(this.proj.call(x), this.f.call(x)) : F.add(x, this.f.call(x));
    return this.activation.call(x);
  }
}

export type BlockType = new (
  widthIn: number,
  widthOut: number,
  stride: number,
  normLayer: NormFactory,
  activationLayer: ActivationFactory,
  groupWidth: number,
  bottleneckMultiplier: number,
  seRatio: number | null,
) => Module;

export type StemType = new (widthIn: number, widthOut: number, normLayer: NormFactory, activationLayer: ActivationFactory) => Layer;

/** AnyNet stage: a sequence of blocks with the same output shape, named `block<stage>-<i>`. */
export class AnyStage extends Sequential {
  constructor(
    widthIn: number,
    widthOut: number,
    stride: number,
    depth: number,
    blockConstructor: BlockType,
    normLayer: NormFactory,
    activationLayer: ActivationFactory,
    groupWidth: number,
    bottleneckMultiplier: number,
    seRatio: number | null = null,
    stageIndex = 0,
  ) {
    super();
    for (let i = 0; i < depth; i++) {
      const block = new blockConstructor(
        i === 0 ? widthIn : widthOut,
        widthOut,
        i === 0 ? stride : 1,
        normLayer,
        activationLayer,
        groupWidth,
        bottleneckMultiplier,
        seRatio,
      );
      this.addModule(`block${stageIndex}-${i}`, block);
    }
  }
}

const f32 = Math.fround;

export class BlockParams {
  constructor(
    readonly depths: readonly number[],
    readonly widths: readonly number[],
    readonly groupWidths: readonly number[],
    readonly bottleneckMultipliers: readonly number[],
    readonly strides: readonly number[],
    readonly seRatio: number | null = null,
  ) {}

  /**
   * The per-stage settings from RegNet's parameters: block widths on a quantized linear
   * progression in log space (`log(width) = log(w0) + wM * capacity`), multiples of 8, one
   * stage per distinct width. torchvision computes the widths in float32 tensors; so do we,
   * because a rounding step could otherwise land on the other side.
   */
  static fromInitParams(p: {
    depth: number;
    w0: number;
    wA: number;
    wM: number;
    groupWidth: number;
    bottleneckMultiplier?: number;
    seRatio?: number | null;
  }): BlockParams {
    const { depth, w0, wA, wM, groupWidth, bottleneckMultiplier = 1.0, seRatio = null } = p;
    const QUANT = 8;
    const STRIDE = 2;
    if (wA < 0 || w0 <= 0 || wM <= 1 || w0 % 8 !== 0) throw new Error("Invalid RegNet settings");
    const logWM = f32(Math.log(wM));
    const blockWidths: number[] = [];
    for (let i = 0; i < depth; i++) {
      const widthCont = f32(f32(i * f32(wA)) + f32(w0));
      const capacity = pythonRound(f32(f32(Math.log(f32(widthCont / f32(w0)))) / logWM));
      blockWidths.push(pythonRound(f32(f32(f32(w0) * f32(Math.pow(f32(wM), capacity))) / QUANT)) * QUANT);
    }
    const numStages = new Set(blockWidths).size;
    // A stage starts wherever the width changes.
    const padded = [...blockWidths, 0];
    const splits = padded.map((w, i) => w !== (i === 0 ? 0 : padded[i - 1]));
    const stageWidths = blockWidths.filter((_, i) => splits[i]);
    const starts = splits.flatMap((t, d) => (t ? [d] : []));
    const stageDepths = starts.slice(1).map((d, i) => d - starts[i]!);
    const adjusted = BlockParams.adjustWidthsGroupsCompatibility(stageWidths, Array(numStages).fill(bottleneckMultiplier), Array(numStages).fill(groupWidth));
    return new BlockParams(stageDepths, adjusted.stageWidths, adjusted.groupWidths, Array(numStages).fill(bottleneckMultiplier), Array(numStages).fill(STRIDE), seRatio);
  }

  /** Stage widths and group widths made compatible with the bottleneck ratio. */
  static adjustWidthsGroupsCompatibility(stageWidths: readonly number[], bottleneckRatios: readonly number[], groupWidths: readonly number[]): { stageWidths: number[]; groupWidths: number[] } {
    const n = Math.min(stageWidths.length, bottleneckRatios.length);
    const widths = [...Array(n).keys()].map((i) => Math.trunc(stageWidths[i]! * bottleneckRatios[i]!));
    const groupWidthsMin = widths.slice(0, Math.min(n, groupWidths.length)).map((w, i) => Math.min(groupWidths[i]!, w));
    const wsBot = groupWidthsMin.map((g, i) => makeDivisible(widths[i]!, g));
    return { stageWidths: wsBot.map((w, i) => Math.trunc(w / bottleneckRatios[i]!)), groupWidths: groupWidthsMin };
  }

  /** Per stage: width, stride, depth, group width, bottleneck multiplier (zipped, as Python's zip). */
  expandedParams(): [width: number, stride: number, depth: number, groupWidth: number, bottleneckMultiplier: number][] {
    const n = Math.min(this.widths.length, this.strides.length, this.depths.length, this.groupWidths.length, this.bottleneckMultipliers.length);
    return [...Array(n).keys()].map((i) => [this.widths[i]!, this.strides[i]!, this.depths[i]!, this.groupWidths[i]!, this.bottleneckMultipliers[i]!]);
  }
}

export interface RegNetOptions {
  numClasses?: number;
  stemWidth?: number;
  stemType?: StemType | null;
  blockType?: BlockType | null;
  normLayer?: NormFactory | null;
  activation?: ActivationFactory | null;
}

export class RegNet extends Module {
  stem: Layer;
  trunk_output: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;

  constructor(blockParams: BlockParams, options: RegNetOptions = {}) {
    super();
    const { numClasses = 1000, stemWidth = 32 } = options;
    const stemType = options.stemType ?? SimpleStemIN;
    const normLayer = options.normLayer ?? batchNorm2d;
    const blockType = options.blockType ?? ResBottleneckBlock;
    const activation = options.activation ?? relu;

    this.stem = new stemType(3, stemWidth, normLayer, activation);
    let currentWidth = stemWidth;
    const blocks: Record<string, Module> = {};
    blockParams.expandedParams().forEach(([widthOut, stride, depth, groupWidth, bottleneckMultiplier], i) => {
      blocks[`block${i + 1}`] = new AnyStage(currentWidth, widthOut, stride, depth, blockType, normLayer, activation, groupWidth, bottleneckMultiplier, blockParams.seRatio, i + 1);
      currentWidth = widthOut;
    });
    this.trunk_output = new Sequential(blocks);
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.fc = new Linear(currentWidth, numClasses);
  }

  forward(x: Tensor): Tensor {
    x = this.stem.call(x);
    x = this.trunk_output.call(x);
    x = this.avgpool.call(x);
    x = x.flatten(1);
    return this.fc.call(x);
  }
}

type Builder = (options?: RegNetOptions) => RegNet;

interface InitParams {
  depth: number;
  w0: number;
  wA: number;
  wM: number;
  groupWidth: number;
  seRatio?: number;
}

function builder(init: InitParams): Builder {
  return (o = {}) => new RegNet(BlockParams.fromInitParams(init), o);
}

export const regnet_y_400mf = builder({ depth: 16, w0: 48, wA: 27.89, wM: 2.09, groupWidth: 8, seRatio: 0.25 });
export const regnet_y_800mf = builder({ depth: 14, w0: 56, wA: 38.84, wM: 2.4, groupWidth: 16, seRatio: 0.25 });
export const regnet_y_1_6gf = builder({ depth: 27, w0: 48, wA: 20.71, wM: 2.65, groupWidth: 24, seRatio: 0.25 });
export const regnet_y_3_2gf = builder({ depth: 21, w0: 80, wA: 42.63, wM: 2.66, groupWidth: 24, seRatio: 0.25 });
export const regnet_y_8gf = builder({ depth: 17, w0: 192, wA: 76.82, wM: 2.19, groupWidth: 56, seRatio: 0.25 });
export const regnet_y_16gf = builder({ depth: 18, w0: 200, wA: 106.23, wM: 2.48, groupWidth: 112, seRatio: 0.25 });
export const regnet_y_32gf = builder({ depth: 20, w0: 232, wA: 115.89, wM: 2.53, groupWidth: 232, seRatio: 0.25 });
export const regnet_y_128gf = builder({ depth: 27, w0: 456, wA: 160.83, wM: 2.52, groupWidth: 264, seRatio: 0.25 });
export const regnet_x_400mf = builder({ depth: 22, w0: 24, wA: 24.48, wM: 2.54, groupWidth: 16 });
export const regnet_x_800mf = builder({ depth: 16, w0: 56, wA: 35.73, wM: 2.28, groupWidth: 16 });
export const regnet_x_1_6gf = builder({ depth: 18, w0: 80, wA: 34.01, wM: 2.25, groupWidth: 24 });
export const regnet_x_3_2gf = builder({ depth: 25, w0: 88, wA: 26.31, wM: 2.25, groupWidth: 48 });
export const regnet_x_8gf = builder({ depth: 23, w0: 80, wA: 49.56, wM: 2.88, groupWidth: 120 });
export const regnet_x_16gf = builder({ depth: 22, w0: 216, wA: 55.59, wM: 2.1, groupWidth: 128 });
export const regnet_x_32gf = builder({ depth: 23, w0: 320, wA: 69.86, wM: 2.0, groupWidth: 168 });

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
/** torchvision's DEFAULT weights: IMAGENET1K_V2 (224, resize 232), but regnet_y_128gf's SWAG_E2E_V1 (384, bicubic). */
const entry = zooFamily("RegNet", { minSize: 1, preset: imagenetPreset(224, 232) });

registerModels(
  entry("regnet_y_400mf", regnet_y_400mf),
  entry("regnet_y_800mf", regnet_y_800mf),
  entry("regnet_y_1_6gf", regnet_y_1_6gf),
  entry("regnet_y_3_2gf", regnet_y_3_2gf),
  entry("regnet_y_8gf", regnet_y_8gf),
  entry("regnet_y_16gf", regnet_y_16gf),
  entry("regnet_y_32gf", regnet_y_32gf),
  entry("regnet_y_128gf", regnet_y_128gf, { preset: imagenetPreset(384, 384, "bicubic") }),
  entry("regnet_x_400mf", regnet_x_400mf),
  entry("regnet_x_800mf", regnet_x_800mf),
  entry("regnet_x_1_6gf", regnet_x_1_6gf),
  entry("regnet_x_3_2gf", regnet_x_3_2gf),
  entry("regnet_x_8gf", regnet_x_8gf),
  entry("regnet_x_16gf", regnet_x_16gf),
  entry("regnet_x_32gf", regnet_x_32gf),
);
