import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

const cases = fixtureCases((c) => c.id.startsWith("shufflenet"));

test("the ShuffleNetV2 fixtures are present", () => {
  assert.ok(cases.length >= 2, `found ${cases.length} ShuffleNetV2 fixture cases`);
});

testFixtureCases(cases);

// ShuffleNetV2's channel shuffle and chunk on the cpu backend too.
testFixtureCases(cases, {}, { only: ["shufflenet_v2_x0_5_seeded"], backend: "cpu" });
