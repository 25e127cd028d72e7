import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile } from "../../compiler/api.js";
import { resolvePreprocessing } from "../../compiler/tasks/loader.js";
import * as resnet50 from "../../generated/resnet50.js";
import { ROOT } from "../support/cli.js";
import { RESNET18_WEIGHTS } from "../support/fixtures.js";

test("a generated module exports its weights' preprocessing, the preset fxc extract uses for images", async () => {
  assert.deepEqual(resnet50.preprocessing, resolvePreprocessing("resnet50"));
  const vit = await compile("vit_b_16", { returnNodes: ["encoder"], layout: "nchw" });
  assert.match(vit, /export const preprocessing = \{\s*cropSize: 224,\s*resizeSize: 256,[^}]*interpolation: "bilinear",?\s*\} as const satisfies Preset;/);
  assert.match(vit, /preprocess\(image, preprocessing, \{ layout: "nchw" \}\)/, "the doc passes the module's layout");
  // A module that takes any size runs the weights' crop too; one kept at its size says to make images that size.
  assert.doesNotMatch(await compile("resnet18", { returnNodes: ["layer1"], size: 64 }), /This module was compiled for/);
  const small = await compile("resnet18", { returnNodes: ["layer1"], size: 64, fixedSize: true });
  assert.match(small, /This module was compiled for 64x64, not the weights' 224x224 crop/);
});

test("a tensor made before load() works: the runtime has a backend from its import on, and load() moves to the best one", async () => {
  // A process of its own: no other test has set a backend up.
  const dir = join(ROOT, ".cache", `exports-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, "r18.ts"), await compile("resnet18", { returnNodes: { conv1: "stem" }, size: 32 }));
    await writeFile(
      join(dir, "main.ts"),
      `import { tf } from "@fxc/runtime";
import { load } from "./r18.js";
const x = tf.zeros([2, 32, 32, 3]) as import("@fxc/runtime").Tensor4D;
const before = tf.getBackend();
for (const engine of ["tfjs", "onnxruntime"] as const) {
  const extractor = await load(${JSON.stringify(RESNET18_WEIGHTS)}, { engine });
  const { stem } = await extractor.run(x);
  console.log(before, extractor.engine, extractor.backend, stem.shape.join("x"));
  stem.dispose();
  extractor.dispose();
}
`,
    );
    const r = spawnSync(process.execPath, ["--conditions=fxc-source", "--import", "tsx", join(dir, "main.ts")], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "no banner, no warning");
    const lines = r.stdout.trim().split("\n").map((line) => line.split(" "));
    assert.deepEqual(lines.map(([before, engine, , shape]) => [before, engine, shape]), [
      ["cpu", "tfjs", "2x16x16x64"],
      ["cpu", "onnxruntime", "2x16x16x64"],
    ]);
    assert.notEqual(lines[0]![2], "cpu", "load() picked a better backend than the one the tensor was made on");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
