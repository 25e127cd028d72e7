import { Module } from "./module.js";
import { Buffer, Parameter } from "./parameter.js";
import * as F from "./functional.js";
import type { Tensor } from "./tensor.js";

/**
 * torch.nn layers. Each is a leaf for the tracer (one node in the graph, as torch.fx treats
 * torch.nn modules), and its forward, written with torch's functional ops, is what the
 * compiler lowers. Constructor arguments follow torch's, in camelCase.
 */

type Pair = number | readonly [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export class Conv2d extends Module {
  static override readonly leaf = true;
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; bias?: boolean } = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(`Conv2d: in_channels ${inChannels} and out_channels ${outChannels} must be divisible by groups ${this.groups}`);
    }
    this.weight = new Parameter([outChannels, inChannels / this.groups, ...this.kernelSize]);
    this.bias = options.bias ?? true ? new Parameter([outChannels]) : null;
  }
  readonly groups: number;

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
  }
}

export class BatchNorm2d extends Module {
  static override readonly leaf = true;
  weight: Parameter | null;
  bias: Parameter | null;
  running_mean: Buffer;
  running_var: Buffer;
  num_batches_tracked: Buffer;

  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
    affine = true,
  ) {
    super();
    this.weight = affine ? new Parameter([numFeatures]) : null;
    this.bias = affine ? new Parameter([numFeatures]) : null;
    this.running_mean = new Buffer([numFeatures]);
    this.running_var = new Buffer([numFeatures]);
    this.num_batches_tracked = new Buffer([], { dtype: "int64" });
  }

  forward(x: Tensor): Tensor {
    return F.batch_norm(x, this.running_mean, this.running_var, this.weight, this.bias, this.training, this.momentum, this.eps);
  }
}

export class ReLU extends Module {
  static override readonly leaf = true;
  constructor(readonly inplace = false) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.relu(x, this.inplace);
  }
}

