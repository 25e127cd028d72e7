import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { createFeatureExtractor, getGraphNodeNames, type FeatureExtractor } from "../compiler/api.js";
import { ReturnNodeError, type ReturnNodes } from "../compiler/passes/returnNodes.js";
import { OptionsError } from "../compiler/pipeline.js";
import { Conv2d, Dropout, F, Module, ReLU, type Tensor } from "../models/nn/index.js";
import { getModel } from "../models/zoo/registry.js";
import { ENGINES_UNDER_TEST, FIXTURES } from "./support/fixtures.js";
import { seededWeights } from "./support/seeded.js";

/**
 * torchvision 0.14.1's own feature-extraction tests (test/test_backbone_utils.py,
 * TestFxFeatureExtraction) ported to fxc's API, against what torchvision computes
 * (test/fixtures/contract/make_contract.py writes contract.json with /usr/bin/python3).
 *
 * Not expressible yet, and skipped below with the reason: test_forward_backward and
 * test_jit_forward_backward (fxc has no gradients, nor TorchScript), test_feature_extraction_methods_equivalence,
 * test_resnet_fpn_backbone and test_mobilenet_backbone (IntermediateLayerGetter and the detection
 * backbones are not in fxc's module library).
 */

interface Contract {
  readonly test_module_nodes: readonly string[];
  readonly train_eval: Readonly<Record<"train" | "eval", Readonly<Record<string, number>>>>;
  readonly selection: readonly { readonly query: ReturnNodes; readonly outputs: readonly [string, string][] }[];
  readonly build: Readonly<Record<string, { readonly train: readonly string[]; readonly eval: readonly string[] }>>;
}

const contract = JSON.parse(readFileSync(join(FIXTURES, "contract", "contract.json"), "utf8")) as Contract;

class TestSubModule extends Module {
  relu = new ReLU();
  forward(x: Tensor): Tensor {
    x = x.add(1);
    x = x.add(1);
    x = this.relu.call(x);
    return this.relu.call(x);
  }
}

class TestModule extends Module {
  submodule = new TestSubModule();
  relu = new ReLU();
  forward(x: Tensor): Tensor {
    x = this.submodule.call(x);
    x = x.add(1);
    x = x.add(1);
    x = this.relu.call(x);
    return this.relu.call(x);
  }
}

test("test_node_name_conventions: repeated names get torchvision's index suffix", () => {
  const { train } = getGraphNodeNames(new TestModule(), { suppressDiffWarning: true });
  assert.deepEqual(train, contract.test_module_nodes);
});

/** test_train_eval's TestModel; `x += 100` is the `add` node, `x *= 0` the `mul` node, `x -= 0` the `sub` node. */
class TestModel extends Module {
  dropout = new Dropout(1.0);
  forward(x: Tensor): Tensor {
    x = x.mean();
    x = this.dropout.call(x);
    if (this.training) x = x.add(100);
    else x = x.mul(0);
    return x.sub(0);
  }
}

async function checks(fx: FeatureExtractor, model: Module, mode: "train" | "eval"): Promise<void> {
  // onnxruntime runs eval mode only (train-mode dropout is random); tfjs runs both.
  for (const engine of mode === "train" ? (["tfjs"] as const) : ENGINES_UNDER_TEST) {
    const extractor = await fx.load(seededWeights(model, 0), { engine });
    const x = tf.ones([10, 10]);
    const out = (await extractor.run(x)) as Record<string, tf.Tensor>;
    const values = Object.fromEntries(await Promise.all(Object.entries(out).map(async ([k, v]) => [k, (await v.data())[0]] as const)));
    assert.deepEqual(values, contract.train_eval[mode], `${mode} on ${engine}`);
    tf.dispose([x, ...Object.values(out)]);
    extractor.dispose();
  }
}

test("test_train_eval: one extractor switches mode; dropout and control flow on the training flag follow it; the model keeps its mode", async () => {
  for (const startTraining of [true, false]) {
    const model = new TestModel().train(startTraining);
    const start = startTraining ? "train" : "eval";
    const fx = createFeatureExtractor(model, { inputShape: [10, 10], mode: start, trainReturnNodes: ["dropout", "add", "sub"], evalReturnNodes: ["dropout", "mul", "sub"], suppressDiffWarning: true });
    assert.equal(model.training, startTraining, "the model stays in its original training state");
    assert.equal(fx.training, startTraining);
    await checks(fx, model, start);
    const other = startTraining ? "eval" : "train";
    if (startTraining) fx.eval();
    else fx.train();
    assert.equal(fx.training, !startTraining);
    assert.deepEqual(Object.keys(fx.returnNodes), contract.train_eval[other] === undefined ? [] : Object.keys(contract.train_eval[other]));
    await checks(fx, model, other);
    assert.equal(model.training, startTraining);
  }
});

