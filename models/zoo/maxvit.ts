import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Buffer,
  Conv2d,
  Conv2dNormActivation,
  Dropout,
  Flatten,
  GELU,
  Identity,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  Parameter,
  Sequential,
  SiLU,
  SqueezeExcitation,
  StochasticDepth,
  Tanh,
  F,
  type ActivationFactory,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";
import { ShapeError } from "../nn/shape.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/**
 * torchvision.models.maxvit, module for module: same attribute names, same forward order.
 *
 * Windows and grids are 4-D tensors [B, G, P*P, C] that are not images: they are marked
 * `F.torchOrder` where a reshape makes them, so they stay (and are returned) in torch's order.
 */

type Size = readonly [number, number];

/** torchvision's `_get_conv_output_shape`: a k×k convolution's output size. */
export function convOutputShape(inputSize: Size, kernelSize: number, stride: number, padding: number): [number, number] {
  const side = (s: number): number => Math.floor((s - kernelSize + 2 * padding) / stride) + 1;
  return [side(inputSize[0]), side(inputSize[1])];
}

/** torchvision's `_make_block_input_shapes`: the stem halves the input, then each block halves again. */
export function blockInputShapes(inputSize: Size, nBlocks: number): [number, number][] {
  const shapes: [number, number][] = [];
  let shape = convOutputShape(inputSize, 3, 2, 1);
  for (let i = 0; i < nBlocks; i++) {
    shape = convOutputShape(shape, 3, 2, 1);
    shapes.push(shape);
  }
  return shapes;
}

/** The input sides (up to `limit`) whose block inputs are all divisible by the partition size. */
export function acceptedInputSides(partitionSize: number, nBlocks: number, limit = 1024): number[] {
  const sides: number[] = [];
  for (let s = 1; s <= limit; s++) {
    if (blockInputShapes([s, s], nBlocks).every(([h]) => h > 0 && h % partitionSize === 0)) sides.push(s);
  }
  return sides;
}

/** torchvision's `_get_relative_position_index`: for window positions i, j, the row of their offset in the bias table. */
export function relativePositionIndex(height: number, width: number): Float32Array {
  const n = height * width;
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dy = Math.floor(i / width) - Math.floor(j / width) + height - 1;
      const dx = (i % width) - (j % width) + width - 1;
      out[i * n + j] = dy * (2 * width - 1) + dx;
    }
  }
  return out;
}

/** MBConv: mobile inverted residual bottleneck with squeeze-excitation, pre-normalized. */
export class MBConv extends Module {
  proj: Layer;
  stochastic_depth: Layer;
  layers: Sequential;

  constructor(
    inChannels: number,
    outChannels: number,
    expansionRatio: number,
    squeezeRatio: number,
    stride: number,
    activationLayer: ActivationFactory,
    normLayer: NormFactory,
    pStochasticDropout = 0,
  ) {
    super();
    const shouldProj = stride !== 1 || inChannels !== outChannels;
    if (shouldProj) {
      const proj: Module[] = [new Conv2d(inChannels, outChannels, 1, { stride: 1, bias: true })];
      if (stride === 2) proj.unshift(new AvgPool2d(3, { stride, padding: 1 }));
      this.proj = new Sequential(...proj) as Layer;
    } else {
      this.proj = new Identity();
    }
    const midChannels = Math.trunc(outChannels * expansionRatio);
    const sqzChannels = Math.trunc(outChannels * squeezeRatio);
    this.stochastic_depth = pStochasticDropout ? new StochasticDepth(pStochasticDropout, "row") : new Identity();
    this.layers = new Sequential({
      pre_norm: normLayer(inChannels),
      conv_a: new Conv2dNormActivation(inChannels, midChannels, { kernelSize: 1, stride: 1, padding: 0, activationLayer, normLayer, inplace: null }),
      conv_b: new Conv2dNormActivation(midChannels, midChannels, { kernelSize: 3, stride, padding: 1, activationLayer, normLayer, groups: midChannels, inplace: null }),
      squeeze_excitation: new SqueezeExcitation(midChannels, sqzChannels, () => new SiLU()),
      conv_c: new Conv2d(midChannels, outChannels, 1, { bias: true }),
    });
  }

