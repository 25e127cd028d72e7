import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchNorm2d } from "../../models/nn/index.js";
import { EfficientNet, FusedMBConvConfig, MBConvConfig } from "../../models/zoo/efficientnet.js";
import { fixtureCases, testFixtureCases, type Factories } from "../support/fixtures.js";

/** Models the fixture script builds with torchvision's EfficientNet constructor directly (test/fixtures/families/efficientnet.py). */
const factories: Factories = {
  efficientnet_v2_tiny: () =>
    new EfficientNet(
      [new FusedMBConvConfig(1, 3, 1, 16, 16, 2), new FusedMBConvConfig(4, 3, 2, 16, 24, 2), new MBConvConfig(4, 3, 2, 24, 32, 2), new MBConvConfig(6, 3, 1, 32, 40, 2)],
      0.2,
      { lastChannel: 128, numClasses: 10, normLayer: (c) => new BatchNorm2d(c, 1e-3) },
    ),
};

const cases = fixtureCases((c) => c.id.startsWith("efficientnet"));

test("the EfficientNet fixtures are present", () => {
  assert.ok(cases.length >= 3, `found ${cases.length} EfficientNet fixture cases`);
});

testFixtureCases(cases, factories);
