import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureCases, runCase, testFixtureCases } from "./support/fixtures.js";

const cases = fixtureCases((c) => c.id.startsWith("shufflenet"));

test("the ShuffleNetV2 fixtures are present", () => {
  assert.ok(cases.length >= 2, `found ${cases.length} ShuffleNetV2 fixture cases`);
});

testFixtureCases(cases);

test("shufflenet_v2_x0_5_seeded equals torchvision on the cpu backend too: ShuffleNetV2 (channel shuffle, chunk)", async () => {
  const c = cases.find((x) => x.id === "shufflenet_v2_x0_5_seeded")!;
  const result = await runCase(c, { layout: "nhwc", backend: "cpu" });
  assert.equal(result.backend, "cpu");
  for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c.tolerance, `${key}: ${error}`);
});
