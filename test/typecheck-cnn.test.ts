import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile, type CompileOptions } from "../compiler/api.js";
import { importCompiled } from "../compiler/cli/cache.js";
import { openWeights, tf, type Extractor, type LoadOptions, type Tensor, type WeightsInput } from "../runtime/index.js";
import { ROOT } from "./support/cli.js";
import { FIXTURES, fixtureCases, relativeError } from "./support/fixtures.js";
import { seededInput } from "./support/seeded.js";

/** One generated module per family, with a return spec each; a consumer reads their typed features. */
const MODULES: Record<string, { model: string } & CompileOptions> = {
  alexnet: { model: "alexnet", returnNodes: { "features.12": "pool5", "classifier.6": "logits" }, layout: "nchw" },
  vgg16_bn: { model: "vgg16_bn", returnNodes: ["features"], size: 64 },
  squeezenet1_1: { model: "squeezenet1_1", returnNodes: { "features.12": "fire9" } },
  densenet121: { model: "densenet121", returnNodes: ["features.denseblock1.denselayer1.relu1"], size: 32 },
  googlenet: { model: "googlenet", returnNodes: { "aux1.fc2": "aux1", inception4e: "c4" }, mode: "train", size: 96 },
  inception_v3: { model: "inception_v3", returnNodes: { Mixed_7c: "c5" }, size: 75, suppressDiffWarning: true },
  mobilenet_v3_large: { model: "mobilenet_v3_large", returnNodes: { "features.16": "c5", "classifier.3": "logits" } },
  mnasnet1_0: { model: "mnasnet1_0", returnNodes: ["layers.16"] },
};

const CONSUMER = `import type { Tensor2D, Tensor4D } from "fxc/runtime";
import type { Features as AlexNet } from "./alexnet.js";
import type { Features as Vgg } from "./vgg16_bn.js";
import type { Features as Squeeze } from "./squeezenet1_1.js";
import type { Features as Dense } from "./densenet121.js";
import type { Features as GoogLeNetTrain } from "./googlenet.js";
import type { Features as Inception } from "./inception_v3.js";
import type { Features as MobileNet } from "./mobilenet_v3_large.js";
import type { Features as Mnas } from "./mnasnet1_0.js";

export function read(a: AlexNet, v: Vgg, s: Squeeze, d: Dense, g: GoogLeNetTrain, i: Inception, m: MobileNet, n: Mnas): number {
  const maps: Tensor4D[] = [a.pool5, v.features, s.fire9, d["features.denseblock1.denselayer1.relu1"], g.c4, i.c5, m.c5, n["layers.16"]];
  const vectors: Tensor2D[] = [a.logits, g.aux1, m.logits];
  // @ts-expect-error aux2 was not asked for
  g.aux2;
  // @ts-expect-error logits are 2-D
  const wrong: Tensor4D = a.logits;
  return maps.length + vectors.length + wrong.rank;
}
`;

test("generated modules of every new family typecheck, with their features typed", async () => {
  const dir = join(ROOT, ".cache", `typecheck-cnn-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    for (const [file, { model, ...options }] of Object.entries(MODULES)) {
      await writeFile(join(dir, `${file}.ts`), await compile(model, { ...options, name: file }));
    }
    await writeFile(join(dir, "consumer.ts"), CONSUMER);
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true, rootDir: "../.." }, include: ["*.ts"] }));
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

interface CompiledModule {
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>>>;
}

test("generated densenet code reads a checkpoint with torchvision's old key names and equals torchvision", async () => {
  const c = fixtureCases((x) => x.id === "densenet121_old_keys")[0]!;
  const source = await compile("densenet121", { returnNodes: c.returnNodes, size: 32, layout: "nchw", suppressDiffWarning: true });
  assert.match(source, /const keyRenames = \[/);
  assert.match(source, /createExtractor\(\{ checkpoint, parameters, keyRenames, forward \}/);
  const compiled = await importCompiled<CompiledModule>(source);
  const extractor = await compiled.load(join(FIXTURES, "cases", c.id, c.weights));
  const expected = await openWeights(join(FIXTURES, "cases", c.id, "expected.safetensors"));
  try {
    const x = tf.tensor4d(seededInput(c.input, c.inputSeed!), c.input as [number, number, number, number]);
    const out = extractor.forward(x);
    x.dispose();
    for (const [key, t] of Object.entries(out)) {
      const error = relativeError((await t.data()) as Float32Array, await expected.readFloat32(key));
      t.dispose();
      assert.ok(error <= c.tolerance, `${key}: relative error ${error}`);
    }
  } finally {
    extractor.dispose();
    await expected.close();
  }
});

test("models without key renames generate no keyRenames", async () => {
  const source = await compile("mobilenet_v2", { returnNodes: ["features.1"], size: 32, suppressDiffWarning: true });
  assert.doesNotMatch(source, /keyRenames/);
});
