import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { ReturnNodeError } from "../../compiler/passes/returnNodes.js";
import { OptionsError } from "../../compiler/pipeline.js";
import { getModel } from "../../models/zoo/registry.js";
import { BasicBlock } from "../../models/zoo/resnet.js";
import { Conv2d, Module, ReLU, Dropout, Sequential, type Tensor } from "../../models/nn/index.js";

const resnet18 = () => getModel("resnet18");
const small = { size: 32 } as const;

test("a list of names keeps each name as its key; outputs come in execution order", () => {
  const fx = createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer4", "layer1.0.conv1", "fc"] });
  assert.deepEqual(fx.returnNodes, { "layer1.0.conv1": "layer1.0.conv1", layer4: "layer4.1.relu_1", fc: "fc" });
  assert.deepEqual(Object.keys(fx.returnNodes), ["layer1.0.conv1", "layer4", "fc"]);
});

test("a {node: key} map renames outputs", () => {
  const fx = createFeatureExtractor(resnet18(), { ...small, returnNodes: { layer1: "feat1", layer3: "feat2" } });
  assert.deepEqual(fx.returnNodes, { feat1: "layer1.1.relu_1", feat2: "layer3.1.relu_1" });
});

test("a truncated name is the last node under that module, and dots are literal", () => {
  const fx = createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer2.0", "layer2.0.relu"] });
  assert.equal(fx.returnNodes["layer2.0"], "layer2.0.relu_1");
  // `layer2.0.relu` is its own node, not a prefix of `layer2.0.relu_1`.
  assert.equal(fx.returnNodes["layer2.0.relu"], "layer2.0.relu");
  assert.throws(() => createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer2x0"] }), ReturnNodeError);
});

test("an unknown node is an error that lists the closest names", () => {
  assert.throws(
    () => createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer5"] }),
    (e: Error) => e instanceof ReturnNodeError && /node 'layer5' is not in the eval graph/.test(e.message) && /'layer1'/.test(e.message) && !e.message.includes("\n"),
  );
  assert.throws(() => createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer1.0.relu_9"] }), /did you mean .*'layer1\.0\.relu_1'/);
});

test("a duplicate key is an error; a name listed twice is one entry, as in torchvision's dict", () => {
  assert.throws(() => createFeatureExtractor(resnet18(), { ...small, returnNodes: { layer1: "f", layer2: "f" } }), /output key 'f' is given to both 'layer1' and 'layer2'/);
  assert.deepEqual(createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer1", "layer1"] }).returnNodes, { layer1: "layer1.1.relu_1" });
  assert.throws(() => createFeatureExtractor(resnet18(), { ...small, returnNodes: [] }), /no return nodes given/);
});

test("overlapping queries select as torchvision does: each node goes to the first waiting query, walking back from the end", () => {
  // torchvision 0.14.1: {"layer1": "a", "layer1.1": "b"} gives OrderedDict b=layer1.1.add, a=layer1.1.relu_1.
  const fx = createFeatureExtractor(resnet18(), { ...small, returnNodes: { layer1: "a", "layer1.1": "b" } });
  assert.deepEqual(Object.entries(fx.returnNodes), [["b", "layer1.1.add"], ["a", "layer1.1.relu_1"]]);
  // The order of the queries decides who takes the last node.
  const swapped = createFeatureExtractor(resnet18(), { ...small, returnNodes: { "layer1.1": "b", layer1: "a" } });
  assert.deepEqual(Object.entries(swapped.returnNodes), [["a", "layer1.1.add"], ["b", "layer1.1.relu_1"]]);
  const three = createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer1.1.relu_1", "layer1", "layer1.1"] });
  assert.deepEqual(Object.entries(three.returnNodes), [["layer1.1", "layer1.1.bn2"], ["layer1", "layer1.1.add"], ["layer1.1.relu_1", "layer1.1.relu_1"]]);
});

/** `body` holds one node only, `body.0`. */
class OneNodeBody extends Module {
  body = new Sequential(new Conv2d(3, 4, 3));
  relu = new ReLU();
  forward(x: Tensor): Tensor {
    return this.relu.call(this.body.call(x));
  }
}

test("a query whose every node an earlier query took is refused (torchvision drops its key)", () => {
  assert.throws(
    () => createFeatureExtractor(new OneNodeBody(), { size: 8, returnNodes: ["body.0", "body"], suppressDiffWarning: true }),
    (e: Error) => e instanceof ReturnNodeError && /every node under 'body' is already returned for 'body\.0'/.test(e.message) && !e.message.includes("\n"),
  );
  assert.throws(() => createFeatureExtractor(new OneNodeBody(), { size: 8, returnNodes: ["body", "body.0"], suppressDiffWarning: true }), /every node under 'body\.0' is already returned for 'body'/);
  const fx = createFeatureExtractor(new OneNodeBody(), { size: 8, returnNodes: ["body"], suppressDiffWarning: true });
  assert.deepEqual(fx.returnNodes, { body: "body.0" });
});

/** A model whose train graph has a node the eval graph lacks, as googlenet's aux heads. */
class WithTrainOnlyBranch extends Module {
  conv = new Conv2d(3, 4, 3);
  relu = new ReLU();
  drop = new Dropout(0.5);
  forward(x: Tensor): Tensor {
    x = this.conv.call(x);
    if (this.training) x = this.drop.call(x);
    return this.relu.call(x);
  }
}

test("train and eval graphs are separate; a difference warns unless suppressed", () => {
  const warnings: string[] = [];
  const names = getGraphNodeNames(new WithTrainOnlyBranch(), { size: 8, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(names.train, ["x", "conv", "drop", "relu"]);
  assert.deepEqual(names.eval, ["x", "conv", "relu"]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /eval mode are a subsequence of those obtained in train mode/);
  getGraphNodeNames(new WithTrainOnlyBranch(), { size: 8, suppressDiffWarning: true, onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1, "suppressDiffWarning silences it");

  const trainOnly = createFeatureExtractor(new WithTrainOnlyBranch(), {
    size: 8,
    mode: "train",
    trainReturnNodes: ["drop"],
    evalReturnNodes: ["conv"],
    suppressDiffWarning: true,
  });
  assert.deepEqual(trainOnly.returnNodes, { drop: "drop" });
  const evalOnly = createFeatureExtractor(new WithTrainOnlyBranch(), { size: 8, trainReturnNodes: ["drop"], evalReturnNodes: ["conv"], suppressDiffWarning: true });
  assert.deepEqual(evalOnly.returnNodes, { conv: "conv" });
  assert.throws(() => createFeatureExtractor(new WithTrainOnlyBranch(), { size: 8, returnNodes: ["drop"], suppressDiffWarning: true }), /not in the eval graph/);
});

test("leafModules makes more modules single nodes", () => {
  const names = getGraphNodeNames(resnet18(), { leafModules: [BasicBlock] });
  assert.deepEqual(names.eval, ["x", "conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "avgpool", "flatten", "fc"]);
  const byPath = getGraphNodeNames(resnet18(), { leafModules: ["layer4"] });
  assert.ok(byPath.eval.includes("layer4") && !byPath.eval.includes("layer4.0.conv1"));
});

test("pruning keeps only the parameters the outputs need", () => {
  const fx = createFeatureExtractor(resnet18(), { ...small, returnNodes: ["layer1"] });
  const keys = Object.keys(fx.program.checkpoint);
  assert.ok(keys.includes("conv1.weight") && keys.includes("layer1.1.bn2.running_var"));
  assert.ok(!keys.some((k) => k.startsWith("layer2") || k.startsWith("fc")), "nothing after layer1 is read");
  // Eval mode folds each batch norm into its convolution: one filter and one bias per conv.
  assert.equal(fx.program.params.length, 2 * 5);
  assert.ok(fx.program.params.every((p) => "fold" in p.source));
  const train = createFeatureExtractor(resnet18(), { ...small, mode: "train", returnNodes: ["layer1"] });
  assert.ok(train.program.params.every((p) => "key" in p.source), "train mode keeps batch norm as it is");
});
