import { test } from "node:test";
import assert from "node:assert/strict";
import { VIT_SWIN_FACTORIES as factories } from "../support/factories.js";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

const cases = fixtureCases((c) => /^(vit|swin)/.test(c.id));

test("the ViT and Swin fixtures are present", () => {
  assert.ok(cases.length >= 8, `found ${cases.length} ViT/Swin fixture cases`);
});

testFixtureCases(cases, factories);

testFixtureCases(cases, factories, { only: ["vit_tiny_pth", "swin_tiny_seeded", "swin_v2_tiny_seeded"], backend: "cpu" });
