import { BatchNorm2d, Conv2d, Dropout, Linear, Module, ReLU, Sequential, F, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.mnasnet (the B1 variant), module for module: same attribute names, same forward order. */

/** torchvision's `_BN_MOMENTUM`: 1 - 0.9997, as TensorFlow's decay. */
const BN_MOMENTUM = 1 - 0.9997;

export class MNASNetInvertedResidual extends Module {
  layers: Sequential;
  readonly applyResidual: boolean;

  constructor(inCh: number, outCh: number, kernelSize: number, stride: number, expansionFactor: number, bnMomentum = 0.1) {
    super();
    if (stride !== 1 && stride !== 2) throw new Error(`stride should be 1 or 2 instead of ${stride}`);
    if (kernelSize !== 3 && kernelSize !== 5) throw new Error(`kernel_size should be 3 or 5 instead of ${kernelSize}`);
    const midCh = inCh * expansionFactor;
    this.applyResidual = inCh === outCh && stride === 1;
    this.layers = new Sequential(
      new Conv2d(inCh, midCh, 1, { bias: false }),
      new BatchNorm2d(midCh, 1e-5, bnMomentum),
      new ReLU(true),
      new Conv2d(midCh, midCh, kernelSize, { padding: Math.floor(kernelSize / 2), stride, groups: midCh, bias: false }),
      new BatchNorm2d(midCh, 1e-5, bnMomentum),
      new ReLU(true),
      new Conv2d(midCh, outCh, 1, { bias: false }),
      new BatchNorm2d(outCh, 1e-5, bnMomentum),
    );
  }

  forward(input: Tensor): Tensor {
    if (this.applyResidual) return F.add(this.layers.call(input), input);
    return this.layers.call(input);
  }
}

/** torchvision's `_stack`: one strided inverted residual, then `repeats - 1` more. */
function stack(inCh: number, outCh: number, kernelSize: number, stride: number, expFactor: number, repeats: number, bnMomentum: number): Sequential {
  if (repeats < 1) throw new Error(`repeats should be >= 1, instead got ${repeats}`);
  const layers = [new MNASNetInvertedResidual(inCh, outCh, kernelSize, stride, expFactor, bnMomentum)];
  for (let i = 1; i < repeats; i++) layers.push(new MNASNetInvertedResidual(outCh, outCh, kernelSize, 1, expFactor, bnMomentum));
  return new Sequential(...layers);
}

/** torchvision's `_round_to_multiple_of`: rounds up unless that adds more than 10%. */
function roundToMultipleOf(val: number, divisor: number, roundUpBias = 0.9): number {
  if (!(roundUpBias > 0 && roundUpBias < 1)) throw new Error(`round_up_bias should be greater than 0.0 and smaller than 1.0 instead of ${roundUpBias}`);
  const newVal = Math.max(divisor, Math.floor(Math.trunc(val + divisor / 2) / divisor) * divisor);
  return newVal >= roundUpBias * val ? newVal : newVal + divisor;
}

/** torchvision's `_get_depths`: the stage widths scaled by alpha. */
function depthsFor(alpha: number): number[] {
  return [32, 16, 24, 40, 80, 96, 192, 320].map((depth) => roundToMultipleOf(depth * alpha, 8));
}

export interface MNASNetOptions {
  numClasses?: number;
  dropout?: number;
}

export class MNASNet extends Module {
  layers: Sequential;
  classifier: Sequential;
  readonly alpha: number;
  readonly numClasses: number;

  constructor(alpha: number, { numClasses = 1000, dropout = 0.2 }: MNASNetOptions = {}) {
    super();
    if (alpha <= 0) throw new Error(`alpha should be greater than 0.0 instead of ${alpha}`);
    this.alpha = alpha;
    this.numClasses = numClasses;
    const d = depthsFor(alpha);
    const bn = (c: number): BatchNorm2d => new BatchNorm2d(c, 1e-5, BN_MOMENTUM);
    this.layers = new Sequential(
      new Conv2d(3, d[0]!, 3, { padding: 1, stride: 2, bias: false }),
      bn(d[0]!),
      new ReLU(true),
      new Conv2d(d[0]!, d[0]!, 3, { padding: 1, stride: 1, groups: d[0]!, bias: false }),
      bn(d[0]!),
      new ReLU(true),
      new Conv2d(d[0]!, d[1]!, 1, { padding: 0, stride: 1, bias: false }),
      bn(d[1]!),
      stack(d[1]!, d[2]!, 3, 2, 3, 3, BN_MOMENTUM),
      stack(d[2]!, d[3]!, 5, 2, 3, 3, BN_MOMENTUM),
      stack(d[3]!, d[4]!, 5, 2, 6, 3, BN_MOMENTUM),
      stack(d[4]!, d[5]!, 3, 1, 6, 2, BN_MOMENTUM),
      stack(d[5]!, d[6]!, 5, 2, 6, 4, BN_MOMENTUM),
      stack(d[6]!, d[7]!, 3, 1, 6, 1, BN_MOMENTUM),
      new Conv2d(d[7]!, 1280, 1, { padding: 0, stride: 1, bias: false }),
      bn(1280),
      new ReLU(true),
    );
    this.classifier = new Sequential(new Dropout(dropout, true), new Linear(1280, numClasses));
  }

  forward(x: Tensor): Tensor {
    x = this.layers.call(x);
    x = x.mean([2, 3]);
    return this.classifier.call(x);
  }
}

type Builder = (options?: MNASNetOptions) => MNASNet;
export const mnasnet0_5: Builder = (o = {}) => new MNASNet(0.5, o);
export const mnasnet0_75: Builder = (o = {}) => new MNASNet(0.75, o);
export const mnasnet1_0: Builder = (o = {}) => new MNASNet(1.0, o);
export const mnasnet1_3: Builder = (o = {}) => new MNASNet(1.3, o);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("MNASNet", { minSize: 1, preset: imagenetPreset(224, 256) });
const newerRecipe = { preset: imagenetPreset(224, 232) };

/** torchvision's DEFAULT weights resize to 256 for 0_5 and 1_0, to 232 for 0_75 and 1_3 (newer recipe). */
registerModels(
  entry("mnasnet0_5", mnasnet0_5),
  entry("mnasnet0_75", mnasnet0_75, newerRecipe),
  entry("mnasnet1_0", mnasnet1_0),
  entry("mnasnet1_3", mnasnet1_3, newerRecipe),
);
