import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, Sequential, F, type Layer, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.googlenet, module for module: same attribute names, same forward order. */

type Pair = number | readonly [number, number];

/** The keyword arguments torchvision's BasicConv2d passes on to its Conv2d. */
export interface ConvArgs {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
}

/** torchvision's `conv_block` argument: a BasicConv2d-like class. */
export type ConvBlock = new (inChannels: number, outChannels: number, args: ConvArgs) => Layer;

/** Conv2d without bias, batch norm (eps 1e-3), in-place ReLU; shared with Inception v3. */
export class BasicConv2d extends Module {
  conv: Conv2d;
  bn: BatchNorm2d;

  constructor(inChannels: number, outChannels: number, { kernelSize, ...rest }: ConvArgs) {
    super();
    this.conv = new Conv2d(inChannels, outChannels, kernelSize, { ...rest, bias: false });
    this.bn = new BatchNorm2d(outChannels, 0.001);
  }

  forward(x: Tensor): Tensor {
    x = this.conv.call(x);
    x = this.bn.call(x);
    return F.relu(x, true);
  }
}

export class Inception extends Module {
  branch1: Layer;
  branch2: Sequential;
  branch3: Sequential;
  branch4: Sequential;

  constructor(inChannels: number, ch1x1: number, ch3x3red: number, ch3x3: number, ch5x5red: number, ch5x5: number, poolProj: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    this.branch1 = new convBlock(inChannels, ch1x1, { kernelSize: 1 });
    this.branch2 = new Sequential(new convBlock(inChannels, ch3x3red, { kernelSize: 1 }), new convBlock(ch3x3red, ch3x3, { kernelSize: 3, padding: 1 }));
    // torchvision's "5x5" branch uses a 3x3 kernel (a known difference from the paper, kept for its weights).
    this.branch3 = new Sequential(new convBlock(inChannels, ch5x5red, { kernelSize: 1 }), new convBlock(ch5x5red, ch5x5, { kernelSize: 3, padding: 1 }));
    this.branch4 = new Sequential(new MaxPool2d(3, { stride: 1, padding: 1, ceilMode: true }), new convBlock(inChannels, poolProj, { kernelSize: 1 }));
  }

  private branches(x: Tensor): Tensor[] {
    const branch1 = this.branch1.call(x);
    const branch2 = this.branch2.call(x);
    const branch3 = this.branch3.call(x);
    const branch4 = this.branch4.call(x);
    return [branch1, branch2, branch3, branch4];
  }

  forward(x: Tensor): Tensor {
    return F.cat(this.branches(x), 1);
  }
}

export class InceptionAux extends Module {
  conv: Layer;
  fc1: Linear;
  fc2: Linear;
  dropout: Dropout;

  constructor(inChannels: number, numClasses: number, convBlock: ConvBlock = BasicConv2d, dropout = 0.7) {
    super();
    this.conv = new convBlock(inChannels, 128, { kernelSize: 1 });
    this.fc1 = new Linear(2048, 1024);
    this.fc2 = new Linear(1024, numClasses);
    this.dropout = new Dropout(dropout);
  }

  forward(x: Tensor): Tensor {
    x = F.adaptive_avg_pool2d(x, [4, 4]);
    x = this.conv.call(x);
    x = F.flatten(x, 1);
    x = F.relu(this.fc1.call(x), true);
    x = this.dropout.call(x);
    return this.fc2.call(x);
  }
}

/** torchvision's `blocks` argument: the conv, inception and auxiliary-head classes. */
export type GoogLeNetBlocks = readonly [ConvBlock, typeof Inception, typeof InceptionAux];

export interface GoogLeNetOptions {
  numClasses?: number;
  auxLogits?: boolean;
  transformInput?: boolean;
  /** Accepted for torchvision's signature; fxc models hold shapes, not initial values. */
  initWeights?: boolean | null;
  blocks?: GoogLeNetBlocks;
  dropout?: number;
  dropoutAux?: number;
}

