import { AdaptiveAvgPool2d, Dropout, Linear, MaxPool2d, Module, F, type Layer, type Tensor } from "../nn/index.js";
import { BasicConv2d, checkWeights, overwriteNamedParam, transformInput, type ConvBlock, type WeightsName } from "./googlenet.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.inception (Inception v3), module for module: same attribute names, same forward order. */

export class InceptionA extends Module {
  branch1x1: Layer;
  branch5x5_1: Layer;
  branch5x5_2: Layer;
  branch3x3dbl_1: Layer;
  branch3x3dbl_2: Layer;
  branch3x3dbl_3: Layer;
  branch_pool: Layer;

  constructor(inChannels: number, poolFeatures: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    this.branch1x1 = new convBlock(inChannels, 64, { kernelSize: 1 });
    this.branch5x5_1 = new convBlock(inChannels, 48, { kernelSize: 1 });
    this.branch5x5_2 = new convBlock(48, 64, { kernelSize: 5, padding: 2 });
    this.branch3x3dbl_1 = new convBlock(inChannels, 64, { kernelSize: 1 });
    this.branch3x3dbl_2 = new convBlock(64, 96, { kernelSize: 3, padding: 1 });
    this.branch3x3dbl_3 = new convBlock(96, 96, { kernelSize: 3, padding: 1 });
    this.branch_pool = new convBlock(inChannels, poolFeatures, { kernelSize: 1 });
  }

  forward(x: Tensor): Tensor {
    const branch1x1 = this.branch1x1.call(x);
    const branch5x5 = this.branch5x5_2.call(this.branch5x5_1.call(x));
    const branch3x3dbl = this.branch3x3dbl_3.call(this.branch3x3dbl_2.call(this.branch3x3dbl_1.call(x)));
    const branchPool = this.branch_pool.call(F.avg_pool2d(x, 3, 1, 1));
    return F.cat([branch1x1, branch5x5, branch3x3dbl, branchPool], 1);
  }
}

export class InceptionB extends Module {
  branch3x3: Layer;
  branch3x3dbl_1: Layer;
  branch3x3dbl_2: Layer;
  branch3x3dbl_3: Layer;

  constructor(inChannels: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    this.branch3x3 = new convBlock(inChannels, 384, { kernelSize: 3, stride: 2 });
    this.branch3x3dbl_1 = new convBlock(inChannels, 64, { kernelSize: 1 });
    this.branch3x3dbl_2 = new convBlock(64, 96, { kernelSize: 3, padding: 1 });
    this.branch3x3dbl_3 = new convBlock(96, 96, { kernelSize: 3, stride: 2 });
  }

  forward(x: Tensor): Tensor {
    const branch3x3 = this.branch3x3.call(x);
    const branch3x3dbl = this.branch3x3dbl_3.call(this.branch3x3dbl_2.call(this.branch3x3dbl_1.call(x)));
    const branchPool = F.max_pool2d(x, 3, 2);
    return F.cat([branch3x3, branch3x3dbl, branchPool], 1);
  }
}

export class InceptionC extends Module {
  branch1x1: Layer;
  branch7x7_1: Layer;
  branch7x7_2: Layer;
  branch7x7_3: Layer;
  branch7x7dbl_1: Layer;
  branch7x7dbl_2: Layer;
  branch7x7dbl_3: Layer;
  branch7x7dbl_4: Layer;
  branch7x7dbl_5: Layer;
  branch_pool: Layer;

  constructor(inChannels: number, channels7x7: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    const c7 = channels7x7;
    this.branch1x1 = new convBlock(inChannels, 192, { kernelSize: 1 });
    this.branch7x7_1 = new convBlock(inChannels, c7, { kernelSize: 1 });
    this.branch7x7_2 = new convBlock(c7, c7, { kernelSize: [1, 7], padding: [0, 3] });
    this.branch7x7_3 = new convBlock(c7, 192, { kernelSize: [7, 1], padding: [3, 0] });
    this.branch7x7dbl_1 = new convBlock(inChannels, c7, { kernelSize: 1 });
    this.branch7x7dbl_2 = new convBlock(c7, c7, { kernelSize: [7, 1], padding: [3, 0] });
    this.branch7x7dbl_3 = new convBlock(c7, c7, { kernelSize: [1, 7], padding: [0, 3] });
    this.branch7x7dbl_4 = new convBlock(c7, c7, { kernelSize: [7, 1], padding: [3, 0] });
    this.branch7x7dbl_5 = new convBlock(c7, 192, { kernelSize: [1, 7], padding: [0, 3] });
    this.branch_pool = new convBlock(inChannels, 192, { kernelSize: 1 });
  }

