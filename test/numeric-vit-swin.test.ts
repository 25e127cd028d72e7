import { test } from "node:test";
import assert from "node:assert/strict";
import { VisionTransformer } from "../models/zoo/vit.js";
import { PatchMergingV2, SwinTransformer, SwinTransformerBlockV2, type SwinTransformerOptions } from "../models/zoo/swin.js";
import { fixtureCases, runCase, type Factories } from "./support/fixtures.js";

/** Models the fixture scripts build with torchvision's VisionTransformer and SwinTransformer classes directly. */
const tinySwin = (options: SwinTransformerOptions = {}): SwinTransformer => new SwinTransformer([4, 4], 16, [2, 2, 2], [2, 2, 4], [4, 4], { numClasses: 10, ...options });
const factories: Factories = {
  vit_tiny: () => new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10 }),
  swin_tiny: () => tinySwin(),
  swin_small: () => new SwinTransformer([4, 4], 8, [2, 2], [2, 2], [4, 4], { numClasses: 10 }),
  swin_v2_tiny: () => tinySwin({ block: SwinTransformerBlockV2, downsampleLayer: PatchMergingV2 }),
};

const cases = fixtureCases((c) => /^(vit|swin)/.test(c.id));

test("the ViT and Swin fixtures are present", () => {
  assert.ok(cases.length >= 8, `found ${cases.length} ViT/Swin fixture cases`);
});

for (const c of cases) {
  for (const layout of c.layouts) {
    test(`${c.id} [${layout}] equals torchvision (${c.note})`, async () => {
      const result = await runCase(c, { layout, factories });
      assert.deepEqual(result.shapes, c.outputs, "output shapes in torch's order");
      for (const [key, error] of Object.entries(result.errors)) {
        assert.ok(error <= c.tolerance, `${key}: relative error ${error.toExponential(2)} > ${c.tolerance}`);
      }
    });
  }
}
