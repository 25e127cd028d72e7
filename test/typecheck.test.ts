import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile } from "../compiler/api.js";
import { ROOT } from "./support/cli.js";

/**
 * Generated modules typecheck under strict settings, and their Features type lists exactly
 * the requested keys: reading another key is a type error (`@ts-expect-error` would itself
 * be an error if it were not).
 */
test("generated code typechecks and its Features type has exactly the requested keys", async () => {
  // Inside the package, so that `fxc/runtime` resolves to this checkout as it would in a user's project.
  const dir = join(ROOT, ".cache", `typecheck-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, "r18.ts"), await compile("resnet18", { returnNodes: { layer1: "feat1", fc: "logits" }, layout: "nchw", name: "r18" }));
    await writeFile(
      join(dir, "consumer.ts"),
      `import { tf, type Tensor2D, type Tensor4D } from "fxc/runtime";
import { load, returnNodes, inputShape, type Features, type R18Features } from "./r18.js";

export async function run(weights: string): Promise<number> {
  const extractor = await load(weights, { backend: "wasm" });
  const x: Tensor4D = tf.zeros([1, ...inputShape.slice(1)] as [number, number, number, number]);
  const features: Features = extractor.forward(x);
  const same: R18Features = features;
  const map: Tensor4D = features.feat1;
  const logits: Tensor2D = same.logits;
  // @ts-expect-error layer2 was not requested
  features.layer2;
  // @ts-expect-error logits is 2-D
  const wrong: Tensor4D = features.logits;
  const node: "fc" = returnNodes.logits;
  extractor.dispose();
  return map.shape[1] + logits.shape[1] + wrong.rank + node.length;
}
`,
    );
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true, rootDir: "../.." }, include: ["*.ts", "../../generated/*.ts"] }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