/** torchvision's GoogLeNetOutputs, the train-mode result when the auxiliary heads exist. */
export interface GoogLeNetOutputs {
  logits: Tensor;
  aux_logits2: Tensor | null;
  aux_logits1: Tensor | null;
}

/**
 * torchvision's `_transform_input`: ImageNet-normalized input re-normalized to [-1, 1] per
 * channel, as the ported weights expect. Shared with Inception v3.
 */
export function transformInput(x: Tensor): Tensor {
  const channel = (c: number, std: number, mean: number): Tensor => F.add(F.mul(F.unsqueeze(F.getitem(x, [F.slice(), c]), 1), std / 0.5), (mean - 0.5) / 0.5);
  return F.cat([channel(0, 0.229, 0.485), channel(1, 0.224, 0.456), channel(2, 0.225, 0.406)], 1);
}

export class GoogLeNet extends Module {
  conv1: Layer;
  maxpool1: MaxPool2d;
  conv2: Layer;
  conv3: Layer;
  maxpool2: MaxPool2d;
  inception3a: Inception;
  inception3b: Inception;
  maxpool3: MaxPool2d;
  inception4a: Inception;
  inception4b: Inception;
  inception4c: Inception;
  inception4d: Inception;
  inception4e: Inception;
  maxpool4: MaxPool2d;
  inception5a: Inception;
  inception5b: Inception;
  aux1: InceptionAux | null;
  aux2: InceptionAux | null;
  avgpool: AdaptiveAvgPool2d;
  dropout: Dropout;
  fc: Linear;
  auxLogits: boolean;
  readonly transformInput: boolean;

  constructor({ numClasses = 1000, auxLogits = true, transformInput = false, blocks = [BasicConv2d, Inception, InceptionAux], dropout = 0.2, dropoutAux = 0.7 }: GoogLeNetOptions = {}) {
    super();
    if (blocks.length !== 3) throw new Error(`blocks length should be 3 instead of ${blocks.length}`);
    const [convBlock, inceptionBlock, inceptionAuxBlock] = blocks;
    this.auxLogits = auxLogits;
    this.transformInput = transformInput;
    this.conv1 = new convBlock(3, 64, { kernelSize: 7, stride: 2, padding: 3 });
    this.maxpool1 = new MaxPool2d(3, { stride: 2, ceilMode: true });
    this.conv2 = new convBlock(64, 64, { kernelSize: 1 });
    this.conv3 = new convBlock(64, 192, { kernelSize: 3, padding: 1 });
    this.maxpool2 = new MaxPool2d(3, { stride: 2, ceilMode: true });
    this.inception3a = new inceptionBlock(192, 64, 96, 128, 16, 32, 32);
    this.inception3b = new inceptionBlock(256, 128, 128, 192, 32, 96, 64);
    this.maxpool3 = new MaxPool2d(3, { stride: 2, ceilMode: true });
    this.inception4a = new inceptionBlock(480, 192, 96, 208, 16, 48, 64);
    this.inception4b = new inceptionBlock(512, 160, 112, 224, 24, 64, 64);
    this.inception4c = new inceptionBlock(512, 128, 128, 256, 24, 64, 64);
    this.inception4d = new inceptionBlock(512, 112, 144, 288, 32, 64, 64);
    this.inception4e = new inceptionBlock(528, 256, 160, 320, 32, 128, 128);
    this.maxpool4 = new MaxPool2d(2, { stride: 2, ceilMode: true });
    this.inception5a = new inceptionBlock(832, 256, 160, 320, 32, 128, 128);
    this.inception5b = new inceptionBlock(832, 384, 192, 384, 48, 128, 128);
    this.aux1 = auxLogits ? new inceptionAuxBlock(512, numClasses, undefined, dropoutAux) : null;
    this.aux2 = auxLogits ? new inceptionAuxBlock(528, numClasses, undefined, dropoutAux) : null;
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.dropout = new Dropout(dropout);
    this.fc = new Linear(1024, numClasses);
  }

