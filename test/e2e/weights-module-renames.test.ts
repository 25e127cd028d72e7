import { test } from "node:test";
import assert from "node:assert/strict";
import { compile, createFeatureExtractor } from "../../compiler/api.js";
import { importCompiled } from "../../compiler/cli/cache.js";
import { Module, resnetFpnBackbone, type Tensor as ModelTensor } from "../../models/index.js";
import { vit_b_32 } from "../../models/zoo/vit.js";
import { maskrcnn_resnet50_fpn } from "../../models/detection/mask_rcnn.js";
import { memorySource, tf, WeightsError, type Tensor, type TensorSource } from "../../runtime/index.js";
import type { CompiledModule, Extractor } from "../../runtime/extractor.js";
import { keyView, renameUnderPath, withRenamedKeys } from "../../runtime/weights/rename.js";
import { ENGINES_UNDER_TEST } from "../support/fixtures.js";
import { seededInput, seededWeights } from "../support/seeded.js";

/**
 * Checkpoint renames owned by modules (Module.legacyKeyRenames), as torch's per-module
 * `_load_from_state_dict`: torchvision's published fasterrcnn_resnet50_fpn file names its FPN's
 * blocks as before 0.13 (`backbone.fpn.inner_blocks.0.weight`, now `...inner_blocks.0.0.weight`), and
 * a plain extractor over resnetFpnBackbone loads it with `prefix: "backbone."`.
 */

const SIZE = 64;
const FPN_WIDTH = 4;

function backbone(): ReturnType<typeof resnetFpnBackbone> {
  return resnetFpnBackbone({ backboneName: "resnet18", outChannels: FPN_WIDTH });
}

/** The FPN's key as torchvision before 0.13 wrote it (a bare Conv2d per block). */
const beforeFpnV2 = (key: string): string => key.replace(/^(fpn\.(?:inner|layer)_blocks\.\d+)\.0\.(weight|bias)$/, "$1.$2");

/** A detector-like checkpoint: the backbone's seeded tensors under `backbone.`, each key as `name` gives it. */
function checkpoint(name: (key: string) => string): TensorSource {
  const weights = seededWeights(backbone(), 7);
  return keyView(weights, new Map(weights.keys().map((key) => [`backbone.${name(key)}`, key])));
}

/** The extractor's features of one seeded image of `size`, as plain arrays; the extractor is disposed. */
async function features(extractor: Extractor<Record<string, Tensor>, Tensor>, size = SIZE): Promise<Record<string, number[]>> {
  const x = tf.tensor4d(seededInput([1, size, size, 3], 3), [1, size, size, 3]);
  try {
    const out = await extractor.run(x);
    const values = Object.fromEntries(await Promise.all(Object.entries(out).map(async ([key, t]) => [key, Array.from(await t.data())] as const)));
    tf.dispose(Object.values(out));
    return values;
  } finally {
    x.dispose();
    extractor.dispose();
  }
}

for (const engine of ENGINES_UNDER_TEST) {
  test(`an FPN checkpoint from before torchvision 0.13 under backbone. gives the features of the current keys [${engine}]`, async () => {
    const fx = createFeatureExtractor(backbone(), { returnNodes: ["fpn"], size: SIZE });
    const current = await features(await fx.load(checkpoint((key) => key), { prefix: "backbone.", engine }));
    const older = await features(await fx.load(checkpoint(beforeFpnV2), { prefix: "backbone.", engine }));
    assert.deepEqual(Object.keys(current), ["fpn.0", "fpn.1", "fpn.2", "fpn.3", "fpn.pool"]);
    assert.deepEqual(older, current);
  });
}

