import { test } from "node:test";
import assert from "node:assert/strict";
import { MAXVIT_FACTORIES as factories } from "../support/factories.js";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

const cases = fixtureCases((c) => c.id.startsWith("maxvit"));

test("the MaxViT fixtures are present", () => {
  assert.ok(cases.length >= 3, `found ${cases.length} MaxViT fixture cases`);
});

testFixtureCases(cases, factories);