  /** Returns logits, aux2, aux1, in torchvision's order. */
  private features(x: Tensor): [Tensor, Tensor | null, Tensor | null] {
    x = this.conv1.call(x);
    x = this.maxpool1.call(x);
    x = this.conv2.call(x);
    x = this.conv3.call(x);
    x = this.maxpool2.call(x);
    x = this.inception3a.call(x);
    x = this.inception3b.call(x);
    x = this.maxpool3.call(x);
    x = this.inception4a.call(x);
    // The auxiliary heads run in train mode only: they are in the train graph, not the eval one.
    const aux1 = this.aux1 !== null && this.training ? this.aux1.call(x) : null;
    x = this.inception4b.call(x);
    x = this.inception4c.call(x);
    x = this.inception4d.call(x);
    const aux2 = this.aux2 !== null && this.training ? this.aux2.call(x) : null;
    x = this.inception4e.call(x);
    x = this.maxpool4.call(x);
    x = this.inception5a.call(x);
    x = this.inception5b.call(x);
    x = this.avgpool.call(x);
    x = F.flatten(x, 1);
    x = this.dropout.call(x);
    x = this.fc.call(x);
    return [x, aux2, aux1];
  }

  forward(x: Tensor): Tensor | GoogLeNetOutputs {
    if (this.transformInput) x = transformInput(x);
    // torchvision unpacks `x, aux1, aux2` from `(x, aux2, aux1)` and passes them on as `(x, aux2, aux1)`,
    // so its aux_logits2 field holds aux1's result; kept as it is.
    const [logits, aux1, aux2] = this.features(x);
    if (this.training && this.auxLogits) return { logits, aux_logits2: aux2, aux_logits1: aux1 };
    return logits;
  }
}

/** torchvision's weights names for a builder; any other is an error there too. */
export type WeightsName = "DEFAULT" | "IMAGENET1K_V1";

export function checkWeights(weights: string, known: readonly string[], enumName: string): void {
  const name = weights.startsWith(`${enumName}.`) ? weights.slice(enumName.length + 1) : weights;
  if (!known.includes(name)) throw new Error(`${enumName} has no weights '${weights}'; use one of ${known.join(", ")}`);
}

/** torchvision's `_ovewrite_named_param`: a builder fixes an argument for its weights, refusing another value. */
export function overwriteNamedParam<T extends object, K extends keyof T>(kwargs: T, param: K, value: T[K]): void {
  if (param in kwargs && kwargs[param] !== undefined) {
    if (kwargs[param] !== value) throw new Error(`The parameter '${String(param)}' expected value ${String(value)} but got ${String(kwargs[param])} instead.`);
  } else {
    kwargs[param] = value;
  }
}

export interface GoogLeNetBuilderOptions extends GoogLeNetOptions {
  /**
   * The weights the model is built for. As torchvision's builder, weights turn transform_input
   * on (unless given) and drop the auxiliary heads unless auxLogits is asked for.
   */
  weights?: WeightsName | null;
}

export function googlenet(options: GoogLeNetBuilderOptions = {}): GoogLeNet {
  const { weights = null, ...kwargs } = options;
  const originalAuxLogits = kwargs.auxLogits ?? false;
  if (weights !== null) {
    checkWeights(weights, ["DEFAULT", "IMAGENET1K_V1"], "GoogLeNet_Weights");
    if (kwargs.transformInput === undefined) kwargs.transformInput = true;
    overwriteNamedParam(kwargs, "auxLogits", true);
    overwriteNamedParam(kwargs, "initWeights", false);
    overwriteNamedParam(kwargs, "numClasses", 1000);
  }
  const model = new GoogLeNet(kwargs);
  if (weights !== null && !originalAuxLogits) {
    model.auxLogits = false;
    model.aux1 = null;
    model.aux2 = null;
  }
  return model;
}

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("GoogLeNet", { minSize: 15, preset: imagenetPreset(224, 256) });

registerModels(entry("googlenet", googlenet));