test("return-node selection equals torchvision's on overlapping, reordered and repeated queries", () => {
  const model = getModel("resnet18");
  for (const { query, outputs } of contract.selection) {
    const fx = createFeatureExtractor(model, { size: 32, returnNodes: query, suppressDiffWarning: true });
    assert.deepEqual(Object.entries(fx.returnNodes), outputs, JSON.stringify(query));
  }
});

for (const [name, nodes] of Object.entries(contract.build)) {
  test(`test_build_fx_feature_extractor: ${name}`, () => {
    // By name, so that each traces at its own input size (inception_v3's train-only aux head needs 299).
    const model = name;
    const both = { trainReturnNodes: nodes.train, evalReturnNodes: nodes.eval, suppressDiffWarning: true };
    // A dict for the train nodes and a list for the eval ones, then lists: each mode resolves its own.
    const asDict = createFeatureExtractor(model, { ...both, mode: "train", trainReturnNodes: Object.fromEntries(nodes.train.map((n) => [n, n])) });
    assert.deepEqual(Object.keys(asDict.returnNodes).sort(), [...nodes.train].sort());
    const asList = createFeatureExtractor(model, { ...both, mode: "eval" });
    assert.deepEqual(Object.keys(asList.returnNodes).sort(), [...nodes.eval].sort());
    assert.throws(() => createFeatureExtractor(model, {}), OptionsError);
    assert.throws(() => createFeatureExtractor(model, { returnNodes: nodes.train, trainReturnNodes: nodes.train, evalReturnNodes: nodes.eval }), OptionsError);
    assert.throws(() => createFeatureExtractor(model, { trainReturnNodes: nodes.train }), OptionsError);
    if (![...nodes.train, ...nodes.eval].some((n) => n.startsWith("l"))) {
      assert.throws(() => createFeatureExtractor(model, { trainReturnNodes: ["l"], evalReturnNodes: ["l"], suppressDiffWarning: true }), ReturnNodeError);
    }
  });
}

test.skip("test_forward_backward, test_jit_forward_backward: fxc computes no gradients and has no TorchScript");
/** test_leaf_module_and_function's leaf_function: int() of a traced int, which only a wrapped function may hold. */
const leafFunction = F.wrap(function leaf_function(n: unknown): number {
  return Number(n);
});

/** fxc traces a leaf's body to compile it, so the leaf cannot hold int(x.shape[0]) as torchvision's does; the rest is the same. */
class LeafModule extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x.add(4));
  }
}

class LeafTestModule extends Module {
  conv = new Conv2d(3, 1, 3);
  leaf_module = new LeafModule();
  forward(x: Tensor): Tensor {
    const [n] = x.shape;
    leafFunction(n);
    x = this.conv.call(x);
    return this.leaf_module.call(x);
  }
}

test("test_leaf_module_and_function: a leaf module and a wrapped function are one node each; the extractor runs", async () => {
  const names = getGraphNodeNames(new LeafTestModule(), { leafModules: [LeafModule], suppressDiffWarning: true });
  assert.deepEqual(names.train, ["x", "getattr", "getitem", "leaf_function", "conv", "leaf_module"]);
  assert.ok(!names.train.includes("leaf_module.relu"));
  const model = new LeafTestModule();
  const fx = createFeatureExtractor(model, { returnNodes: ["leaf_module"], leafModules: [LeafModule], mode: "train", suppressDiffWarning: true });
  const extractor = await fx.load(seededWeights(model, 0), { engine: "tfjs" });
  const x = tf.randomNormal([1, 224, 224, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const out = (await extractor.run(x)) as Record<string, tf.Tensor>;
  assert.deepEqual(out.leaf_module!.shape, [1, 222, 222, 1]);
  tf.dispose([x, out.leaf_module!]);
  extractor.dispose();
});
test.skip("test_feature_extraction_methods_equivalence, test_resnet_fpn_backbone, test_mobilenet_backbone: IntermediateLayerGetter and the detection backbones are not in fxc's module library");