  forward(x: Tensor): Tensor {
    const branch1x1 = this.branch1x1.call(x);
    let branch7x7 = this.branch7x7_1.call(x);
    branch7x7 = this.branch7x7_2.call(branch7x7);
    branch7x7 = this.branch7x7_3.call(branch7x7);
    let branch7x7dbl = this.branch7x7dbl_1.call(x);
    branch7x7dbl = this.branch7x7dbl_2.call(branch7x7dbl);
    branch7x7dbl = this.branch7x7dbl_3.call(branch7x7dbl);
    branch7x7dbl = this.branch7x7dbl_4.call(branch7x7dbl);
    branch7x7dbl = this.branch7x7dbl_5.call(branch7x7dbl);
    const branchPool = this.branch_pool.call(F.avg_pool2d(x, 3, 1, 1));
    return F.cat([branch1x1, branch7x7, branch7x7dbl, branchPool], 1);
  }
}

export class InceptionD extends Module {
  branch3x3_1: Layer;
  branch3x3_2: Layer;
  branch7x7x3_1: Layer;
  branch7x7x3_2: Layer;
  branch7x7x3_3: Layer;
  branch7x7x3_4: Layer;

  constructor(inChannels: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    this.branch3x3_1 = new convBlock(inChannels, 192, { kernelSize: 1 });
    this.branch3x3_2 = new convBlock(192, 320, { kernelSize: 3, stride: 2 });
    this.branch7x7x3_1 = new convBlock(inChannels, 192, { kernelSize: 1 });
    this.branch7x7x3_2 = new convBlock(192, 192, { kernelSize: [1, 7], padding: [0, 3] });
    this.branch7x7x3_3 = new convBlock(192, 192, { kernelSize: [7, 1], padding: [3, 0] });
    this.branch7x7x3_4 = new convBlock(192, 192, { kernelSize: 3, stride: 2 });
  }

  forward(x: Tensor): Tensor {
    const branch3x3 = this.branch3x3_2.call(this.branch3x3_1.call(x));
    let branch7x7x3 = this.branch7x7x3_1.call(x);
    branch7x7x3 = this.branch7x7x3_2.call(branch7x7x3);
    branch7x7x3 = this.branch7x7x3_3.call(branch7x7x3);
    branch7x7x3 = this.branch7x7x3_4.call(branch7x7x3);
    const branchPool = F.max_pool2d(x, 3, 2);
    return F.cat([branch3x3, branch7x7x3, branchPool], 1);
  }
}

export class InceptionE extends Module {
  branch1x1: Layer;
  branch3x3_1: Layer;
  branch3x3_2a: Layer;
  branch3x3_2b: Layer;
  branch3x3dbl_1: Layer;
  branch3x3dbl_2: Layer;
  branch3x3dbl_3a: Layer;
  branch3x3dbl_3b: Layer;
  branch_pool: Layer;

  constructor(inChannels: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    this.branch1x1 = new convBlock(inChannels, 320, { kernelSize: 1 });
    this.branch3x3_1 = new convBlock(inChannels, 384, { kernelSize: 1 });
    this.branch3x3_2a = new convBlock(384, 384, { kernelSize: [1, 3], padding: [0, 1] });
    this.branch3x3_2b = new convBlock(384, 384, { kernelSize: [3, 1], padding: [1, 0] });
    this.branch3x3dbl_1 = new convBlock(inChannels, 448, { kernelSize: 1 });
    this.branch3x3dbl_2 = new convBlock(448, 384, { kernelSize: 3, padding: 1 });
    this.branch3x3dbl_3a = new convBlock(384, 384, { kernelSize: [1, 3], padding: [0, 1] });
    this.branch3x3dbl_3b = new convBlock(384, 384, { kernelSize: [3, 1], padding: [1, 0] });
    this.branch_pool = new convBlock(inChannels, 192, { kernelSize: 1 });
  }