  forward(x: Tensor): Tensor {
    const res = this.proj.call(x);
    x = this.stochastic_depth.call(this.layers.call(x));
    return F.add(res, x);
  }
}

/** Multi-head self-attention within each window, with a learned bias per relative position. */
export class RelativePositionalMultiHeadAttention extends Module {
  readonly n_heads: number;
  readonly head_dim: number;
  readonly size: number;
  readonly max_seq_len: number;
  readonly scale_factor: number;
  to_qkv: Linear;
  merge: Linear;
  relative_position_bias_table: Parameter;
  relative_position_index: Buffer;

  constructor(featDim: number, headDim: number, maxSeqLen: number) {
    super();
    if (featDim % headDim !== 0) throw new Error(`feat_dim: ${featDim} must be divisible by head_dim: ${headDim}`);
    this.n_heads = Math.floor(featDim / headDim);
    this.head_dim = headDim;
    this.size = Math.trunc(Math.sqrt(maxSeqLen));
    this.max_seq_len = maxSeqLen;
    this.to_qkv = new Linear(featDim, this.n_heads * this.head_dim * 3);
    // torchvision scales by the feature dim, not the head dim; kept as it is.
    this.scale_factor = featDim ** -0.5;
    this.merge = new Linear(this.head_dim * this.n_heads, featDim);
    this.relative_position_bias_table = new Parameter([(2 * this.size - 1) * (2 * this.size - 1), this.n_heads]);
    const size = this.size;
    this.relative_position_index = new Buffer([size * size, size * size], { dtype: "int64", values: () => relativePositionIndex(size, size) });
  }

  getRelativePositionalBias(): Tensor {
    // torch.fx computes the flattened index eagerly: a constant, no node.
    const biasIndex = this.relative_position_index.view(-1);
    let relativeBias = F.getitem(this.relative_position_bias_table, biasIndex).view(this.max_seq_len, this.max_seq_len, -1);
    relativeBias = relativeBias.permute(2, 0, 1).contiguous();
    return F.torchOrder(relativeBias.unsqueeze(0));
  }

  /** [B, G, P, D] in, [B, G, P, D] out. */
  forward(x: Tensor): Tensor {
    const [B, G, P, D] = x.shape;
    const [H, DH] = [this.n_heads, this.head_dim];
    const qkv = this.to_qkv.call(x);
    let [q, k, v] = qkv.chunk(3, -1);
    q = q.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4);
    k = k.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4);
    v = v.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4);
    k = F.mul(k, this.scale_factor);
    let dotProd = F.einsum("B G H I D, B G H J D -> B G H I J", q, k);
    const posBias = this.getRelativePositionalBias();
    dotProd = F.softmax(F.add(dotProd, posBias), -1);
    let out = F.einsum("B G H I J, B G H J D -> B G H I D", dotProd, v);
    out = F.torchOrder(out.permute(0, 1, 3, 2, 4).reshape(B, G, P, D));
    return this.merge.call(out);
  }
}

/** torch.swapaxes as a module. */
export class SwapAxes extends Module {
  constructor(
    readonly a: number,
    readonly b: number,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.swapaxes(x, this.a, this.b);
  }
}

/** [B, C, H, W] to non-overlapping P×P windows [B, H/P * W/P, P*P, C]. */
export class WindowPartition extends Module {
  forward(x: Tensor, p: number): Tensor {
    const [B, C, H, W] = x.shape;
    const P = p;
    x = x.reshape(B, C, F.floordiv(H, P), P, F.floordiv(W, P), P);
    x = x.permute(0, 2, 4, 3, 5, 1);
    x = x.reshape(B, F.mul(F.floordiv(H, P), F.floordiv(W, P)), P * P, C);
    return F.torchOrder(x);
  }
}

/** Windows [B, HP * WP, P*P, C] back to [B, C, HP * P, WP * P]. */
export class WindowDepartition extends Module {
  forward(x: Tensor, p: number, hPartitions: number, wPartitions: number): Tensor {
    const [B, , , C] = x.shape;
    const P = p;
    const [HP, WP] = [hPartitions, wPartitions];
    x = x.reshape(B, HP, WP, P, P, C);
    x = x.permute(0, 5, 1, 3, 2, 4);
    return x.reshape(B, C, HP * P, WP * P);
  }
}

