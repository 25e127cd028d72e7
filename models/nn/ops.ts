import { Module, type Layer } from "./module.js";
import { Buffer } from "./parameter.js";
import { Sequential } from "./container.js";
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Hardswish, Linear, ReLU, ReLU6, SiLU, Sigmoid } from "./layers.js";
import * as F from "./functional.js";
import type { Tensor } from "./tensor.js";

/**
 * torchvision.ops modules. torchvision's feature extractor treats every torchvision.ops
 * module as a leaf, so each is one node in the graph; their forwards are what is compiled.
 */

/** A norm or activation layer factory, as torchvision's `norm_layer` / `activation_layer` arguments. */
export type NormFactory = (channels: number) => Layer;
export type ActivationFactory = (inplace: boolean | undefined) => Layer;

// The layers torchvision passes as norm_layer / activation_layer classes, as factories.
export const batchNorm2d: NormFactory = (c) => new BatchNorm2d(c);
export const relu: ActivationFactory = (inplace) => new ReLU(inplace ?? false);
export const relu6: ActivationFactory = (inplace) => new ReLU6(inplace ?? false);
export const silu: ActivationFactory = (inplace) => new SiLU(inplace ?? false);
export const hardswish: ActivationFactory = (inplace) => new Hardswish(inplace ?? false);

/** torchvision.ops.Conv2dNormActivation: conv ("0"), then norm ("1"), then activation. */
export class Conv2dNormActivation extends Sequential {
  static override readonly leaf = true;
  readonly outChannels: number;

  constructor(
    inChannels: number,
    outChannels: number,
    options: {
      kernelSize?: number | readonly [number, number];
      stride?: number | readonly [number, number];
      padding?: number | readonly [number, number] | null;
      groups?: number;
      normLayer?: NormFactory | null;
      activationLayer?: ActivationFactory | null;
      dilation?: number | readonly [number, number];
      inplace?: boolean | null;
      bias?: boolean | null;
    } = {},
  ) {
    const kernel = options.kernelSize ?? 3;
    const dilation = options.dilation ?? 1;
    const pad = (k: number, d: number): number => Math.floor((k - 1) / 2) * d;
    const padding =
      options.padding ??
      (typeof kernel === "number" && typeof dilation === "number"
        ? pad(kernel, dilation)
        : ([0, 1].map((i) => pad(typeof kernel === "number" ? kernel : kernel[i]!, typeof dilation === "number" ? dilation : dilation[i]!)) as [number, number]));
    const normLayer = options.normLayer === undefined ? batchNorm2d : options.normLayer;
    const activationLayer = options.activationLayer === undefined ? relu : options.activationLayer;
    const layers: Module[] = [
      new Conv2d(inChannels, outChannels, kernel, {
        stride: options.stride ?? 1,
        padding,
        dilation,
        groups: options.groups ?? 1,
        bias: options.bias ?? normLayer === null,
      }),
    ];
    if (normLayer !== null) layers.push(normLayer(outChannels));
    if (activationLayer !== null) layers.push(activationLayer(options.inplace === null ? undefined : options.inplace ?? true));
    super(...layers);
    this.outChannels = outChannels;
  }
}

/** torchvision.ops.SqueezeExcitation: channel weights from a pooled squeeze, times the input. */
export class SqueezeExcitation extends Module {
  static override readonly leaf = true;
  avgpool = new AdaptiveAvgPool2d(1);
  fc1: Conv2d;
  fc2: Conv2d;
  activation: Layer;
  scale_activation: Layer;

  constructor(
    inputChannels: number,
    squeezeChannels: number,
    activation: () => Layer = () => new ReLU(),
    scaleActivation: () => Layer = () => new Sigmoid(),
  ) {
    super();
    this.fc1 = new Conv2d(inputChannels, squeezeChannels, 1);
    this.fc2 = new Conv2d(squeezeChannels, inputChannels, 1);
    this.activation = activation();
    this.scale_activation = scaleActivation();
  }

  private scale(input: Tensor): Tensor {
    let scale = this.avgpool.call(input);
    scale = this.fc1.call(scale);
    scale = this.activation.call(scale);
    scale = this.fc2.call(scale);
    return this.scale_activation.call(scale);
  }

  forward(input: Tensor): Tensor {
    return F.mul(this.scale(input), input);
  }
}

/** torchvision.ops.MLP: Linear, [norm], activation, Dropout per hidden layer; then Linear, Dropout. */
export class MLP extends Sequential {
  static override readonly leaf = true;

  constructor(
    inChannels: number,
    hiddenChannels: readonly number[],
    options: { normLayer?: NormFactory | null; activationLayer?: ActivationFactory; inplace?: boolean | null; bias?: boolean; dropout?: number } = {},
  ) {
    const inplace = options.inplace === null ? undefined : options.inplace ?? true;
    const activation = options.activationLayer ?? relu;
    const dropout = options.dropout ?? 0;
    const layers: Module[] = [];
    let inDim = inChannels;
    for (const hidden of hiddenChannels.slice(0, -1)) {
      layers.push(new Linear(inDim, hidden, options.bias ?? true));
      if (options.normLayer) layers.push(options.normLayer(hidden));
      layers.push(activation(inplace), new Dropout(dropout, inplace ?? false));
      inDim = hidden;
    }
    layers.push(new Linear(inDim, hiddenChannels[hiddenChannels.length - 1]!, options.bias ?? true), new Dropout(dropout, inplace ?? false));
    super(...layers);
  }
}

/** torchvision.ops.Permute. */
export class Permute extends Module {
  static override readonly leaf = true;
  constructor(readonly dims: readonly number[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.permute(x, this.dims);
  }
}

/** torchvision.ops.StochasticDepth: drops residual branches in training, the identity in eval. */
export class StochasticDepth extends Module {
  static override readonly leaf = true;
  constructor(
    readonly p: number,
    readonly mode: "batch" | "row",
  ) {
    super();
    if (p < 0 || p > 1) throw new Error(`drop probability has to be between 0 and 1, but got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.stochastic_depth(x, this.p, this.mode, this.training);
  }
}

/**
 * torchvision.ops.FrozenBatchNorm2d: batch norm whose statistics and affine parameters are
 * buffers (weight, bias, running_mean, running_var; no num_batches_tracked), so it normalizes
 * with the stored statistics in train mode too. torch computes x * scale + (b - mean * scale);
 * here it is eval-mode batch norm, the same function, folded into the convolution at load time.
 */
export class FrozenBatchNorm2d extends Module {
  static override readonly leaf = true;
  weight: Buffer;
  bias: Buffer;
  running_mean: Buffer;
  running_var: Buffer;

  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = new Buffer([numFeatures]);
    this.bias = new Buffer([numFeatures]);
    this.running_mean = new Buffer([numFeatures]);
    this.running_var = new Buffer([numFeatures]);
  }

  forward(x: Tensor): Tensor {
    return F.batch_norm(x, this.running_mean, this.running_var, this.weight, this.bias, false, 0.1, this.eps);
  }
}

/** torchvision's `norm_layer=misc_nn_ops.FrozenBatchNorm2d`, the detection backbones' default. */
export const frozenBatchNorm2d: NormFactory = (c) => new FrozenBatchNorm2d(c);
