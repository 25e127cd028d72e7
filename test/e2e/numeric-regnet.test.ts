import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

const cases = fixtureCases((c) => c.id.startsWith("regnet"));

test("the RegNet fixtures are present", () => {
  assert.ok(cases.length >= 2, `found ${cases.length} RegNet fixture cases`);
});

testFixtureCases(cases);

// RegNet's per-group convolutions on the cpu backend too.
testFixtureCases(cases, {}, { only: ["regnet_x_400mf_seeded"], backend: "cpu" });