  forward(x: Tensor): Tensor {
    const branch1x1 = this.branch1x1.call(x);
    let branch3x3 = this.branch3x3_1.call(x);
    branch3x3 = F.cat([this.branch3x3_2a.call(branch3x3), this.branch3x3_2b.call(branch3x3)], 1);
    let branch3x3dbl = this.branch3x3dbl_1.call(x);
    branch3x3dbl = this.branch3x3dbl_2.call(branch3x3dbl);
    branch3x3dbl = F.cat([this.branch3x3dbl_3a.call(branch3x3dbl), this.branch3x3dbl_3b.call(branch3x3dbl)], 1);
    const branchPool = this.branch_pool.call(F.avg_pool2d(x, 3, 1, 1));
    return F.cat([branch1x1, branch3x3, branch3x3dbl, branchPool], 1);
  }
}

export class InceptionAux extends Module {
  conv0: Layer;
  conv1: Layer;
  fc: Linear;

  constructor(inChannels: number, numClasses: number, convBlock: ConvBlock = BasicConv2d) {
    super();
    this.conv0 = new convBlock(inChannels, 128, { kernelSize: 1 });
    this.conv1 = new convBlock(128, 768, { kernelSize: 5 });
    this.fc = new Linear(768, numClasses);
  }

  forward(x: Tensor): Tensor {
    x = F.avg_pool2d(x, 5, 3);
    x = this.conv0.call(x);
    x = this.conv1.call(x);
    x = F.adaptive_avg_pool2d(x, [1, 1]);
    x = F.flatten(x, 1);
    return this.fc.call(x);
  }
}

/** torchvision's `inception_blocks` argument: the conv class, InceptionA to E, and the auxiliary head. */
export type InceptionBlocks = readonly [ConvBlock, typeof InceptionA, typeof InceptionB, typeof InceptionC, typeof InceptionD, typeof InceptionE, typeof InceptionAux];

export interface Inception3Options {
  numClasses?: number;
  auxLogits?: boolean;
  transformInput?: boolean;
  inceptionBlocks?: InceptionBlocks;
  /** Accepted for torchvision's signature; fxc models hold shapes, not initial values. */
  initWeights?: boolean | null;
  dropout?: number;
}

/** torchvision's InceptionOutputs, the train-mode result when the auxiliary head exists. */
export interface InceptionOutputs {
  logits: Tensor;
  aux_logits: Tensor | null;
}

export class Inception3 extends Module {
  Conv2d_1a_3x3: Layer;
  Conv2d_2a_3x3: Layer;
  Conv2d_2b_3x3: Layer;
  maxpool1: MaxPool2d;
  Conv2d_3b_1x1: Layer;
  Conv2d_4a_3x3: Layer;
  maxpool2: MaxPool2d;
  Mixed_5b: InceptionA;
  Mixed_5c: InceptionA;
  Mixed_5d: InceptionA;
  Mixed_6a: InceptionB;
  Mixed_6b: InceptionC;
  Mixed_6c: InceptionC;
  Mixed_6d: InceptionC;
  Mixed_6e: InceptionC;
  AuxLogits: InceptionAux | null;
  Mixed_7a: InceptionD;
  Mixed_7b: InceptionE;
  Mixed_7c: InceptionE;
  avgpool: AdaptiveAvgPool2d;
  dropout: Dropout;
  fc: Linear;
  auxLogits: boolean;
  readonly transformInput: boolean;

