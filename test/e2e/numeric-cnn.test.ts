import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

/**
 * AlexNet, VGG, SqueezeNet, DenseNet, GoogLeNet, Inception v3, MobileNet and MNASNet against
 * torchvision: full models on seeded weights and inputs (test/fixtures/families/<family>.py),
 * train-mode auxiliary heads, and a DenseNet checkpoint with torchvision's old key names.
 */
const FAMILIES = /^(alexnet|vgg|squeezenet|densenet|googlenet|inception|mobilenet|mnasnet)/;
const cases = fixtureCases((c) => FAMILIES.test(c.id));

test("every family has fixtures, and each family one in both layouts", () => {
  const families = ["alexnet", "vgg", "squeezenet", "densenet", "googlenet", "inception", "mobilenet", "mnasnet"];
  for (const family of families) {
    const own = cases.filter((c) => c.id.startsWith(family));
    assert.ok(own.length > 0, `${family} has fixture cases`);
    assert.ok(own.some((c) => c.layouts.includes("nchw") && c.layouts.includes("nhwc")), `${family} is checked in both layouts`);
  }
  assert.ok(cases.some((c) => c.mode === "train" && c.id.startsWith("googlenet")), "googlenet's train graph is checked");
  assert.ok(cases.some((c) => c.mode === "train" && c.id.startsWith("inception")), "inception_v3's train graph is checked");
});

testFixtureCases(cases);
