import { test } from "node:test";
import assert from "node:assert/strict";
import { MaxVit } from "../models/zoo/maxvit.js";
import { fixtureCases, testFixtureCases, type Factories } from "./support/fixtures.js";

/** The configurations test/fixtures/families/maxvit.py builds with torchvision's MaxVit constructor. */
const factories: Factories = {
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

const cases = fixtureCases((c) => c.id.startsWith("maxvit"));

test("the MaxViT fixtures are present", () => {
  assert.ok(cases.length >= 3, `found ${cases.length} MaxViT fixture cases`);
});

testFixtureCases(cases, factories);
