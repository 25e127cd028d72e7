import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { getGraphNodeNames, createFeatureExtractor } from "../compiler/api.js";
import { trace, TraceError } from "../compiler/trace/tracer.js";
import { BATCH, type Dim } from "../compiler/graph/value.js";
import { parameterCount } from "../compiler/cli/commands/models.js";
import { getModel, getModelEntry } from "../models/zoo/registry.js";
import type { Module } from "../models/nn/module.js";
import { FIXTURES, torchvisionNodeNames } from "./support/fixtures.js";

/**
 * The AlexNet, VGG, SqueezeNet, DenseNet, GoogLeNet, Inception, MobileNet and MNASNet families
 * against facts taken from torchvision 0.14.1 by test/fixtures/make_model_facts.py cnn_a:
 * state_dict keys and shapes, parameter counts, the input sizes each forward accepts, every
 * node's shape at an odd size, and builder options that change graphs or state dicts.
 */

interface Facts {
  stateDict: [string, number[]][];
  parameters: number;
  minEval: number;
  minTrain: number;
  shapes: { size: [number, number]; nodes: [string, number[]][] };
}
interface ModelFacts extends Facts {
  metaParams: number;
}
interface VariantFacts extends Facts {
  model: string;
  ts: Record<string, unknown>;
  names: { train: string[]; eval: string[] };
}

const facts = JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "facts", "cnn_a.json.gz"))).toString("utf8")) as {
  models: Record<string, ModelFacts>;
  variants: Record<string, VariantFacts>;
};

const traceAt = (model: Module, size: number | [number, number], mode: "train" | "eval", batch: Dim = BATCH) => {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  return trace(model.train(mode === "train"), { inputShape: [batch, 3, h, w] });
};

function checkStateDict(model: Module, expected: Facts["stateDict"], what: string): void {
  const ours = model.stateDictShapes().map(([k, s]) => [k, [...s]]);
  assert.deepEqual(ours, expected, `${what}: state_dict keys and shapes in torchvision's order`);
}

/** The size just below the smallest accepted one fails with one line that says why; the smallest traces. */
function checkSmallestSize(model: Module, smallest: number, mode: "train" | "eval", what: string): void {
  assert.doesNotThrow(() => traceAt(model, smallest, mode), `${what} traces in ${mode} mode at ${smallest} px`);
  if (smallest === 1) return;
  assert.throws(
    () => traceAt(model, smallest - 1, mode),
    (e: unknown) => {
      assert.ok(e instanceof TraceError && e.isShapeError, `${what} at ${smallest - 1} px: a shape error, got ${String(e)}`);
      assert.doesNotMatch(e.message, /\n/, "one line");
      assert.match(e.message, /smaller than the \d+x\d+ (convolution|pooling) window/, "says why");
      return true;
    },
  );
}

/** Every node's shape at an odd, non-square size, as torchvision's forward gives it (batch 1). */
function checkShapes(model: Module, shapes: Facts["shapes"], what: string): void {
  const graph = traceAt(model, shapes.size, "eval", 1);
  const ours = new Map(graph.nodes.flatMap((n) => (n.qualname !== undefined && n.value.kind === "tensor" ? [[n.qualname, n.value.shape]] : [])));
  for (const [name, shape] of shapes.nodes) assert.deepEqual(ours.get(name), shape, `${what}: shape of ${name} at ${shapes.size.join("x")}`);
}

