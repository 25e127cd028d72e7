import { test } from "node:test";
import assert from "node:assert/strict";
import { Conv2d, F, Module, MultiheadAttention, type Tensor } from "../models/nn/index.js";
import { VisionTransformer } from "../models/zoo/vit.js";
import { PatchMergingV2, SwinTransformer, SwinTransformerBlockV2, type SwinTransformerOptions } from "../models/zoo/swin.js";
import { fixtureCases, testFixtureCases, type Factories } from "./support/fixtures.js";

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

/** Models the fixture scripts build with torchvision's VisionTransformer and SwinTransformer classes directly. */
const tinySwin = (options: SwinTransformerOptions = {}): SwinTransformer => new SwinTransformer([4, 4], 16, [2, 2, 2], [2, 2, 4], [4, 4], { numClasses: 10, ...options });
const factories: Factories = {
  attention_probe: () => new AttentionProbe(),
  vit_tiny: () => new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10 }),
  swin_tiny: () => tinySwin(),
  swin_small: () => new SwinTransformer([4, 4], 8, [2, 2], [2, 2], [4, 4], { numClasses: 10 }),
  swin_v2_tiny: () => tinySwin({ block: SwinTransformerBlockV2, downsampleLayer: PatchMergingV2 }),
};

const cases = fixtureCases((c) => /^(vit|swin)/.test(c.id));

test("the ViT and Swin fixtures are present", () => {
  assert.ok(cases.length >= 8, `found ${cases.length} ViT/Swin fixture cases`);
});

testFixtureCases(cases, factories);

testFixtureCases(cases, factories, { only: ["vit_tiny_pth", "swin_tiny_seeded", "swin_v2_tiny_seeded"], backend: "cpu" });
