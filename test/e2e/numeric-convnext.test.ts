import { test } from "node:test";
import assert from "node:assert/strict";
import { CNBlockConfig, ConvNeXt } from "../../models/zoo/convnext.js";
import { fixtureCases, testFixtureCases, type Factories } from "../support/fixtures.js";

/** Models the fixture script builds with torchvision's ConvNeXt constructor directly (test/fixtures/families/convnext.py). */
const factories: Factories = {
  convnext_two_stage: () => new ConvNeXt([new CNBlockConfig(16, 32, 2), new CNBlockConfig(32, null, 2)], { stochasticDepthProb: 0.1, numClasses: 10 }),
};

const cases = fixtureCases((c) => c.id.startsWith("convnext"));

test("the ConvNeXt fixtures are present", () => {
  assert.ok(cases.length >= 2, `found ${cases.length} ConvNeXt fixture cases`);
});

testFixtureCases(cases, factories);
