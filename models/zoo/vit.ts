import {
  batchNorm2d,
  Conv2d,
  Conv2dNormActivation,
  Dropout,
  F,
  GELU,
  LayerNorm,
  Linear,
  MLP,
  Module,
  MultiheadAttention,
  Parameter,
  relu,
  Sequential,
  Tanh,
  type Layer,
  type NormFactory,
  type Tensor,
} from "../nn/index.js";

import type { KeyRename } from "@fxc/runtime/internal/weights/rename";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.vision_transformer, module for module: same attribute names, same forward order. */


/** torchvision's default norm layer for ViT: `partial(nn.LayerNorm, eps=1e-6)`. */
const layerNorm1e6: NormFactory = (c) => new LayerNorm(c, 1e-6);

/** torchvision's `ConvStemConfig`: one Conv2dNormActivation of the convolutional stem. */
export interface ConvStemConfig {
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly normLayer?: (channels: number) => Layer;
  readonly activationLayer?: (inplace: boolean | undefined) => Layer;
}

/** torchvision's MLPBlock: MLP(in_dim, [mlp_dim, in_dim]) with GELU; a torchvision.ops leaf. */
export class MLPBlock extends MLP {
  constructor(inDim: number, mlpDim: number, dropout: number) {
    super(inDim, [mlpDim, inDim], { activationLayer: () => new GELU(), inplace: null, dropout });
  }

  /**
   * torchvision's published ViT checkpoints predate MLP: their MLP layers are `linear_1` and
   * `linear_2`, which MLPBlock's `_load_from_state_dict` renames to `0` and `3`; so does fxc's loader.
   */
  override legacyKeyRenames(): readonly KeyRename[] {
    return [
      { pattern: String.raw`^linear_1\.(weight|bias)$`, replacement: "0.$1" },
      { pattern: String.raw`^linear_2\.(weight|bias)$`, replacement: "3.$1" },
    ];
  }
}

/** `torch._assert(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")`. */
function assertTokens(input: Tensor): void {
  const isTokens = F.eq(input.dim(), 3);
  F._assert(isTokens, `Expected (batch_size, seq_length, hidden_dim) got ${String(input.shape)}`);
}

export class EncoderBlock extends Module {
  ln_1: Layer;
  self_attention: MultiheadAttention;
  dropout: Dropout;
  ln_2: Layer;
  mlp: MLPBlock;

  constructor(
    readonly numHeads: number,
    hiddenDim: number,
    mlpDim: number,
    dropout: number,
    attentionDropout: number,
    normLayer: NormFactory = layerNorm1e6,
  ) {
    super();
    this.ln_1 = normLayer(hiddenDim);
    this.self_attention = new MultiheadAttention(hiddenDim, numHeads, { dropout: attentionDropout, batchFirst: true });
    this.dropout = new Dropout(dropout);
    this.ln_2 = normLayer(hiddenDim);
    this.mlp = new MLPBlock(hiddenDim, mlpDim, dropout);
  }

  forward(input: Tensor): Tensor {
    assertTokens(input);
    let x = this.ln_1.call(input);
    const [attended, _weights] = this.self_attention.call(x, x, x, { needWeights: false });
    x = this.dropout.call(attended);
    x = F.add(x, input);
    let y = this.ln_2.call(x);
    y = this.mlp.call(y);
    return F.add(x, y);
  }
}

export class Encoder extends Module {
  pos_embedding: Parameter;
  dropout: Dropout;
  layers: Sequential;
  ln: Layer;

  constructor(seqLength: number, numLayers: number, numHeads: number, hiddenDim: number, mlpDim: number, dropout: number, attentionDropout: number, normLayer: NormFactory = layerNorm1e6) {
    super();
    this.pos_embedding = new Parameter([1, seqLength, hiddenDim]);
    this.dropout = new Dropout(dropout);
    const layers: Record<string, Module> = {};
    for (let i = 0; i < numLayers; i++) layers[`encoder_layer_${i}`] = new EncoderBlock(numHeads, hiddenDim, mlpDim, dropout, attentionDropout, normLayer);
    this.layers = new Sequential(layers);
    this.ln = normLayer(hiddenDim);
  }

  forward(input: Tensor): Tensor {
    assertTokens(input);
    input = F.add(input, this.pos_embedding);
    return this.ln.call(this.layers.call(this.dropout.call(input)));
  }
}

export interface VisionTransformerOptions {
  dropout?: number;
  attentionDropout?: number;
  numClasses?: number;
  representationSize?: number | null;
  normLayer?: NormFactory;
  convStemConfigs?: readonly ConvStemConfig[] | null;
}

/** Vision Transformer (https://arxiv.org/abs/2010.11929); takes exactly `imageSize`² inputs. */
export class VisionTransformer extends Module {
  conv_proj: Layer;
  class_token: Parameter;
  encoder: Encoder;
  heads: Sequential;
  readonly seqLength: number;