export class MaxPool2d extends Module {
  static override readonly leaf = true;
  constructor(
    readonly kernelSize: Pair,
    readonly options: { stride?: Pair | null; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    const o = this.options;
    return F.max_pool2d(x, this.kernelSize, o.stride ?? null, o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false);
  }
}

export class AvgPool2d extends Module {
  static override readonly leaf = true;
  constructor(
    readonly kernelSize: Pair,
    readonly options: { stride?: Pair | null; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    const o = this.options;
    return F.avg_pool2d(x, this.kernelSize, o.stride ?? null, o.padding ?? 0, o.ceilMode ?? false, o.countIncludePad ?? true);
  }
}

export class AdaptiveAvgPool2d extends Module {
  static override readonly leaf = true;
  constructor(readonly outputSize: number | readonly [number | null, number | null]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptive_avg_pool2d(x, this.outputSize);
  }
}

export class AdaptiveMaxPool2d extends Module {
  static override readonly leaf = true;
  constructor(readonly outputSize: number | readonly [number | null, number | null]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptive_max_pool2d(x, this.outputSize);
  }
}

export class Linear extends Module {
  static override readonly leaf = true;
  weight: Parameter;
  bias: Parameter | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = new Parameter([outFeatures, inFeatures]);
    this.bias = bias ? new Parameter([outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export class Flatten extends Module {
  static override readonly leaf = true;
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

export class Identity extends Module {
  static override readonly leaf = true;
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class Dropout extends Module {
  static override readonly leaf = true;
  constructor(
    readonly p = 0.5,
    readonly inplace = false,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training, this.inplace);
  }
}

/** Activations that are plain functions of their input. */
function activation(name: string, fn: (x: Tensor, inplace: boolean) => Tensor): new (inplace?: boolean) => Module & { forward(x: Tensor): Tensor } {
  const cls = class extends Module {
    static override readonly leaf = true;
    constructor(readonly inplace = false) {
      super();
    }
    forward(x: Tensor): Tensor {
      return fn(x, this.inplace);
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

export const ReLU6 = activation("ReLU6", (x, inplace) => F.relu6(x, inplace));
export const Sigmoid = activation("Sigmoid", (x) => F.sigmoid(x));
export const Tanh = activation("Tanh", (x) => F.tanh(x));
export const SiLU = activation("SiLU", (x, inplace) => F.silu(x, inplace));
export const Hardswish = activation("Hardswish", (x, inplace) => F.hardswish(x, inplace));
export const Hardsigmoid = activation("Hardsigmoid", (x, inplace) => F.hardsigmoid(x, inplace));

export class GELU extends Module {
  static override readonly leaf = true;
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate);
  }
}

export class LayerNorm extends Module {
  // boolean, not `true`: torchvision's LayerNorm2d subclasses it and is not a leaf.
  static override readonly leaf: boolean = true;
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  constructor(
    normalizedShape: number | readonly number[],
    readonly eps = 1e-5,
    elementwiseAffine = true,
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    this.weight = elementwiseAffine ? new Parameter(this.normalizedShape) : null;
    this.bias = elementwiseAffine ? new Parameter(this.normalizedShape) : null;
  }
  forward(x: Tensor): Tensor {
    return F.layer_norm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/**
 * torch.nn.MultiheadAttention for self-attention, the way torchvision's ViT calls it:
 * q, k and v projected by one packed `in_proj_weight`, `out_proj` after. A leaf, so one node
 * that returns (output, weights averaged over heads or None); `getitem` nodes unpack it.
 */
export class MultiheadAttention extends Module {
  static override readonly leaf = true;
  in_proj_weight: Parameter;
  in_proj_bias: Parameter | null;
  out_proj: Linear;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    options: { dropout?: number; bias?: boolean; addBiasKv?: boolean; addZeroAttn?: boolean; kdim?: number | null; vdim?: number | null; batchFirst?: boolean } = {},
  ) {
    super();
    this.headDim = Math.floor(embedDim / numHeads);
    if (this.headDim * numHeads !== embedDim) throw new Error("embed_dim must be divisible by num_heads");
    if (options.addBiasKv || options.addZeroAttn || (options.kdim ?? embedDim) !== embedDim || (options.vdim ?? embedDim) !== embedDim) {
      throw new Error("MultiheadAttention: fxc supports add_bias_kv=False, add_zero_attn=False and kdim = vdim = embed_dim only");
    }
    this.dropout = options.dropout ?? 0;
    this.batchFirst = options.batchFirst ?? false;
    const bias = options.bias ?? true;
    this.in_proj_weight = new Parameter([3 * embedDim, embedDim]);
    this.in_proj_bias = bias ? new Parameter([3 * embedDim]) : null;
    this.out_proj = new Linear(embedDim, embedDim, bias);
  }

  forward(query: Tensor, key: Tensor, value: Tensor, options: { needWeights?: boolean; averageAttnWeights?: boolean } = {}): [Tensor, Tensor | null] {
    if (query !== key || key !== value) throw new Error("MultiheadAttention: fxc computes self-attention only (query, key and value the same tensor)");
    const { needWeights = true, averageAttnWeights = true } = options;
    const x = this.batchFirst ? query : F.transpose(query, 0, 1);
    const [n, length] = [x.size(0), x.size(1)];
    const [q, k, v] = F.linear(x, this.in_proj_weight, this.in_proj_bias).chunk(3, -1);
    // Heads split off: q and v as [N, heads, L, head_dim], k already transposed for q @ kᵀ.
    const split = (t: Tensor): Tensor => t.reshape(n, length, this.numHeads, this.headDim);
    const scores = F.matmul(F.mul(F.transpose(split(q!), 1, 2), this.headDim ** -0.5), F.permute(split(k!), [0, 2, 3, 1]));
    const weights = F.dropout(F.softmax(scores, -1), this.dropout, this.training);
    const heads = F.matmul(weights, F.transpose(split(v!), 1, 2));
    let out = this.out_proj.call(F.transpose(heads, 1, 2).reshape(n, length, this.embedDim));
    if (!this.batchFirst) out = F.transpose(out, 0, 1);
    return [out, needWeights ? (averageAttnWeights ? weights.mean(1) : weights) : null];
  }
}

/**
 * torch.nn.ConvTranspose2d (Mask R-CNN's `conv5_mask`): weight [in, out, kh, kw] as torch's.
 * output_padding, groups and dilation stay at torch's defaults, the only values torchvision's models use.
 */
export class ConvTranspose2d extends Module {
  static override readonly leaf = true;
  weight: Parameter;
  bias: Parameter | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    options: { bias?: boolean } = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(stride);
    this.padding = pair(padding);
    this.weight = new Parameter([inChannels, outChannels, ...this.kernelSize]);
    this.bias = options.bias ?? true ? new Parameter([outChannels]) : null;
  }

  forward(x: Tensor): Tensor {
    return F.conv_transpose2d(x, this.weight, this.bias, this.stride, this.padding);
  }
}