for (const [name, f] of Object.entries(facts.models)) {
  test(`${name}: state_dict, parameter counts, accepted sizes and shapes equal torchvision's`, () => {
    const entry = getModelEntry(name);
    const model = entry.build();
    checkStateDict(model, f.stateDict, name);
    assert.equal(parameterCount(name), f.parameters, "fxc models lists the default builder's parameter count");
    // torchvision's meta["num_params"] counts the model as built for its DEFAULT weights (googlenet drops its auxiliary heads).
    const forWeights = Object.values(facts.variants).find((v) => v.model === name && v.ts.weights === "DEFAULT");
    const asLoaded = forWeights === undefined ? model : getModel(name, forWeights.ts);
    assert.equal(asLoaded.namedParameters().reduce((n, [, p]) => n + p.shape.reduce((a, b) => a * b, 1), 0), f.metaParams, "meta num_params");
    assert.equal(entry.minSize, f.minEval, "the zoo's minSize (torchvision's weights meta) is the smallest size the forward accepts");
    checkSmallestSize(model, f.minEval, "eval", name);
    checkSmallestSize(model, f.minTrain, "train", name);
    checkShapes(model, f.shapes, name);
  });
}

for (const [id, v] of Object.entries(facts.variants)) {
  test(`${id}: ${v.model}(${JSON.stringify(v.ts)}) has torchvision's graphs, state_dict and sizes`, () => {
    const model = getModel(v.model, v.ts);
    const names = getGraphNodeNames(model, { size: Math.max(v.minTrain, v.minEval), suppressDiffWarning: true });
    assert.deepEqual(names, v.names);
    checkStateDict(model, v.stateDict, id);
    assert.equal(model.namedParameters().reduce((n, [, p]) => n + p.shape.reduce((a, b) => a * b, 1), 0), v.parameters);
    checkSmallestSize(model, v.minEval, "eval", id);
    checkShapes(model, v.shapes, id);
  });
}

test("memoryEfficient DenseNets keep the plain graph (torchvision's own tracer cannot trace its requires_grad check)", () => {
  const reference = torchvisionNodeNames().densenet121!;
  assert.deepEqual(getGraphNodeNames(getModel("densenet121", { memoryEfficient: true }), { size: 64, suppressDiffWarning: true }), reference);
});

test("the densenet builders fix growthRate, blockConfig and numInitFeatures, as torchvision's do", () => {
  assert.throws(() => getModel("densenet121", { growthRate: 12 }), /fix growthRate/);
});

test("googlenet and inception_v3 refuse what torchvision's builders refuse with weights", () => {
  assert.throws(() => getModel("googlenet", { weights: "DEFAULT", numClasses: 10 }), /'numClasses' expected value 1000 but got 10/);
  assert.throws(() => getModel("inception_v3", { weights: "IMAGENET1K_V2" }), /no weights 'IMAGENET1K_V2'/);
  assert.doesNotThrow(() => getModel("googlenet", { weights: "GoogLeNet_Weights.IMAGENET1K_V1" }));
});

test("an eval extractor of inception_v3 compiles below the 299 px its train graph needs, and says the graphs were not compared", () => {
  const warnings: string[] = [];
  const fx = createFeatureExtractor("inception_v3", { returnNodes: ["Mixed_7c"], size: 75, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(Object.keys(fx.returnNodes), ["Mixed_7c"]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^the train graph does not trace at this input size \(AuxLogits\.avg_pool2d: .*\), so it was not compared with the eval graph$/);
  // At 299 px both graphs trace, and they differ: torchvision's warning.
  createFeatureExtractor("inception_v3", { returnNodes: ["Mixed_7c"], onWarning: (m) => warnings.push(m) });
  assert.match(warnings[1]!, /^NOTE: The nodes obtained by tracing the model in eval mode are a subsequence of those obtained in train mode/);
});

test("below a zoo model's minimum: a one-line error that says why and names the minimum", () => {
  assert.throws(
    () => createFeatureExtractor("alexnet", { returnNodes: ["classifier.6"], size: 62, suppressDiffWarning: true }),
    (e: unknown) => e instanceof TraceError && e.message === "features.12: input 2x2 is smaller than the 3x3 pooling window (alexnet takes inputs of at least 63x63)",
  );
  assert.throws(
    () => getGraphNodeNames("inception_v3", { size: [74, 300] }),
    (e: unknown) => e instanceof TraceError && e.message === "AuxLogits.avg_pool2d: input 2x17 is smaller than the 5x5 pooling window (inception_v3 takes inputs of at least 75x75)",
  );
});
