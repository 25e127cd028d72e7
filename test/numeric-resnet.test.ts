import { test } from "node:test";
import assert from "node:assert/strict";
import { Bottleneck, ResNet } from "../models/zoo/resnet.js";
import { fixtureCases, runCase, type Factories } from "./support/fixtures.js";

/** Models the fixture script builds with torchvision's ResNet constructor directly. */
const factories: Factories = {
  resnet_dilated: () => new ResNet(Bottleneck, [1, 1, 1, 1], { replaceStrideWithDilation: [false, true, true] }),
};

const cases = fixtureCases((c) => /^(resnet|resnext|wide_resnet)/.test(c.id));

test("the ResNet fixtures are present", () => {
  assert.ok(cases.length >= 8, `found ${cases.length} ResNet fixture cases`);
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

test("resnet18 equals torchvision on the cpu backend too", async () => {
  const c = fixtureCases((x) => x.id === "resnet18_seeded")[0]!;
  const result = await runCase(c, { layout: "nhwc", backend: "cpu", factories });
  assert.equal(result.backend, "cpu");
  for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c.tolerance, `${key}: ${error}`);
});
