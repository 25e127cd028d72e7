import { BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential, F, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.shufflenetv2, module for module: same attribute names, same forward order. */

/** Interleaves the channels of `groups` groups; torchvision traces it as size, view, transpose, view. */
export function channelShuffle(x: Tensor, groups: number): Tensor {
  const [batchsize, numChannels, height, width] = x.size();
  const channelsPerGroup = F.floordiv(numChannels!, groups);
  x = x.view(batchsize!, groups, channelsPerGroup, height!, width!);
  x = F.transpose(x, 1, 2).contiguous();
  return x.view(batchsize!, -1, height!, width!);
}

const depthwiseConv = (i: number, o: number, kernelSize: number, stride = 1, padding = 0, bias = false): Conv2d =>
  new Conv2d(i, o, kernelSize, { stride, padding, bias, groups: i });

export class InvertedResidual extends Module {
  branch1: Sequential;
  branch2: Sequential;
  readonly stride: number;

  constructor(inp: number, oup: number, stride: number) {
    super();
    if (!(stride >= 1 && stride <= 3)) throw new Error("illegal stride value");
    this.stride = stride;
    const branchFeatures = Math.floor(oup / 2);
    if (stride === 1 && inp !== branchFeatures << 1) {
      throw new Error(`Invalid combination of stride ${stride}, inp ${inp} and oup ${oup} values. If stride == 1 then inp should be equal to oup // 2 << 1.`);
    }
    this.branch1 =
      stride > 1
        ? new Sequential(
            depthwiseConv(inp, inp, 3, stride, 1),
            new BatchNorm2d(inp),
            new Conv2d(inp, branchFeatures, 1, { bias: false }),
            new BatchNorm2d(branchFeatures),
            new ReLU(true),
          )
        : new Sequential();
    this.branch2 = new Sequential(
      new Conv2d(stride > 1 ? inp : branchFeatures, branchFeatures, 1, { bias: false }),
      new BatchNorm2d(branchFeatures),
      new ReLU(true),
      depthwiseConv(branchFeatures, branchFeatures, 3, stride, 1),
      new BatchNorm2d(branchFeatures),
      new Conv2d(branchFeatures, branchFeatures, 1, { bias: false }),
      new BatchNorm2d(branchFeatures),
      new ReLU(true),
    );
  }

  forward(x: Tensor): Tensor {
    let out: Tensor;
    if (this.stride === 1) {
      const [x1, x2] = x.chunk(2, 1);
      out = F.cat([x1!, this.branch2.call(x2!)], 1);
    } else {
      out = F.cat([this.branch1.call(x), this.branch2.call(x)], 1);
    }
    return channelShuffle(out, 2);
  }
}

export interface ShuffleNetV2Options {
  numClasses?: number;
  invertedResidual?: new (inp: number, oup: number, stride: number) => Module;
}

export class ShuffleNetV2 extends Module {
  conv1: Sequential;
  maxpool: MaxPool2d;
  stage2: Sequential;
  stage3: Sequential;
  stage4: Sequential;
  conv5: Sequential;
  fc: Linear;

  constructor(stagesRepeats: readonly number[], stagesOutChannels: readonly number[], options: ShuffleNetV2Options = {}) {
    super();
    const { numClasses = 1000, invertedResidual = InvertedResidual } = options;
    if (stagesRepeats.length !== 3) throw new Error("expected stages_repeats as list of 3 positive ints");
    if (stagesOutChannels.length !== 5) throw new Error("expected stages_out_channels as list of 5 positive ints");
    let inputChannels = 3;
    let outputChannels = stagesOutChannels[0]!;
    this.conv1 = new Sequential(new Conv2d(inputChannels, outputChannels, 3, { stride: 2, padding: 1, bias: false }), new BatchNorm2d(outputChannels), new ReLU(true));
    inputChannels = outputChannels;
    this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    const stage = (repeats: number, out: number): Sequential => {
      const seq = [new invertedResidual(inputChannels, out, 2)];
      for (let i = 0; i < repeats - 1; i++) seq.push(new invertedResidual(out, out, 1));
      inputChannels = out;
      return new Sequential(...seq);
    };
    this.stage2 = stage(stagesRepeats[0]!, stagesOutChannels[1]!);
    this.stage3 = stage(stagesRepeats[1]!, stagesOutChannels[2]!);
    this.stage4 = stage(stagesRepeats[2]!, stagesOutChannels[3]!);
    outputChannels = stagesOutChannels[4]!;
    this.conv5 = new Sequential(new Conv2d(inputChannels, outputChannels, 1, { bias: false }), new BatchNorm2d(outputChannels), new ReLU(true));
    this.fc = new Linear(outputChannels, numClasses);
  }

  forward(x: Tensor): Tensor {
    x = this.conv1.call(x);
    x = this.maxpool.call(x);
    x = this.stage2.call(x);
    x = this.stage3.call(x);
    x = this.stage4.call(x);
    x = this.conv5.call(x);
    x = x.mean([2, 3]); // globalpool
    return this.fc.call(x);
  }
}

type Builder = (options?: ShuffleNetV2Options) => ShuffleNetV2;

export const shufflenet_v2_x0_5: Builder = (o = {}) => new ShuffleNetV2([4, 8, 4], [24, 48, 96, 192, 1024], o);
export const shufflenet_v2_x1_0: Builder = (o = {}) => new ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], o);
export const shufflenet_v2_x1_5: Builder = (o = {}) => new ShuffleNetV2([4, 8, 4], [24, 176, 352, 704, 1024], o);
export const shufflenet_v2_x2_0: Builder = (o = {}) => new ShuffleNetV2([4, 8, 4], [24, 244, 488, 976, 2048], o);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("ShuffleNetV2", { minSize: 1, preset: imagenetPreset(224, 256) });
const resize232 = { preset: imagenetPreset(224, 232) };

/** torchvision's DEFAULT weights: IMAGENET1K_V1 for each (x1_5 and x2_0 resize to 232). */
registerModels(
  entry("shufflenet_v2_x0_5", shufflenet_v2_x0_5),
  entry("shufflenet_v2_x1_0", shufflenet_v2_x1_0),
  entry("shufflenet_v2_x1_5", shufflenet_v2_x1_5, resize232),
  entry("shufflenet_v2_x2_0", shufflenet_v2_x2_0, resize232),
);
