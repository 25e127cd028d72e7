import { Module } from "../nn/module.js";
import { Sequential } from "../nn/container.js";
import { Conv2d } from "../nn/layers.js";
import { frozenBatchNorm2d, type NormFactory } from "../nn/ops.js";
import { IntermediateLayerGetter } from "../zoo/utils.js";
import { UnknownNameError } from "../zoo/registry.js";
import { didYouMean } from "../suggest.js";
import * as resnet from "../zoo/resnet.js";
import { mobilenet_v2 } from "../zoo/mobilenetv2.js";
import { mobilenet_v3_large, mobilenet_v3_small } from "../zoo/mobilenetv3.js";
import { FeaturePyramidNetwork, LastLevelMaxPool, type ExtraFPNBlock } from "../ops/feature_pyramid_network.js";
import type { Tensor } from "../nn/tensor.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/**
 * torchvision.models.detection.backbone_utils, module for module, so that a detection
 * checkpoint's `backbone.` keys (fasterrcnn_resnet50_fpn's `backbone.body.layer1.0.conv1.weight`,
 * `backbone.fpn.inner_blocks.0.0.weight`) load with `prefix: "backbone."`. There are no
 * pretrained `weights` to download: load a checkpoint into the compiled extractor instead.
 * Frozen layers are marked as torch marks them (`Parameter.requiresGrad = false`).
 */

/** torchvision's BackboneWithFPN: `body` (an IntermediateLayerGetter) then `fpn`; returns the FPN's dict of levels. */
export class BackboneWithFPN extends Module {
  body: IntermediateLayerGetter;
  fpn: FeaturePyramidNetwork;
  readonly outChannels: number;

  constructor(
    backbone: Module,
    returnLayers: Readonly<Record<string, string>>,
    inChannelsList: readonly number[],
    outChannels: number,
    extraBlocks: ExtraFPNBlock | null = null,
    normLayer: NormFactory | null = null,
  ) {
    super();
    this.body = new IntermediateLayerGetter(backbone, returnLayers);
    this.fpn = new FeaturePyramidNetwork(inChannelsList, outChannels, extraBlocks ?? new LastLevelMaxPool(), normLayer);
    this.outChannels = outChannels;
  }

  forward(x: Tensor): Record<string, Tensor> {
    const features = this.body.call(x);
    return this.fpn.call(features);
  }
}

const RESNETS = {
  resnet18: resnet.resnet18,
  resnet34: resnet.resnet34,
  resnet50: resnet.resnet50,
  resnet101: resnet.resnet101,
  resnet152: resnet.resnet152,
  resnext50_32x4d: resnet.resnext50_32x4d,
  resnext101_32x8d: resnet.resnext101_32x8d,
  resnext101_64x4d: resnet.resnext101_64x4d,
  wide_resnet50_2: resnet.wide_resnet50_2,
  wide_resnet101_2: resnet.wide_resnet101_2,
} as const;

const MOBILENETS = { mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small } as const;

function builderFor<T>(family: string, builders: Readonly<Record<string, T>>, name: string): T {
  const build = Object.hasOwn(builders, name) ? builders[name] : undefined;
  if (build === undefined) throw new UnknownNameError(`unknown ${family} backbone '${name}'${didYouMean(name, Object.keys(builders))}; use one of ${Object.keys(builders).join(", ")}`);
  return build;
}

/** Marks as frozen (`requiresGrad = false`) every parameter of `module` whose name passes `frozen`. */
function freeze(module: Module, frozen: (name: string) => boolean): void {
  for (const [name, p] of module.namedParameters()) if (frozen(name)) p.requiresGrad = false;
}

/** outChannels is fxc's addition, so the message is fxc's: torchvision has no such option to refuse. */
function checkOutChannels(outChannels: number): void {
  if (!Number.isInteger(outChannels) || outChannels <= 0) {
    throw new Error(`outChannels should be a positive integer (the FPN's width; torchvision's is 256), got ${outChannels}`);
  }
}

export interface ResnetFpnBackboneOptions {
  /** resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2. */
  readonly backboneName: string;
  /** Default: FrozenBatchNorm2d, as torchvision's. */
  readonly normLayer?: NormFactory;
  /** Layers left trainable, counted from layer4 back to conv1: 0 to 5 (default 3). */
  readonly trainableLayers?: number;
  /** ResNet stages returned to the FPN, each 1 to 4 (default all four). */
  readonly returnedLayers?: readonly number[] | null;
  /** Default: LastLevelMaxPool. */
  readonly extraBlocks?: ExtraFPNBlock | null;
  /** Options for the ResNet itself (fxc's addition; torchvision fixes them). */
  readonly backboneOptions?: Omit<resnet.ResNetOptions, "normLayer">;
  /** The FPN's width (fxc's addition; torchvision fixes 256, the default): narrow ones keep test fixtures small. */
  readonly outChannels?: number;
}

/** torchvision's `resnet_fpn_backbone(backbone_name=..., weights=None, ...)`. */
export function resnetFpnBackbone(options: ResnetFpnBackboneOptions): BackboneWithFPN {
  const build = builderFor("resnet", RESNETS, options.backboneName);
  const backbone = build({ ...options.backboneOptions, normLayer: options.normLayer ?? frozenBatchNorm2d });
  return resnetFpnExtractor(backbone, options.trainableLayers ?? 3, options.returnedLayers ?? null, options.extraBlocks ?? null, null, options.outChannels);
}

