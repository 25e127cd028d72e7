import {
  AdaptiveAvgPool2d,
  Buffer,
  Conv2d,
  F,
  Flatten,
  GELU,
  LayerNorm,
  Linear,
  MLP,
  Module,
  Parameter,
  Permute,
  ReLU,
  Sequential,
  StochasticDepth,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";
// Swin's relative_position_index is MaxViT's table, flattened: one definition.
import { relativePositionIndex } from "./maxvit.js";
import { imagenetPreset, zooFamily, type EntryInfo, registerModels } from "./entry.js";

/**
 * torchvision.models.swin_transformer (Swin and Swin v2), module for module: same attribute
 * names, same forward order. Feature maps inside are [B, H, W, C], as torchvision keeps them.
 */

type Pair = readonly [number, number];

const layerNorm: NormFactory = (c) => new LayerNorm(c, 1e-5);

/** Patch merging: 2×2 neighbours concatenated (a wrapped function), normalized, then halved in width. */
export class PatchMerging extends Module {
  reduction: Linear;
  norm: Layer;

  constructor(
    readonly dim: number,
    normLayer: NormFactory = (c) => new LayerNorm(c),
  ) {
    super();
    this.reduction = new Linear(4 * dim, 2 * dim, false);
    this.norm = normLayer(4 * dim);
  }

  forward(x: Tensor): Tensor {
    x = F._patch_merging_pad(x);
    x = this.norm.call(x);
    return this.reduction.call(x);
  }
}

/** Swin v2's patch merging: the reduction first, the norm after, over 2·dim. */
export class PatchMergingV2 extends Module {
  reduction: Linear;
  norm: Layer;

  constructor(
    readonly dim: number,
    normLayer: NormFactory = (c) => new LayerNorm(c),
  ) {
    super();
    this.reduction = new Linear(4 * dim, 2 * dim, false);
    this.norm = normLayer(2 * dim);
  }

  forward(x: Tensor): Tensor {
    x = F._patch_merging_pad(x);
    x = this.reduction.call(x);
    return this.norm.call(x);
  }
}

interface AttentionOptions {
  qkvBias?: boolean;
  projBias?: boolean;
  attentionDropout?: number;
  dropout?: number;
}

/** Window attention with a learned relative position bias table; see `shifted_window_attention`. */
export class ShiftedWindowAttention extends Module {
  qkv: Linear;
  proj: Linear;
  readonly attentionDropout: number;
  readonly dropout: number;

  constructor(
    dim: number,
    readonly windowSize: Pair,
    readonly shiftSize: Pair,
    readonly numHeads: number,
    options: AttentionOptions = {},
  ) {
    super();
    if (windowSize.length !== 2 || shiftSize.length !== 2) throw new Error("window_size and shift_size must be of length 2");
    this.attentionDropout = options.attentionDropout ?? 0;
    this.dropout = options.dropout ?? 0;
    this.qkv = new Linear(dim, dim * 3, options.qkvBias ?? true);
    this.proj = new Linear(dim, dim, options.projBias ?? true);
    this.defineRelativePositionBiasTable();
    this.defineRelativePositionIndex();
  }

  /** Set by `defineRelativePositionBiasTable`, which v2 overrides. */
  declare relative_position_bias_table: Parameter;
  declare relative_position_index: Buffer;

  protected defineRelativePositionBiasTable(): void {
    this.relative_position_bias_table = new Parameter([(2 * this.windowSize[0] - 1) * (2 * this.windowSize[1] - 1), this.numHeads]);
  }

  /** For each pair of window positions, the row of their offset in the bias table (computed, not learned). */
  protected defineRelativePositionIndex(): void {
    const n = this.windowSize[0] * this.windowSize[1];
    this.relative_position_index = new Buffer([n * n], { dtype: "int64", values: () => relativePositionIndex(this.windowSize[0], this.windowSize[1]) });
  }

  protected relativePositionBias(): Tensor {
    return F._get_relative_position_bias(this.relative_position_bias_table, this.relative_position_index, this.windowSize);
  }

  protected logitScale(): Parameter | null {
    return null;
  }

  forward(x: Tensor): Tensor {
    const relativePositionBias = this.relativePositionBias();
    const logitScale = this.logitScale();
    return F.shifted_window_attention(x, this.qkv.weight, this.proj.weight, relativePositionBias, this.windowSize, this.numHeads, {
      shift_size: this.shiftSize,
      attention_dropout: this.attentionDropout,
      dropout: this.dropout,
      qkv_bias: this.qkv.bias,
      proj_bias: this.proj.bias,
      ...(logitScale === null ? {} : { logit_scale: logitScale }),
    });
  }
}

/**
 * Swin v2's `relative_coords_table` [1, 2h-1, 2w-1, 2]: each relative offset (dh, dw) scaled to
 * [-8, 8] by the window size, then sign(t) * log2(|t| + 1) / 3, in float32 steps as torch computes it.
 */
export function relativeCoordsTable(height: number, width: number): Float32Array {
  const f = Math.fround;
  const logSpaced = (offset: number, size: number): number => {
    const t = f(f(offset / (size - 1)) * 8);
    return f(f(Math.sign(t) * f(Math.log2(f(Math.abs(t) + 1)))) / 3);
  };
  const out = new Float32Array((2 * height - 1) * (2 * width - 1) * 2);
  let k = 0;
  for (let a = 0; a < 2 * height - 1; a++) {
    for (let b = 0; b < 2 * width - 1; b++) {
      out[k++] = logSpaced(a - (height - 1), height);
      out[k++] = logSpaced(b - (width - 1), width);
    }
  }
  return out;
}

/** Swin v2's window attention: cosine attention with a learned logit scale, biases from a small MLP over log-spaced offsets. */
export class ShiftedWindowAttentionV2 extends ShiftedWindowAttention {
  logit_scale: Parameter;
  cpb_mlp: Sequential;
  declare relative_coords_table: Buffer;

  constructor(dim: number, windowSize: Pair, shiftSize: Pair, numHeads: number, options: AttentionOptions = {}) {
    super(dim, windowSize, shiftSize, numHeads, options);
    this.logit_scale = new Parameter([numHeads, 1, 1]);
    // mlp to generate continuous relative position bias
    this.cpb_mlp = new Sequential(new Linear(2, 512, true), new ReLU(true), new Linear(512, numHeads, false));
  }

  protected override defineRelativePositionBiasTable(): void {
    const [wh, ww] = this.windowSize;
    this.relative_coords_table = new Buffer([1, 2 * wh - 1, 2 * ww - 1, 2], { values: () => relativeCoordsTable(wh, ww) });
  }

  protected override relativePositionBias(): Tensor {
    // torchvision feeds the buffer itself to the MLP (a constant input, not a traced one).
    const table = this.cpb_mlp.call(this.relative_coords_table as unknown as Tensor).view(-1, this.numHeads);
    const bias = F._get_relative_position_bias(table, this.relative_position_index, this.windowSize);
    return F.mul(16, F.sigmoid(bias));
  }

  protected override logitScale(): Parameter {
    return this.logit_scale;
  }
}

export interface BlockOptions {
  mlpRatio?: number;
  dropout?: number;
  attentionDropout?: number;
  stochasticDepthProb?: number;
  normLayer?: NormFactory;
}

type AttentionLayer = new (dim: number, windowSize: Pair, shiftSize: Pair, numHeads: number, options?: AttentionOptions) => ShiftedWindowAttention;

export class SwinTransformerBlock extends Module {
  norm1: Layer;
  attn: ShiftedWindowAttention;
  stochastic_depth: StochasticDepth;
  norm2: Layer;
  mlp: MLP;

  constructor(dim: number, numHeads: number, windowSize: Pair, shiftSize: Pair, options: BlockOptions = {}, attnLayer: AttentionLayer = ShiftedWindowAttention) {
    super();
    const { mlpRatio = 4, dropout = 0, attentionDropout = 0, stochasticDepthProb = 0, normLayer = (c: number) => new LayerNorm(c) } = options;
    this.norm1 = normLayer(dim);
    this.attn = new attnLayer(dim, windowSize, shiftSize, numHeads, { attentionDropout, dropout });
    this.stochastic_depth = new StochasticDepth(stochasticDepthProb, "row");
    this.norm2 = normLayer(dim);
    this.mlp = new MLP(dim, [Math.trunc(dim * mlpRatio), dim], { activationLayer: () => new GELU(), inplace: null, dropout });
  }

  forward(x: Tensor): Tensor {
    x = F.add(x, this.stochastic_depth.call(this.attn.call(this.norm1.call(x))));
    return F.add(x, this.stochastic_depth.call(this.mlp.call(this.norm2.call(x))));
  }
}

/** Swin v2's block: residual post-normalization (attention, then norm). */
export class SwinTransformerBlockV2 extends SwinTransformerBlock {
  constructor(dim: number, numHeads: number, windowSize: Pair, shiftSize: Pair, options: BlockOptions = {}, attnLayer: AttentionLayer = ShiftedWindowAttentionV2) {
    super(dim, numHeads, windowSize, shiftSize, options, attnLayer);
  }

  override forward(x: Tensor): Tensor {
    x = F.add(x, this.stochastic_depth.call(this.norm1.call(this.attn.call(x))));
    return F.add(x, this.stochastic_depth.call(this.norm2.call(this.mlp.call(x))));
  }
}

type BlockClass = new (dim: number, numHeads: number, windowSize: Pair, shiftSize: Pair, options?: BlockOptions) => SwinTransformerBlock;
type DownsampleClass = new (dim: number, normLayer?: NormFactory) => Module;

export interface SwinTransformerOptions {
  mlpRatio?: number;
  dropout?: number;
  attentionDropout?: number;
  stochasticDepthProb?: number;
  numClasses?: number;
  normLayer?: NormFactory | null;
  block?: BlockClass | null;
  downsampleLayer?: DownsampleClass;
}

/** Swin Transformer (https://arxiv.org/pdf/2103.14030); v2 through `block` and `downsampleLayer`. */
export class SwinTransformer extends Module {
  features: Sequential;
  norm: Layer;
  permute: Permute;
  avgpool: AdaptiveAvgPool2d;
  flatten: Flatten;
  head: Linear;

  constructor(patchSize: Pair, embedDim: number, depths: readonly number[], numHeads: readonly number[], windowSize: Pair, options: SwinTransformerOptions = {}) {
    super();
    const { mlpRatio = 4, dropout = 0, attentionDropout = 0, stochasticDepthProb = 0.1, numClasses = 1000, downsampleLayer = PatchMerging } = options;
    const block = options.block ?? SwinTransformerBlock;
    const normLayer = options.normLayer ?? layerNorm;
    // split image into non-overlapping patches
    const layers: Module[] = [new Sequential(new Conv2d(3, embedDim, patchSize, { stride: patchSize }), new Permute([0, 2, 3, 1]), normLayer(embedDim))];
    const totalBlocks = depths.reduce((a, b) => a + b, 0);
    // torchvision divides by total_stage_blocks - 1 (ZeroDivisionError for a single block).
    if (totalBlocks < 2) throw new Error("float division by zero: SwinTransformer needs at least two blocks in all");
    let blockId = 0;
    depths.forEach((depth, stageIndex) => {
      const dim = embedDim * 2 ** stageIndex;
      const stage: Module[] = [];
      for (let i = 0; i < depth; i++) {
        // Stochastic depth grows linearly with the block's depth in the network.
        const sdProb = (stochasticDepthProb * blockId) / (totalBlocks - 1);
        const shiftSize: Pair = i % 2 === 0 ? [0, 0] : [Math.floor(windowSize[0] / 2), Math.floor(windowSize[1] / 2)];
        stage.push(new block(dim, numHeads[stageIndex]!, windowSize, shiftSize, { mlpRatio, dropout, attentionDropout, stochasticDepthProb: sdProb, normLayer }));
        blockId++;
      }
      layers.push(new Sequential(...stage));
      if (stageIndex < depths.length - 1) layers.push(new downsampleLayer(dim, normLayer));
    });
    this.features = new Sequential(...layers);
    const numFeatures = embedDim * 2 ** (depths.length - 1);
    this.norm = normLayer(numFeatures);
    this.permute = new Permute([0, 3, 1, 2]);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.flatten = new Flatten(1);
    this.head = new Linear(numFeatures, numClasses);
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.norm.call(x);
    x = this.permute.call(x);
    x = this.avgpool.call(x);
    x = this.flatten.call(x);
    return this.head.call(x);
  }
}

type Builder = (options?: SwinTransformerOptions) => SwinTransformer;

function swin(embedDim: number, depths: readonly number[], numHeads: readonly number[], windowSize: Pair, stochasticDepthProb: number, v2: boolean): Builder {
  const version = v2 ? { block: SwinTransformerBlockV2, downsampleLayer: PatchMergingV2 } : {};
  return (options = {}) => new SwinTransformer([4, 4], embedDim, depths, numHeads, windowSize, { stochasticDepthProb, ...version, ...options });
}

export const swin_t = swin(96, [2, 2, 6, 2], [3, 6, 12, 24], [7, 7], 0.2, false);
export const swin_s = swin(96, [2, 2, 18, 2], [3, 6, 12, 24], [7, 7], 0.3, false);
export const swin_b = swin(128, [2, 2, 18, 2], [4, 8, 16, 32], [7, 7], 0.5, false);
export const swin_v2_t = swin(96, [2, 2, 6, 2], [3, 6, 12, 24], [8, 8], 0.2, true);
export const swin_v2_s = swin(96, [2, 2, 18, 2], [3, 6, 12, 24], [8, 8], 0.3, true);
export const swin_v2_b = swin(128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 8], 0.5, true);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
/**
 * torchvision's DEFAULT weights for Swin and Swin v2 (bicubic resizing). Other input sizes
 * work: feature maps are padded to whole windows and to even sizes before patch merging.
 */
const weights = (cropSize: number, resizeSize: number): EntryInfo => ({ minSize: cropSize, preset: imagenetPreset(cropSize, resizeSize, "bicubic") });
const swinV1 = zooFamily("Swin", weights(224, 232));
const swinV2 = zooFamily("Swin v2", weights(256, 260));

registerModels(
  swinV1("swin_t", swin_t),
  swinV1("swin_s", swin_s, weights(224, 246)),
  swinV1("swin_b", swin_b, weights(224, 238)),
  swinV2("swin_v2_t", swin_v2_t),
  swinV2("swin_v2_s", swin_v2_s),
  swinV2("swin_v2_b", swin_v2_b, weights(256, 272)),
);