/** Attention within windows ("window") or across a strided grid ("grid"), then an MLP, both residual. */
export class PartitionAttentionLayer extends Module {
  readonly n_heads: number;
  readonly head_dim: number;
  readonly n_partitions: number;
  readonly p: number;
  readonly g: number;
  partition_op = new WindowPartition();
  departition_op = new WindowDepartition();
  partition_swap: Layer;
  departition_swap: Layer;
  attn_layer: Sequential;
  mlp_layer: Sequential;
  stochastic_dropout: StochasticDepth;

  constructor(
    inChannels: number,
    headDim: number,
    partitionSize: number,
    readonly partitionType: "grid" | "window",
    readonly gridSize: Size,
    mlpRatio: number,
    activationLayer: ActivationFactory,
    normLayer: NormFactory,
    attentionDropout: number,
    mlpDropout: number,
    pStochasticDropout: number,
  ) {
    super();
    this.n_heads = Math.floor(inChannels / headDim);
    this.head_dim = headDim;
    this.n_partitions = Math.floor(gridSize[0] / partitionSize);
    if (partitionType !== "grid" && partitionType !== "window") throw new Error("partition_type must be either 'grid' or 'window'");
    [this.p, this.g] = partitionType === "window" ? [partitionSize, this.n_partitions] : [this.n_partitions, partitionSize];
    this.partition_swap = partitionType === "grid" ? new SwapAxes(-2, -3) : new Identity();
    this.departition_swap = partitionType === "grid" ? new SwapAxes(-2, -3) : new Identity();
    // Always partition_size ** 2 positions: grids are swapped into windows' place.
    this.attn_layer = new Sequential(normLayer(inChannels), new RelativePositionalMultiHeadAttention(inChannels, headDim, partitionSize ** 2), new Dropout(attentionDropout));
    this.mlp_layer = new Sequential(
      new LayerNorm(inChannels),
      new Linear(inChannels, inChannels * mlpRatio),
      activationLayer(undefined),
      new Linear(inChannels * mlpRatio, inChannels),
      new Dropout(mlpDropout),
    );
    this.stochastic_dropout = new StochasticDepth(pStochasticDropout, "row");
  }

  forward(x: Tensor): Tensor {
    const [gh, gw] = [Math.floor(this.gridSize[0] / this.p), Math.floor(this.gridSize[1] / this.p)];
    F._assert(
      this.gridSize[0] % this.p === 0 && this.gridSize[1] % this.p === 0,
      `Grid size must be divisible by partition size. Got grid size of (${this.gridSize.join(", ")}) and partition size of ${this.p}`,
    );
    x = this.partition_op.call(x, this.p);
    x = this.partition_swap.call(x);
    x = F.add(x, this.stochastic_dropout.call(this.attn_layer.call(x)));
    x = F.add(x, this.stochastic_dropout.call(this.mlp_layer.call(x)));
    x = this.departition_swap.call(x);
    return this.departition_op.call(x, this.p, gh, gw);
  }
}

interface LayerArgs {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly squeezeRatio: number;
  readonly expansionRatio: number;
  readonly normLayer: NormFactory;
  readonly activationLayer: ActivationFactory;
  readonly headDim: number;
  readonly mlpRatio: number;
  readonly mlpDropout: number;
  readonly attentionDropout: number;
  readonly partitionSize: number;
}

/** MBConv, then window attention, then grid attention. */
export class MaxVitLayer extends Module {
  layers: Sequential;

  constructor(a: LayerArgs & { readonly stride: number; readonly pStochasticDropout: number; readonly gridSize: Size }) {
    super();
    const attention = (type: "window" | "grid"): PartitionAttentionLayer =>
      new PartitionAttentionLayer(
        a.outChannels,
        a.headDim,
        a.partitionSize,
        type,
        a.gridSize,
        a.mlpRatio,
        a.activationLayer,
        (c) => new LayerNorm(c),
        a.attentionDropout,
        a.mlpDropout,
        a.pStochasticDropout,
      );
    this.layers = new Sequential({
      MBconv: new MBConv(a.inChannels, a.outChannels, a.expansionRatio, a.squeezeRatio, a.stride, a.activationLayer, a.normLayer, a.pStochasticDropout),
      window_attention: attention("window"),
      grid_attention: attention("grid"),
    });
  }

