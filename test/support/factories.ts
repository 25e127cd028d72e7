import { Conv2d, F, Module, MultiheadAttention, type Tensor } from "../../models/nn/index.js";
import { MaxVit } from "../../models/zoo/maxvit.js";
import { VisionTransformer } from "../../models/zoo/vit.js";
import { PatchMergingV2, SwinTransformer, SwinTransformerBlockV2, type SwinTransformerOptions } from "../../models/zoo/swin.js";
import { FeaturePyramidNetwork, LastLevelMaxPool } from "../../models/index.js";
import { resnet50, type ResNet } from "../../models/zoo/resnet.js";
import { createFeatureExtractor, type FeatureExtractor } from "../../compiler/api.js";
import type { Factories } from "./fixtures.js";

/** Fixture cases' models that are not zoo builds, for every test file that runs those cases (each family's, and webgpu's). */

/** The configurations test/fixtures/families/maxvit.py builds with torchvision's MaxVit constructor. */
export const MAXVIT_FACTORIES: Factories = {
  maxvit_tiny: () =>
    new MaxVit({ inputSize: [32, 32], stemChannels: 8, partitionSize: 2, blockChannels: [8, 16], blockLayers: [1, 2], headDim: 4, stochasticDepthProb: 0, numClasses: 5 }),
  maxvit_partition7: () =>
    new MaxVit({
      inputSize: [56, 56],
      stemChannels: 8,
      partitionSize: 7,
      blockChannels: [8, 16],
      blockLayers: [1, 1],
      headDim: 4,
      stochasticDepthProb: 0.1,
      squeezeRatio: 0.5,
      expansionRatio: 2,
      mlpRatio: 2,
      numClasses: 3,
    }),
};

/** The TypeScript twin of AttentionProbe in test/fixtures/families/vit.py. */
class AttentionProbe extends Module {
  proj = new Conv2d(3, 8, 1);
  seq_first = new MultiheadAttention(8, 2);
  per_head = new MultiheadAttention(8, 4, { batchFirst: true });

  forward(x: Tensor): Tensor[] {
    const tokens = F.transpose(this.proj.call(x).flatten(2), 1, 2);
    const seq = F.transpose(tokens, 0, 1);
    const [out, weights] = this.seq_first.call(seq, seq, seq);
    const [out2, heads] = this.per_head.call(tokens, tokens, tokens, { averageAttnWeights: false });
    return [out, weights!, out2, heads!];
  }
}

/** The TypeScript twin of ScaledDotProductProbe in test/fixtures/families/vit.py: attention from torch's functions, each step a node. */
class ScaledDotProductProbe extends Module {
  proj = new Conv2d(3, 24, 1);

  forward(x: Tensor): Tensor {
    const tokens = F.transpose(this.proj.call(x).flatten(2), 1, 2);
    const [q, k, v] = tokens.chunk(3, -1);
    const heads = (t: Tensor): Tensor => F.transpose(t.reshape(-1, 25, 2, 4), 1, 2);
    const [qh, kh, vh] = [heads(q), heads(k), heads(v)];
    const scores = F.matmul(qh.mul(0.5), F.transpose(kh, -2, -1));
    const weights = scores.softmax(-1);
    const out = F.matmul(weights, vh);
    return F.transpose(out, 1, 2).reshape(-1, 25, 8);
  }
}

/** Models the fixture scripts build with torchvision's VisionTransformer and SwinTransformer classes directly. */
const tinySwin = (options: SwinTransformerOptions = {}): SwinTransformer => new SwinTransformer([4, 4], 16, [2, 2, 2], [2, 2, 4], [4, 4], { numClasses: 10, ...options });
export const VIT_SWIN_FACTORIES: Factories = {
  attention_probe: () => new AttentionProbe(),
  sdpa_probe: () => new ScaledDotProductProbe(),
  vit_tiny: () => new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10 }),
  swin_tiny: () => tinySwin(),
  swin_small: () => new SwinTransformer([4, 4], 8, [2, 2], [2, 2], [4, 4], { numClasses: 10 }),
  swin_v2_tiny: () => tinySwin({ block: SwinTransformerBlockV2, downsampleLayer: PatchMergingV2 }),
};

/**
 * The example of torchvision's feature extraction page, line for line (the dry run reads shapes:
 * fxc models run only compiled, so the extractor infers them without weights). `backbone` and
 * `outChannels` are parameters, resnet50 and 256 by default, as in families/detection.py.
 */
export class Resnet50WithFPN extends Module {
  body: FeatureExtractor;
  fpn: FeaturePyramidNetwork;
  readonly outChannels: number;

  constructor(backbone: () => ResNet = resnet50, outChannels = 256) {
    super();
    // Get a resnet50 backbone
    const m = backbone();
    // Extract 4 main layers (note: MaskRCNN needs this particular name
    // mapping for return nodes)
    this.body = createFeatureExtractor(m, {
      returnNodes: Object.fromEntries([1, 2, 3, 4].map((k, v) => [`layer${k}`, String(v)])),
    });
    // Dry run to get number of channels for FPN
    const inp = [2, 3, 224, 224] as const;
    const out = this.body.dryRun(inp);
    const inChannelsList = Object.values(out).map((o) => o.shape[1]!);
    // Build FPN
    this.outChannels = outChannels;
    this.fpn = new FeaturePyramidNetwork(inChannelsList, this.outChannels, new LastLevelMaxPool());
  }

  forward(x: Tensor): Record<string, Tensor> {
    const features = this.body.call(x);
    return this.fpn.call(features);
  }
}
