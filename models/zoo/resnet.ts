import { AdaptiveAvgPool2d, batchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential, F, type Layer, type NormFactory, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.resnet, module for module: same attribute names, same forward order. */


const conv3x3 = (inPlanes: number, outPlanes: number, stride = 1, groups = 1, dilation = 1): Conv2d =>
  new Conv2d(inPlanes, outPlanes, 3, { stride, padding: dilation, groups, bias: false, dilation });

const conv1x1 = (inPlanes: number, outPlanes: number, stride = 1): Conv2d => new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });

interface BlockArgs {
  inplanes: number;
  planes: number;
  stride?: number;
  downsample?: Layer | null;
  groups?: number;
  baseWidth?: number;
  dilation?: number;
  normLayer?: NormFactory;
}

export class BasicBlock extends Module {
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: Layer;
  relu: ReLU;
  conv2: Conv2d;
  bn2: Layer;
  downsample: Layer | null;
  readonly stride: number;

  constructor({ inplanes, planes, stride = 1, downsample = null, groups = 1, baseWidth = 64, dilation = 1, normLayer = batchNorm2d }: BlockArgs) {
    super();
    if (groups !== 1 || baseWidth !== 64) throw new Error("BasicBlock only supports groups=1 and base_width=64");
    if (dilation > 1) throw new Error("Dilation > 1 not supported in BasicBlock");
    this.conv1 = conv3x3(inplanes, planes, stride);
    this.bn1 = normLayer(planes);
    this.relu = new ReLU(true);
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = normLayer(planes);
    this.downsample = downsample;
    this.stride = stride;
  }

  forward(x: Tensor): Tensor {
    let identity = x;
    let out = this.conv1.call(x);
    out = this.bn1.call(out);
    out = this.relu.call(out);
    out = this.conv2.call(out);
    out = this.bn2.call(out);
    if (this.downsample !== null) identity = this.downsample.call(x);
    out = F.add(out, identity);
    return this.relu.call(out);
  }
}

export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: Layer;
  conv2: Conv2d;
  bn2: Layer;
  conv3: Conv2d;
  bn3: Layer;
  relu: ReLU;
  downsample: Layer | null;
  readonly stride: number;

  constructor({ inplanes, planes, stride = 1, downsample = null, groups = 1, baseWidth = 64, dilation = 1, normLayer = batchNorm2d }: BlockArgs) {
    super();
    const width = Math.floor(planes * (baseWidth / 64)) * groups;
    this.conv1 = conv1x1(inplanes, width);
    this.bn1 = normLayer(width);
    this.conv2 = conv3x3(width, width, stride, groups, dilation);
    this.bn2 = normLayer(width);
    this.conv3 = conv1x1(width, planes * Bottleneck.expansion);
    this.bn3 = normLayer(planes * Bottleneck.expansion);
    this.relu = new ReLU(true);
    this.downsample = downsample;
    this.stride = stride;
  }

  forward(x: Tensor): Tensor {
    let identity = x;
    let out = this.conv1.call(x);
    out = this.bn1.call(out);
    out = this.relu.call(out);
    out = this.conv2.call(out);
    out = this.bn2.call(out);
    out = this.relu.call(out);
    out = this.conv3.call(out);
    out = this.bn3.call(out);
    if (this.downsample !== null) identity = this.downsample.call(x);
    out = F.add(out, identity);
    return this.relu.call(out);
  }
}

export type Block = typeof BasicBlock | typeof Bottleneck;

export interface ResNetOptions {
  numClasses?: number;
  zeroInitResidual?: boolean;
  groups?: number;
  widthPerGroup?: number;
  replaceStrideWithDilation?: readonly [boolean, boolean, boolean];
  normLayer?: NormFactory;
}

export class ResNet extends Module {
  conv1: Conv2d;
  bn1: Layer;
  relu: ReLU;
  maxpool: MaxPool2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;
  /** Channels of the last block made: after construction, layer4's output width (resnet_fpn_backbone reads it). */
  inplanes = 64;
  private dilation = 1;
  private readonly groups: number;
  private readonly baseWidth: number;
  private readonly normLayer: NormFactory;

