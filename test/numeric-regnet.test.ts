import { test } from "node:test";
import assert from "node:assert/strict";
import { fixtureCases, runCase, testFixtureCases } from "./support/fixtures.js";

const cases = fixtureCases((c) => c.id.startsWith("regnet"));

test("the RegNet fixtures are present", () => {
  assert.ok(cases.length >= 2, `found ${cases.length} RegNet fixture cases`);
});

testFixtureCases(cases);

test("regnet_x_400mf_seeded equals torchvision on the cpu backend too: RegNet (per-group convolutions)", async () => {
  const c = cases.find((x) => x.id === "regnet_x_400mf_seeded")!;
  const result = await runCase(c, { layout: "nhwc", backend: "cpu" });
  assert.equal(result.backend, "cpu");
  for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c.tolerance, `${key}: ${error}`);
});