  constructor({
    numClasses = 1000,
    auxLogits = true,
    transformInput = false,
    inceptionBlocks = [BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, InceptionAux],
    dropout = 0.5,
  }: Inception3Options = {}) {
    super();
    if (inceptionBlocks.length !== 7) throw new Error(`lenght of inception_blocks should be 7 instead of ${inceptionBlocks.length}`);
    const [convBlock, inceptionA, inceptionB, inceptionC, inceptionD, inceptionE, inceptionAux] = inceptionBlocks;
    this.auxLogits = auxLogits;
    this.transformInput = transformInput;
    this.Conv2d_1a_3x3 = new convBlock(3, 32, { kernelSize: 3, stride: 2 });
    this.Conv2d_2a_3x3 = new convBlock(32, 32, { kernelSize: 3 });
    this.Conv2d_2b_3x3 = new convBlock(32, 64, { kernelSize: 3, padding: 1 });
    this.maxpool1 = new MaxPool2d(3, { stride: 2 });
    this.Conv2d_3b_1x1 = new convBlock(64, 80, { kernelSize: 1 });
    this.Conv2d_4a_3x3 = new convBlock(80, 192, { kernelSize: 3 });
    this.maxpool2 = new MaxPool2d(3, { stride: 2 });
    this.Mixed_5b = new inceptionA(192, 32);
    this.Mixed_5c = new inceptionA(256, 64);
    this.Mixed_5d = new inceptionA(288, 64);
    this.Mixed_6a = new inceptionB(288);
    this.Mixed_6b = new inceptionC(768, 128);
    this.Mixed_6c = new inceptionC(768, 160);
    this.Mixed_6d = new inceptionC(768, 160);
    this.Mixed_6e = new inceptionC(768, 192);
    this.AuxLogits = auxLogits ? new inceptionAux(768, numClasses) : null;
    this.Mixed_7a = new inceptionD(768);
    this.Mixed_7b = new inceptionE(1280);
    this.Mixed_7c = new inceptionE(2048);
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.dropout = new Dropout(dropout);
    this.fc = new Linear(2048, numClasses);
  }

  private features(x: Tensor): [Tensor, Tensor | null] {
    x = this.Conv2d_1a_3x3.call(x);
    x = this.Conv2d_2a_3x3.call(x);
    x = this.Conv2d_2b_3x3.call(x);
    x = this.maxpool1.call(x);
    x = this.Conv2d_3b_1x1.call(x);
    x = this.Conv2d_4a_3x3.call(x);
    x = this.maxpool2.call(x);
    x = this.Mixed_5b.call(x);
    x = this.Mixed_5c.call(x);
    x = this.Mixed_5d.call(x);
    x = this.Mixed_6a.call(x);
    x = this.Mixed_6b.call(x);
    x = this.Mixed_6c.call(x);
    x = this.Mixed_6d.call(x);
    x = this.Mixed_6e.call(x);
    // The auxiliary head runs in train mode only: it is in the train graph, not the eval one.
    const aux = this.AuxLogits !== null && this.training ? this.AuxLogits.call(x) : null;
    x = this.Mixed_7a.call(x);
    x = this.Mixed_7b.call(x);
    x = this.Mixed_7c.call(x);
    x = this.avgpool.call(x);
    x = this.dropout.call(x);
    x = F.flatten(x, 1);
    x = this.fc.call(x);
    return [x, aux];
  }

  forward(x: Tensor): Tensor | InceptionOutputs {
    if (this.transformInput) x = transformInput(x);
    const [logits, aux] = this.features(x);
    if (this.training && this.auxLogits) return { logits, aux_logits: aux };
    return logits;
  }
}

export interface InceptionV3BuilderOptions extends Inception3Options {
  /** The weights the model is built for. As torchvision's builder, weights turn transform_input on (unless given). */
  weights?: WeightsName | null;
}

export function inception_v3(options: InceptionV3BuilderOptions = {}): Inception3 {
  const { weights = null, ...kwargs } = options;
  const originalAuxLogits = kwargs.auxLogits ?? true;
  if (weights !== null) {
    checkWeights(weights, ["DEFAULT", "IMAGENET1K_V1"], "Inception_V3_Weights");
    if (kwargs.transformInput === undefined) kwargs.transformInput = true;
    overwriteNamedParam(kwargs, "auxLogits", true);
    overwriteNamedParam(kwargs, "initWeights", false);
    overwriteNamedParam(kwargs, "numClasses", 1000);
  }
  const model = new Inception3(kwargs);
  if (weights !== null && !originalAuxLogits) {
    model.auxLogits = false;
    model.AuxLogits = null;
  }
  return model;
}

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("Inception", { minSize: 75, preset: imagenetPreset(299, 342) });

registerModels(entry("inception_v3", inception_v3));
