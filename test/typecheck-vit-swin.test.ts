import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile } from "../compiler/api.js";
import { ROOT } from "./support/cli.js";

/**
 * Generated ViT and Swin modules typecheck, and their outputs have the types their ranks
 * give: ViT's tokens are Tensor3D, Swin's [B, H, W, C] maps and the permuted image-like map
 * Tensor4D, heads Tensor2D. A wrong type is an error (`@ts-expect-error` checks it is).
 */
test("generated ViT and Swin code typechecks with token, map and logit types", async () => {
  const dir = join(ROOT, ".cache", `typecheck-vit-swin-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, "vit.ts"), await compile("vit_b_16", { returnNodes: { encoder: "tokens", getitem_5: "cls", conv_proj: "patches" }, name: "vit" }));
    const swin = await compile("swin_t", { returnNodes: { "features.7": "last", permute: "grid", head: "logits" }, layout: "nchw", name: "swin" });
    await writeFile(join(dir, "swin.ts"), swin);
    // Swin's own maps stay [B, H, W, C] whatever the layout; the permuted map follows the layout.
    assert.match(swin, /\/\*\* `features\.7\.1\.add_1`: \[N, 7, 7, 768\]\. \*\//);
    assert.match(swin, /\/\*\* `permute`: \[N, 768, 7, 7\]\. \*\//);
    await writeFile(
      join(dir, "consumer.ts"),
      `import { tf, type Tensor2D, type Tensor3D, type Tensor4D } from "fxc/runtime";
import * as vit from "./vit.js";
import * as swin from "./swin.js";

export async function run(weights: string): Promise<number> {
  const v = await vit.load(weights);
  const f = v.forward(tf.zeros([1, ...vit.inputShape.slice(1)] as [number, number, number, number]));
  const tokens: Tensor3D = f.tokens;
  const cls: Tensor2D = f.cls;
  const patches: Tensor4D = f.patches;
  // @ts-expect-error tokens are 3-D
  const wrongTokens: Tensor4D = f.tokens;
  const s = await swin.load(weights);
  const g = s.forward(tf.zeros([1, ...swin.inputShape.slice(1)] as [number, number, number, number]));
  const last: Tensor4D = g.last;
  const grid: Tensor4D = g.grid;
  const logits: Tensor2D = g.logits;
  // @ts-expect-error features.1 was not requested
  g.stage1;
  const node: "encoder.ln" = vit.returnNodes.tokens;
  return tokens.rank + cls.rank + patches.rank + wrongTokens.rank + last.rank + grid.rank + logits.rank + node.length;
}
`,
    );
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true, rootDir: "../.." }, include: ["*.ts"] }));
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
