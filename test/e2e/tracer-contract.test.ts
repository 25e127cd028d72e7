import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { createFeatureExtractor, getGraphNodeNames, type FeatureExtractor } from "../../compiler/api.js";
import { ReturnNodeError, type ReturnNodes } from "../../compiler/passes/returnNodes.js";
import { OptionsError } from "../../compiler/pipeline.js";
import { Conv2d, Dropout, F, Module, ReLU, Sequential, type Tensor } from "../../models/nn/index.js";
import { BackboneWithFPN, IntermediateLayerGetter, mobilenetBackbone, resnetFpnBackbone } from "../../models/index.js";
import { resnet18 } from "../../models/zoo/resnet.js";
import { getModel } from "../../models/zoo/registry.js";
import { ENGINES_UNDER_TEST, FIXTURES } from "../support/fixtures.js";
import { seededWeights } from "../support/seeded.js";

/**
 * torchvision 0.14.1's own feature-extraction tests (test/test_backbone_utils.py,
 * TestFxFeatureExtraction) ported to fxc's API, against what torchvision computes
 * (test/fixtures/contract/make_contract.py writes contract.json with /usr/bin/python3).
 *
 * test_feature_extraction_methods_equivalence, test_resnet_fpn_backbone and test_mobilenet_backbone
 * (with test_models_detection_utils.py's test_resnet_fpn_backbone_frozen_layers) run against the
 * facts torchvision writes under `backbones` and `equivalence`.
 *
 * Not expressible, and skipped below with the reason: test_jit_forward_backward (fxc has no
 * TorchScript). test_forward_backward runs on two zoo models at a small size.
 */

interface Contract {
  readonly test_module_nodes: readonly string[];
  readonly train_eval: Readonly<Record<"train" | "eval", Readonly<Record<string, number>>>>;
  readonly selection: readonly { readonly query: ReturnNodes; readonly outputs: readonly [string, string][] }[];
  readonly build: Readonly<Record<string, { readonly train: readonly string[]; readonly eval: readonly string[] }>>;
  readonly backbones: Readonly<Record<ResnetName, ResnetFacts> & Record<MobilenetName, MobilenetFacts>>;
  readonly equivalence: { readonly parameters: readonly string[]; readonly outputs: readonly [string, number[]][] };
}

type ResnetName = "resnet18" | "resnet50";
type MobilenetName = "mobilenet_v2" | "mobilenet_v3_large" | "mobilenet_v3_small";