  forward(x: Tensor): Tensor {
    return this.layers.call(x);
  }
}

/** `n_layers` MaxViT layers, the first with stride 2. */
export class MaxVitBlock extends Module {
  layers: ModuleList<MaxVitLayer>;
  readonly gridSize: [number, number];

  constructor(a: LayerArgs & { readonly inputGridSize: Size; readonly nLayers: number; readonly pStochastic: readonly number[] }) {
    super();
    if (a.pStochastic.length !== a.nLayers) throw new Error(`p_stochastic must have length n_layers=${a.nLayers}, got p_stochastic=[${a.pStochastic.join(", ")}].`);
    // The first layer's stride.
    this.gridSize = convOutputShape(a.inputGridSize, 3, 2, 1);
    this.layers = new ModuleList(
      a.pStochastic.map((p, idx) => new MaxVitLayer({ ...a, inChannels: idx === 0 ? a.inChannels : a.outChannels, stride: idx === 0 ? 2 : 1, gridSize: this.gridSize, pStochasticDropout: p })),
    );
  }

  forward(x: Tensor): Tensor {
    for (const layer of this.layers.items) x = layer.call(x);
    return x;
  }
}

/** torchvision's MaxVit arguments, camelCased. */
export interface MaxVitOptions {
  readonly inputSize: Size;
  readonly stemChannels: number;
  readonly partitionSize: number;
  readonly blockChannels: readonly number[];
  readonly blockLayers: readonly number[];
  readonly headDim: number;
  readonly stochasticDepthProb: number;
  /** Default: BatchNorm2d(eps=1e-3, momentum=0.99). */
  readonly normLayer?: NormFactory | null;
  /** Default: GELU. */
  readonly activationLayer?: ActivationFactory;
  readonly squeezeRatio?: number;
  readonly expansionRatio?: number;
  readonly mlpRatio?: number;
  readonly mlpDropout?: number;
  readonly attentionDropout?: number;
  readonly numClasses?: number;
}

/** numpy's linspace(start, stop, n).tolist(). */
function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? stop : start + i * step));
}

/** MaxViT: a convolutional stem, then blocks of MBConv + window and grid attention, then a head. */
export class MaxVit extends Module {
  stem: Sequential;
  readonly partition_size: number;
  blocks: ModuleList<MaxVitBlock>;
  classifier: Sequential;
  readonly inputSize: Size;

  constructor(o: MaxVitOptions) {
    super();
    const normLayer = o.normLayer ?? ((c: number) => new BatchNorm2d(c, 1e-3, 0.99));
    const activationLayer = o.activationLayer ?? (() => new GELU());
    this.inputSize = [o.inputSize[0], o.inputSize[1]];
    const blockInputSizes = blockInputShapes(o.inputSize, o.blockChannels.length);
    blockInputSizes.forEach(([h, w], idx) => {
      if (h % o.partitionSize !== 0 || w % o.partitionSize !== 0) {
        throw new Error(
          `Input size (${h}, ${w}) of block ${idx} is not divisible by partition size ${o.partitionSize}. ` +
            `Consider changing the partition size or the input size. ` +
            `Current configuration yields the following block input sizes: [${blockInputSizes.map(([a, b]) => `(${a}, ${b})`).join(", ")}].`,
        );
      }
    });
    this.stem = new Sequential(
      new Conv2dNormActivation(3, o.stemChannels, { kernelSize: 3, stride: 2, normLayer, activationLayer, bias: false, inplace: null }),
      new Conv2dNormActivation(o.stemChannels, o.stemChannels, { kernelSize: 3, stride: 1, normLayer: null, activationLayer: null, bias: true }),
    );
    let inputSize = convOutputShape(o.inputSize, 3, 2, 1);
    this.partition_size = o.partitionSize;
    const inChannels = [o.stemChannels, ...o.blockChannels.slice(0, -1)];
    const pStochastic = linspace(0, o.stochasticDepthProb, o.blockLayers.reduce((a, b) => a + b, 0));
    const blocks: MaxVitBlock[] = [];
    let pIdx = 0;
    o.blockChannels.forEach((outChannels, i) => {
      const nLayers = o.blockLayers[i]!;
      const block = new MaxVitBlock({
        inChannels: inChannels[i]!,
        outChannels,
        squeezeRatio: o.squeezeRatio ?? 0.25,
        expansionRatio: o.expansionRatio ?? 4,
        normLayer,
        activationLayer,
        headDim: o.headDim,
        mlpRatio: o.mlpRatio ?? 4,
        mlpDropout: o.mlpDropout ?? 0,
        attentionDropout: o.attentionDropout ?? 0,
        partitionSize: o.partitionSize,
        inputGridSize: inputSize,
        nLayers,
        pStochastic: pStochastic.slice(pIdx, pIdx + nLayers),
      });
      blocks.push(block);
      inputSize = block.gridSize;
      pIdx += nLayers;
    });
    this.blocks = new ModuleList(blocks);
    const last = o.blockChannels[o.blockChannels.length - 1]!;
    this.classifier = new Sequential(
      new AdaptiveAvgPool2d(1),
      new Flatten(),
      new LayerNorm(last),
      new Linear(last, last),
      new Tanh(),
      new Linear(last, o.numClasses ?? 1000, false),
    );
  }