/** torchvision's `_resnet_fpn_extractor`: freezes the first layers, returns layer{k} as str(index), FPN of width `outChannels` (torchvision's 256). */
export function resnetFpnExtractor(
  backbone: resnet.ResNet,
  trainableLayers: number,
  returnedLayers: readonly number[] | null = null,
  extraBlocks: ExtraFPNBlock | null = null,
  normLayer: NormFactory | null = null,
  outChannels = 256,
): BackboneWithFPN {
  if (!Number.isInteger(trainableLayers) || trainableLayers < 0 || trainableLayers > 5) {
    throw new Error(`Trainable layers should be in the range [0,5], got ${trainableLayers}`);
  }
  checkOutChannels(outChannels);
  const layersToTrain = ["layer4", "layer3", "layer2", "layer1", "conv1"].slice(0, trainableLayers);
  if (trainableLayers === 5) layersToTrain.push("bn1");
  freeze(backbone, (name) => layersToTrain.every((layer) => !name.startsWith(layer)));

  const returned = returnedLayers ?? [1, 2, 3, 4];
  if (returned.length === 0 || Math.min(...returned) <= 0 || Math.max(...returned) >= 5) {
    throw new Error(`Each returned layer should be in the range [1,4]. Got [${returned.join(", ")}]`);
  }
  const returnLayers = Object.fromEntries(returned.map((k, v) => [`layer${k}`, String(v)]));
  const inChannelsStage2 = Math.floor(backbone.inplanes / 8);
  const inChannelsList = returned.map((i) => inChannelsStage2 * 2 ** (i - 1));
  return new BackboneWithFPN(backbone, returnLayers, inChannelsList, outChannels, extraBlocks, normLayer);
}

export interface MobilenetBackboneOptions {
  /** mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small. */
  readonly backboneName: string;
  /** With an FPN (BackboneWithFPN), or `features` then a 1x1 convolution to 256 channels. */
  readonly fpn: boolean;
  readonly normLayer?: NormFactory;
  /** Stages left trainable, counted from the last (default 2). */
  readonly trainableLayers?: number;
  /** Stages returned to the FPN (default the last two). */
  readonly returnedLayers?: readonly number[] | null;
  readonly extraBlocks?: ExtraFPNBlock | null;
  /** The FPN's width, or the 1x1 convolution's without one (fxc's addition; torchvision fixes 256, the default). */
  readonly outChannels?: number;
}

/** The non-FPN mobilenet backbone: `features` ("0") and a 1x1 convolution ("1") to `outChannels`. */
export class MobilenetFeatures extends Sequential {
  constructor(
    features: Sequential,
    readonly outChannels: number,
  ) {
    super(features, new Conv2d(lastOutChannels(features), outChannels, 1));
  }
}

function lastOutChannels(features: Sequential): number {
  const last = features.at(-1) as Module & { outChannels?: number };
  if (last.outChannels === undefined) throw new InternalError(`the last block of the features (${last.typeName}) has no out_channels`);
  return last.outChannels;
}

/** torchvision's `mobilenet_backbone(backbone_name=..., weights=None, fpn=..., ...)`. */
export function mobilenetBackbone(options: MobilenetBackboneOptions): BackboneWithFPN | MobilenetFeatures {
  const build = builderFor("mobilenet", MOBILENETS, options.backboneName);
  const backbone = build({ normLayer: options.normLayer ?? frozenBatchNorm2d });
  return mobilenetExtractor(backbone.features, options.fpn, options.trainableLayers ?? 2, options.returnedLayers ?? null, options.extraBlocks ?? null, null, options.outChannels);
}

/** torchvision's `_mobilenet_extractor`, given the backbone's `features`: stages start at the strided blocks. */
export function mobilenetExtractor(
  features: Sequential,
  fpn: boolean,
  trainableLayers: number,
  returnedLayers: readonly number[] | null = null,
  extraBlocks: ExtraFPNBlock | null = null,
  normLayer: NormFactory | null = null,
  outChannels = 256,
): BackboneWithFPN | MobilenetFeatures {
  checkOutChannels(outChannels);
  const blocks = features.layers;
  const stageIndices = [0, ...blocks.flatMap((b, i) => ((b as Module & { isCn?: boolean }).isCn === true ? [i] : [])), blocks.length - 1];
  const numStages = stageIndices.length;
  if (!Number.isInteger(trainableLayers) || trainableLayers < 0 || trainableLayers > numStages) {
    throw new Error(`Trainable layers should be in the range [0,${numStages}], got ${trainableLayers}`);
  }
  const freezeBefore = trainableLayers === 0 ? blocks.length : stageIndices[numStages - trainableLayers]!;
  blocks.slice(0, freezeBefore).forEach((b) => freeze(b, () => true));

  if (!fpn) return new MobilenetFeatures(features, outChannels);
  const returned = returnedLayers ?? [numStages - 2, numStages - 1];
  if (returned.length === 0 || Math.min(...returned) < 0 || Math.max(...returned) >= numStages) {
    throw new Error(`Each returned layer should be in the range [0,${numStages - 1}], got [${returned.join(", ")}]`);
  }
  const returnLayers = Object.fromEntries(returned.map((k, v) => [String(stageIndices[k]), String(v)]));
  const inChannelsList = returned.map((i) => {
    const block = blocks[stageIndices[i]!] as Module & { outChannels?: number };
    if (block.outChannels === undefined) throw new InternalError(`block ${stageIndices[i]} (${block.typeName}) has no out_channels`);
    return block.outChannels;
  });
  return new BackboneWithFPN(features, returnLayers, inChannelsList, outChannels, extraBlocks, normLayer);
}