  constructor(block: Block, layers: readonly [number, number, number, number], options: ResNetOptions = {}) {
    super();
    const { numClasses = 1000, groups = 1, widthPerGroup = 64, replaceStrideWithDilation = [false, false, false] } = options;
    if (replaceStrideWithDilation.length !== 3) {
      throw new Error(`replace_stride_with_dilation should be None or a 3-element tuple, got ${replaceStrideWithDilation.length} elements`);
    }
    this.normLayer = options.normLayer ?? batchNorm2d;
    this.groups = groups;
    this.baseWidth = widthPerGroup;
    this.conv1 = new Conv2d(3, this.inplanes, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = this.normLayer(this.inplanes);
    this.relu = new ReLU(true);
    this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    this.layer1 = this.makeLayer(block, 64, layers[0]);
    this.layer2 = this.makeLayer(block, 128, layers[1], 2, replaceStrideWithDilation[0]);
    this.layer3 = this.makeLayer(block, 256, layers[2], 2, replaceStrideWithDilation[1]);
    this.layer4 = this.makeLayer(block, 512, layers[3], 2, replaceStrideWithDilation[2]);
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.fc = new Linear(512 * block.expansion, numClasses);
  }

  private makeLayer(block: Block, planes: number, blocks: number, stride = 1, dilate = false): Sequential {
    let downsample: Layer | null = null;
    const previousDilation = this.dilation;
    if (dilate) {
      this.dilation *= stride;
      stride = 1;
    }
    if (stride !== 1 || this.inplanes !== planes * block.expansion) {
      downsample = new Sequential(conv1x1(this.inplanes, planes * block.expansion, stride), this.normLayer(planes * block.expansion));
    }
    const common = { groups: this.groups, baseWidth: this.baseWidth, normLayer: this.normLayer };
    const layers: Module[] = [new block({ inplanes: this.inplanes, planes, stride, downsample, dilation: previousDilation, ...common })];
    this.inplanes = planes * block.expansion;
    for (let i = 1; i < blocks; i++) layers.push(new block({ inplanes: this.inplanes, planes, dilation: this.dilation, ...common }));
    return new Sequential(...layers);
  }

  forward(x: Tensor): Tensor {
    x = this.conv1.call(x);
    x = this.bn1.call(x);
    x = this.relu.call(x);
    x = this.maxpool.call(x);
    x = this.layer1.call(x);
    x = this.layer2.call(x);
    x = this.layer3.call(x);
    x = this.layer4.call(x);
    x = this.avgpool.call(x);
    x = F.flatten(x, 1);
    return this.fc.call(x);
  }
}

type Builder = (options?: ResNetOptions) => ResNet;

export const resnet18: Builder = (o = {}) => new ResNet(BasicBlock, [2, 2, 2, 2], o);
export const resnet34: Builder = (o = {}) => new ResNet(BasicBlock, [3, 4, 6, 3], o);
export const resnet50: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], o);
export const resnet101: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 23, 3], o);
export const resnet152: Builder = (o = {}) => new ResNet(Bottleneck, [3, 8, 36, 3], o);
export const resnext50_32x4d: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], { ...o, groups: 32, widthPerGroup: 4 });
export const resnext101_32x8d: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 23, 3], { ...o, groups: 32, widthPerGroup: 8 });
export const resnext101_64x4d: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 23, 3], { ...o, groups: 64, widthPerGroup: 4 });
export const wide_resnet50_2: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], { ...o, widthPerGroup: 64 * 2 });
export const wide_resnet101_2: Builder = (o = {}) => new ResNet(Bottleneck, [3, 4, 23, 3], { ...o, widthPerGroup: 64 * 2 });

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
/** torchvision's DEFAULT weights for the ResNet family (the IMAGENET1K_V2 recipes resize to 232, V1 to 256). */
const entry = zooFamily("ResNet", { minSize: 1, preset: imagenetPreset(224, 232) });
const v1 = { preset: imagenetPreset(224, 256) };

registerModels(
  entry("resnet18", resnet18, v1),
  entry("resnet34", resnet34, v1),
  entry("resnet50", resnet50),
  entry("resnet101", resnet101),
  entry("resnet152", resnet152),
  entry("resnext50_32x4d", resnext50_32x4d),
  entry("resnext101_32x8d", resnext101_32x8d),
  entry("resnext101_64x4d", resnext101_64x4d),
  entry("wide_resnet50_2", wide_resnet50_2),
  entry("wide_resnet101_2", wide_resnet101_2),
);