  forward(x: Tensor): Tensor {
    this.checkInputSize(x);
    x = this.stem.call(x);
    for (const block of this.blocks.items) x = block.call(x);
    return this.classifier.call(x);
  }

  /**
   * The grids the attention layers were sized for are fixed at construction (`input_size`),
   * so only inputs that reach the same grid in the first block fit (the later grids follow
   * from it); torchvision fails later, in a reshape. Checked while tracing; records no node.
   */
  private checkInputSize(x: Tensor): void {
    const shape = x.staticShape;
    if (shape === undefined) return;
    const [, , h, w] = shape;
    const grid = blockInputShapes(this.inputSize, 1)[0]!;
    const fits = (side: unknown, i: 0 | 1): boolean => typeof side === "number" && blockInputShapes([side, side], 1)[0]![0] === grid[i];
    if (fits(h, 0) && fits(w, 1)) return;
    // Four sides reach each first-block grid g (two stride-2 convolutions): 4g - 3 to 4g.
    const sides = (i: 0 | 1): string => `${4 * grid[i] - 3} to ${4 * grid[i]}`;
    const others = ranges(acceptedInputSides(this.partition_size, this.blocks.items.length, 16 * grid[0])).slice(0, 4);
    throw new ShapeError(
      `MaxVit built for input_size (${this.inputSize.join(", ")}) takes inputs of height ${sides(0)} and width ${sides(1)}, got ${String(h)}x${String(w)}: ` +
        `its attention grids are sized at construction. For another size build the model for it (option inputSize, torchvision's input_size), ` +
        `which needs every block input (each side halved by the stem and again by each block, rounding up) divisible by partition_size ${this.partition_size}: ${others.join(", ")}...`,
    );
  }
}

/** Runs of consecutive numbers, as `221-224`. */
function ranges(values: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    out.push(i === j ? String(values[i]) : `${values[i]}-${values[j]}`);
    i = j + 1;
  }
  return out;
}

/** torchvision's maxvit_t keyword arguments: any MaxVit option; inputSize defaults to 224. */
export type MaxVitTOptions = Partial<Omit<MaxVitOptions, "stemChannels" | "blockChannels" | "blockLayers" | "headDim" | "stochasticDepthProb" | "partitionSize">>;

export function maxvit_t(o: MaxVitTOptions = {}): MaxVit {
  return new MaxVit({
    ...o,
    inputSize: o.inputSize ?? [224, 224],
    stemChannels: 64,
    blockChannels: [64, 128, 256, 512],
    blockLayers: [2, 2, 5, 2],
    headDim: 32,
    stochasticDepthProb: 0.2,
    partitionSize: 7,
  });
}

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
/**
 * torchvision's DEFAULT weights for MaxViT (IMAGENET1K_V1: 224 crop of a 224 resize, bicubic).
 * The attention grids are sized when the model is built, so it takes one input size (221 to
 * 224 per side for the default input_size); other sizes need `inputSize` at build time.
 */
const entry = zooFamily("MaxViT", { minSize: 224, fixedSize: true, preset: imagenetPreset(224, 224, "bicubic") });

registerModels(entry("maxvit_t", maxvit_t));
