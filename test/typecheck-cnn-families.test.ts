import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile } from "../compiler/api.js";
import { ROOT } from "./support/cli.js";

/**
 * Generated modules of ShuffleNetV2, EfficientNet, RegNet and ConvNeXt typecheck under strict
 * settings, with each output typed by its rank: chunk halves and channel-shuffle views,
 * squeeze-excitation outputs, RegNet's hyphenated block names, ConvNeXt's layer scale
 * product and a channels-last-in-torch's-order layer_norm output.
 */
const modules: [name: string, model: string, returnNodes: Record<string, string>][] = [
  ["shuffle", "shufflenet_v2_x0_5", { "stage2.1.getitem_1": "half", "stage3.0.view_1": "shuffled", mean: "pooled" }],
  ["effnet", "efficientnet_b0", { "features.4.2.block.2": "excited", "classifier.1": "logits" }],
  ["regnety", "regnet_y_400mf", { "trunk_output.block2.block2-0.f.se": "excited", "trunk_output.block4": "last" }],
  ["cnx", "convnext_tiny", { "features.1.0.mul": "scaled", "features.2.0.layer_norm": "normed", "classifier.2": "logits" }],
];

test("generated ShuffleNetV2, EfficientNet, RegNet and ConvNeXt modules typecheck with rank-typed features", async () => {
  const dir = join(ROOT, ".cache", `typecheck-cnn-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    for (const [name, model, returnNodes] of modules) await writeFile(join(dir, `${name}.ts`), await compile(model, { returnNodes, size: 64, name }));
    await writeFile(
      join(dir, "consumer.ts"),
      `import type { Tensor2D, Tensor4D } from "fxc/runtime";
import type { ShuffleFeatures } from "./shuffle.js";
import type { EffnetFeatures } from "./effnet.js";
import type { RegnetyFeatures } from "./regnety.js";
import type { CnxFeatures } from "./cnx.js";

export function ranks(s: ShuffleFeatures, e: EffnetFeatures, r: RegnetyFeatures, c: CnxFeatures): number[] {
  const maps: Tensor4D[] = [s.half, s.shuffled, e.excited, r.excited, r.last, c.scaled, c.normed];
  const vectors: Tensor2D[] = [s.pooled, e.logits, c.logits];
  // @ts-expect-error a pooled ShuffleNet feature is 2-D
  const wrong: Tensor4D = s.pooled;
  // @ts-expect-error only the requested nodes are features
  r.fc;
  return [...maps, ...vectors, wrong].map((t) => t.rank);
}
`,
    );
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true, rootDir: "../.." }, include: ["*.ts"] }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