/** What torchvision's backbone builders give and refuse (make_contract.py's backbones()). */
interface BackboneFacts {
  readonly class: string;
  readonly out_channels: number;
  /** The result's keys in order, with their shapes at 1x3x300x300. */
  readonly outputs: readonly [string, number[]][];
  /** Error texts, keyed by the arguments that raise them. */
  readonly errors: Readonly<Record<string, string>>;
}
interface ResnetFacts extends BackboneFacts {
  /** Per trainable_layers 0..5: resnet18's frozen parameter names; resnet50's count and last name. */
  readonly frozen: Readonly<Record<string, readonly string[] | readonly [number, string | null]>>;
}
interface MobilenetFacts extends BackboneFacts {
  readonly plain_class: string;
  readonly plain_is_sequential: boolean;
  readonly plain_out_channels: number;
  readonly plain_output: number[];
  /** With the default trainable_layers: how many parameters are frozen, and the last of them. */
  readonly frozen: readonly [number, string];
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

// torchvision runs every model at 224 with random return nodes; here two zoo models at 64x64 with fixed nodes (test/e2e/grads-families.test.ts checks the values against torch).
for (const [name, nodes] of [["resnet18", ["layer1", "layer3.0.bn2", "fc"]], ["mobilenet_v3_small", ["features.2", "features.9", "classifier"]]] as const) {
  test(`test_forward_backward: ${name}, train mode, the mean of every output backpropagates to every trainable parameter`, async () => {
    const model = getModel(name);
    const fx = createFeatureExtractor(model, { returnNodes: [...nodes], size: 64, mode: "train" });
    const extractor = await fx.load(seededWeights(model, 0), { engine: "tfjs", trainable: "all" });
    const x = tf.randomNormal([2, 64, 64, 3]) as tf.Tensor4D;
    const variables = Object.values(extractor.trainableVariables);
    const { value, grads } = tf.variableGrads(() => tf.addN(Object.values(extractor.forward(x)).map((o) => tf.mean(o as tf.Tensor))) as tf.Scalar, variables);
    assert.equal(Object.keys(grads).length, variables.length, "every parameter gets a gradient");
    assert.ok(Object.values(grads).every((g) => Number.isFinite(tf.sum(tf.abs(g)).dataSync()[0])));
    tf.dispose([x, value, ...Object.values(grads)]);
    extractor.dispose();
  });
}
test.skip("test_jit_forward_backward: fxc has no TorchScript");
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

function frozenNames(model: Module): string[] {
  return model.namedParameters().filter(([, p]) => !p.requiresGrad).map(([name]) => name);
}

/** torchvision's ValueError, in its words; torchvision's mobilenet messages end in a stray space, which fxc leaves out. */
function refusesAs(make: () => unknown, expected: string): void {
  assert.throws(make, (e: Error) => e.message === expected.trimEnd());
}

for (const backboneName of ["resnet18", "resnet50"] as const) {
  test(`test_resnet_fpn_backbone: ${backboneName}`, () => {
    const facts = contract.backbones[backboneName];
    const model = resnetFpnBackbone({ backboneName });
    assert.ok(model instanceof BackboneWithFPN);
    assert.equal(model.constructor.name, facts.class);
    assert.equal(model.outChannels, facts.out_channels);
    assert.deepEqual(outputsAt(model, 300), facts.outputs, "keys ['0', '1', '2', '3', 'pool'] and shapes at 300x300");
    refusesAs(() => resnetFpnBackbone({ backboneName, trainableLayers: 6 }), facts.errors["trainable_layers=6"]!);
    refusesAs(() => resnetFpnBackbone({ backboneName, returnedLayers: [0, 1, 2, 3] }), facts.errors["returned_layers=[0, 1, 2, 3]"]!);
    refusesAs(() => resnetFpnBackbone({ backboneName, returnedLayers: [2, 3, 4, 5] }), facts.errors["returned_layers=[2, 3, 4, 5]"]!);
  });

  test(`test_resnet_fpn_backbone_frozen_layers: ${backboneName}, trainable_layers 0 to 5`, () => {
    for (const [trainable, expected] of Object.entries(contract.backbones[backboneName].frozen)) {
      const frozen = frozenNames(resnetFpnBackbone({ backboneName, trainableLayers: Number(trainable) }));
      // resnet18's names in full; resnet50's count (torchvision's test: 53, 43, 24, 11, 1, 0) and last name.
      const actual = backboneName === "resnet18" ? frozen : [frozen.length, frozen.at(-1) ?? null];
      assert.deepEqual(actual, expected, `trainable_layers=${trainable}`);
    }
  });
}

for (const backboneName of ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"] as const) {
  test(`test_mobilenet_backbone: ${backboneName}`, () => {
    const facts = contract.backbones[backboneName];
    refusesAs(() => mobilenetBackbone({ backboneName, fpn: false, trainableLayers: -1 }), facts.errors["fpn=False, trainable_layers=-1"]!);
    refusesAs(() => mobilenetBackbone({ backboneName, fpn: true, returnedLayers: [-1, 0, 1, 2] }), facts.errors["fpn=True, returned_layers=[-1, 0, 1, 2]"]!);
    refusesAs(() => mobilenetBackbone({ backboneName, fpn: true, returnedLayers: [3, 4, 5, 6] }), facts.errors["fpn=True, returned_layers=[3, 4, 5, 6]"]!);
    const withFpn = mobilenetBackbone({ backboneName, fpn: true });
    assert.ok(withFpn instanceof BackboneWithFPN);
    assert.equal(withFpn.constructor.name, facts.class);
    assert.equal(withFpn.outChannels, facts.out_channels);
    assert.deepEqual(outputsAt(withFpn, 300), facts.outputs);
    const frozen = frozenNames(withFpn);
    assert.deepEqual([frozen.length, frozen.at(-1)], facts.frozen, "frozen parameters with the default trainable_layers");
    const plain = mobilenetBackbone({ backboneName, fpn: false });
    // torchvision's is an nn.Sequential with out_channels set on it; fxc's a Sequential subclass carrying it.
    assert.ok(facts.plain_is_sequential && plain instanceof Sequential);
    assert.equal(plain.outChannels, facts.plain_out_channels);
    assert.deepEqual(outputsAt(plain, 300), [["", facts.plain_output] as [string, number[]]]);
  });
}

test("test_feature_extraction_methods_equivalence: IntermediateLayerGetter and createFeatureExtractor on resnet18 hold the same parameters and give the same outputs", async () => {
  const model = resnet18();
  const returnLayers = { layer1: "layer1", layer2: "layer2", layer3: "layer3", layer4: "layer4" };
  const ilg = new IntermediateLayerGetter(model, returnLayers);
  const fx = createFeatureExtractor(model, { returnNodes: returnLayers, size: 224, suppressDiffWarning: true });
  const names = (m: Module): string[] => m.namedParameters().map(([name]) => name);
  assert.deepEqual(names(ilg), contract.equivalence.parameters);
  assert.deepEqual(names(fx), contract.equivalence.parameters);
  // The getter's children keep their paths, so the same names select its dict's entries.
  const ilgFx = createFeatureExtractor(ilg, { returnNodes: returnLayers, size: 224, suppressDiffWarning: true });
  // seededWeights are a function of each key, so both get the same values under the same names.
  const fromFx = await fx.load(seededWeights(model, 0), { engine: "tfjs" });
  const fromIlg = await ilgFx.load(seededWeights(ilg, 0), { engine: "tfjs" });
  const x = tf.randomNormal([1, 224, 224, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  try {
    const a = (await fromFx.run(x)) as Record<string, tf.Tensor>;
    const b = (await fromIlg.run(x)) as Record<string, tf.Tensor>;
    assert.deepEqual(Object.keys(a), Object.keys(returnLayers));
    assert.deepEqual(Object.keys(b), Object.keys(returnLayers));
    // torchvision's shapes are NCHW; the extractors run NHWC.
    const nhwc = ([n, c, h, w]: number[]): number[] => [n!, h!, w!, c!];
    assert.deepEqual(Object.entries(b).map(([k, v]) => [k, v.shape]), contract.equivalence.outputs.map(([k, s]) => [k, nhwc(s)]));
    for (const key of Object.keys(returnLayers)) {
      assert.deepEqual(await a[key]!.data(), await b[key]!.data(), key);
    }
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  } finally {
    tf.dispose(x);
    fromFx.dispose();
    fromIlg.dispose();
  }
});

/** The keys (after `out.`) and NCHW shapes (batch 1) of what a module returns, through its last node, at size x size. */
function outputsAt(model: Module, size: number): [string, number[]][] {
  const nodes = getGraphNodeNames(model, { size, suppressDiffWarning: true }).eval;
  const fx = createFeatureExtractor(model, { returnNodes: { [nodes[nodes.length - 1]!]: "out" }, size, layout: "nchw", suppressDiffWarning: true });
  return fx.program.outputs.map((o) => [o.key.replace(/^out\.?/, ""), o.value.kind === "tensor" ? o.value.shape.map((d) => (d === "N" ? 1 : d)) : []]);
}