test("a compiled module carries its modules' renames as data and applies them at load", async () => {
  const source = await compile(backbone(), { returnNodes: ["fpn"], size: SIZE });
  assert.match(source, /const keyRenames = \[\s*\{ pattern: "\^fpn\\\\\.\(\?:\(\(\?:inner\|layer\)_blocks/);
  assert.match(source, /its modules' `_load_from_state_dict`/, "the doc says where the rules come from");
  const compiled = await importCompiled<CompiledModule>(source);
  const current = await features(await compiled.load(checkpoint((key) => key), { prefix: "backbone.", engine: "tfjs" }));
  const older = await features(await compiled.load(checkpoint(beforeFpnV2), { prefix: "backbone.", engine: "tfjs" }));
  assert.deepEqual(older, current);
});

test("only the modules whose tensors the program reads bring their renames", () => {
  const model = backbone();
  assert.equal(createFeatureExtractor(model, { returnNodes: ["body.layer1"], size: SIZE }).program.keyRenames, undefined);
  assert.ok((createFeatureExtractor(model, { returnNodes: ["fpn"], size: SIZE }).program.keyRenames ?? []).length > 0);
});

test("an FPN key that is neither the current nor the older name is still refused in one line naming the key", async () => {
  const fx = createFeatureExtractor(backbone(), { returnNodes: ["fpn"], size: SIZE });
  const other = checkpoint((key) => key.replace(/^fpn\.inner_blocks\.0\.0\.weight$/, "fpn.inner_blocks.0.conv.weight"));
  await assert.rejects(fx.load(other, { prefix: "backbone.", engine: "tfjs" }), (e: unknown) => {
    assert.ok(e instanceof WeightsError);
    assert.match(e.message, /has no tensor 'fpn\.inner_blocks\.0\.0\.weight' \(expected shape \[4, 64, 1, 1\]\)/);
    assert.ok(!e.message.includes("\n"), e.message);
    return true;
  });
});

test("Mask R-CNN's modules rename every older key torchvision's loaders do: the FPN's blocks, RPNHead's conv, MaskRCNNHeads' mask_fcn{i}", () => {
  const model = maskrcnn_resnet50_fpn();
  const keys = model.stateDictShapes().map(([key]) => key);
  const older = keys.map((key) =>
    key
      .replace(/^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.0\.(weight|bias)$/, "$1.$2")
      .replace(/^rpn\.head\.conv\.0\.0\.(weight|bias)$/, "rpn.head.conv.$1")
      .replace(/^roi_heads\.mask_head\.(\d+)\.0\.(weight|bias)$/, (_, i: string, kind: string) => `roi_heads.mask_head.mask_fcn${Number(i) + 1}.${kind}`),
  );
  for (const old of ["backbone.fpn.layer_blocks.3.bias", "rpn.head.conv.weight", "roi_heads.mask_head.mask_fcn4.weight"]) assert.ok(older.includes(old), old);
  const file = memorySource(new Map(older.map((key) => [key, { shape: [1], data: new Float32Array(1) }])));
  assert.deepEqual(withRenamedKeys(file, model.checkpointKeyRenames()).keys(), keys);
});

test("a module's rule goes under its path whole: an alternation stays below the path, and the path's dots are literal", () => {
  const rule = renameUnderPath({ pattern: "^a\\.(weight)$|b\\.(bias)$", replacement: "c.$1$2" }, "head.x");
  const rename = (key: string): string => (new RegExp(rule.pattern).test(key) ? key.replace(new RegExp(rule.pattern), rule.replacement) : key);
  assert.equal(rename("head.x.a.weight"), "head.x.c.weight");
  assert.equal(rename("head.x.b.bias"), "head.x.c.bias");
  assert.equal(rename("b.bias"), "b.bias");
  assert.equal(rename("headxx.a.weight"), "headxx.a.weight");
  assert.throws(() => renameUnderPath({ pattern: "a\\.weight", replacement: "b" }, "x"), {
    message: "the key rename /a\\.weight/ of the module at 'x' does not start with ^; a module's legacyKeyRenames match the key below the module from its start: begin each pattern with ^",
  });
});

test("ViT's MLPBlock renames its pre-0.14 keys (mlp.linear_1, mlp.linear_2) wherever the ViT sits: a model built in code, under a user's module", async () => {
  class Holder extends Module {
    backbone = vit_b_32({ imageSize: 32 });
    forward(x: ModelTensor): ModelTensor {
      return this.backbone.call(x);
    }
  }
  const holder = new Holder();
  const fx = createFeatureExtractor(holder, { returnNodes: ["backbone.encoder.layers.encoder_layer_1"], size: 32 });
  const current = seededWeights(holder, 9);
  const older = withRenamedKeys(current, [
    { pattern: "\\.mlp\\.0\\.", replacement: ".mlp.linear_1." },
    { pattern: "\\.mlp\\.3\\.", replacement: ".mlp.linear_2." },
  ]);
  assert.ok(older.keys().includes("backbone.encoder.layers.encoder_layer_1.mlp.linear_2.bias"));
  assert.deepEqual(await features(await fx.load(older, { engine: "tfjs" }), 32), await features(await fx.load(current, { engine: "tfjs" }), 32));
});
