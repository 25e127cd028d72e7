import { test } from "node:test";
import assert from "node:assert/strict";
import { Bottleneck, ResNet } from "../../models/zoo/resnet.js";
import { fixtureCases, testFixtureCases, type Factories } from "../support/fixtures.js";

/** Models the fixture script builds with torchvision's ResNet constructor directly. */
const factories: Factories = {
  resnet_dilated: () => new ResNet(Bottleneck, [1, 1, 1, 1], { replaceStrideWithDilation: [false, true, true] }),
};

const cases = fixtureCases((c) => /^(resnet|resnext|wide_resnet)/.test(c.id));

test("the ResNet fixtures are present", () => {
  assert.ok(cases.length >= 8, `found ${cases.length} ResNet fixture cases`);
});

testFixtureCases(cases, factories);

testFixtureCases(cases, factories, { only: ["resnet18_seeded"], backend: "cpu" });