  constructor(
    readonly imageSize: number,
    readonly patchSize: number,
    numLayers: number,
    numHeads: number,
    readonly hiddenDim: number,
    mlpDim: number,
    options: VisionTransformerOptions = {},
  ) {
    super();
    const { dropout = 0, attentionDropout = 0, numClasses = 1000, representationSize = null, normLayer = layerNorm1e6, convStemConfigs = null } = options;
    if (imageSize % patchSize !== 0) throw new Error("Input shape indivisible by patch size!");
    if (convStemConfigs !== null) {
      // As per https://arxiv.org/abs/2106.14881
      const stem = new Sequential();
      let previous = 3;
      convStemConfigs.forEach((config, i) => {
        stem.addModule(
          `conv_bn_relu_${i}`,
          new Conv2dNormActivation(previous, config.outChannels, {
            kernelSize: config.kernelSize,
            stride: config.stride,
            normLayer: config.normLayer ?? batchNorm2d,
            activationLayer: config.activationLayer ?? relu,
          }),
        );
        previous = config.outChannels;
      });
      stem.addModule("conv_last", new Conv2d(previous, hiddenDim, 1));
      this.conv_proj = stem;
    } else {
      this.conv_proj = new Conv2d(3, hiddenDim, patchSize, { stride: patchSize });
    }
    // The patches, plus the class token.
    this.seqLength = (imageSize / patchSize) ** 2 + 1;
    this.class_token = new Parameter([1, 1, hiddenDim]);
    this.encoder = new Encoder(this.seqLength, numLayers, numHeads, hiddenDim, mlpDim, dropout, attentionDropout, normLayer);
    const heads: Record<string, Module> =
      representationSize === null
        ? { head: new Linear(hiddenDim, numClasses) }
        : { pre_logits: new Linear(hiddenDim, representationSize), act: new Tanh(), head: new Linear(representationSize, numClasses) };
    this.heads = new Sequential(heads);
  }

  private processInput(x: Tensor): Tensor {
    const [n, _channels, h, w] = x.shape;
    const p = this.patchSize;
    F._assert(F.eq(h, this.imageSize), `Wrong image height! Expected ${this.imageSize} but got ${String(h)}!`);
    F._assert(F.eq(w, this.imageSize), `Wrong image width! Expected ${this.imageSize} but got ${String(w)}!`);
    const nH = F.floordiv(h, p);
    const nW = F.floordiv(w, p);
    // (n, c, h, w) -> (n, hidden_dim, n_h, n_w) -> (n, hidden_dim, n_h * n_w) -> (n, n_h * n_w, hidden_dim)
    x = this.conv_proj.call(x);
    x = x.reshape(n, this.hiddenDim, F.mul(nH, nW));
    return x.permute(0, 2, 1);
  }

  forward(x: Tensor): Tensor {
    x = this.processInput(x);
    const n = F.getitem(x.shape, 0);
    // The class token, expanded to the batch, goes first.
    const batchClassToken = F.expand(this.class_token, n, -1, -1);
    x = F.cat([batchClassToken, x], 1);
    x = this.encoder.call(x);
    x = F.getitem(x, [F.slice(), 0]);
    return this.heads.call(x);
  }
}

type Builder = (options?: VisionTransformerOptions & { imageSize?: number }) => VisionTransformer;

/** torchvision's `_vision_transformer`: `image_size` defaults to 224. */
function vit(patchSize: number, numLayers: number, numHeads: number, hiddenDim: number, mlpDim: number): Builder {
  return ({ imageSize = 224, ...options } = {}) => new VisionTransformer(imageSize, patchSize, numLayers, numHeads, hiddenDim, mlpDim, options);
}

export const vit_b_16 = vit(16, 12, 12, 768, 3072);
export const vit_b_32 = vit(32, 12, 12, 768, 3072);
export const vit_l_16 = vit(16, 24, 16, 1024, 4096);
export const vit_l_32 = vit(32, 24, 16, 1024, 4096);
export const vit_h_14 = vit(14, 32, 16, 1280, 5120);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
type Options = VisionTransformerOptions & { imageSize?: number };

/**
 * torchvision's DEFAULT weights for the ViT family. Position embeddings fix the input size
 * (`fixedSize`). vit_h_14's DEFAULT weights (SWAG, end to end) are for 518×518, so its entry
 * builds `imageSize: 518`, as torchvision's builder does when given those weights.
 */
const entry = zooFamily("ViT", { minSize: 224, fixedSize: true, preset: imagenetPreset(224, 256) });
/** The builder with `imageSize` given unless the user gives another. */
const at =
  (imageSize: number, build: (o?: Options) => VisionTransformer) =>
  (o?: Options): VisionTransformer =>
    build({ imageSize, ...o });

registerModels(
  entry("vit_b_16", at(224, vit_b_16)),
  entry("vit_b_32", at(224, vit_b_32)),
  entry("vit_l_16", at(224, vit_l_16), { preset: imagenetPreset(224, 242) }),
  entry("vit_l_32", at(224, vit_l_32)),
  entry("vit_h_14", at(518, vit_h_14), { minSize: 518, preset: imagenetPreset(518, 518, "bicubic") }),
);
