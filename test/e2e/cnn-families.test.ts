import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { TraceError } from "../../compiler/trace/tracer.js";
import { BatchNorm2d, StochasticDepth, type Module } from "../../models/nn/index.js";
import { getModel, listModels } from "../../models/zoo/registry.js";
import { torchvisionNodeNames } from "../support/fixtures.js";

/**
 * The CNN families beyond the facts test/unit/zoo.test.ts checks for every model: builder arguments
 * torchvision's builders refuse or set themselves, DenseNet's memoryEfficient, stochastic depth,
 * and what the errors for sizes a model cannot take say. Expected values are torchvision's.
 */
const dropProbabilities = (m: Module): number[] => m.namedModules().flatMap(([, x]) => (x instanceof StochasticDepth ? [x.p] : []));

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

test("stochastic depth grows with depth from each builder's default, or the given probability", () => {
  const b0 = dropProbabilities(getModel("efficientnet_b0"));
  assert.equal(b0.length, 16);
  assert.equal(b0[15], 0.1875); // features.7.0: 0.2 * 15 / 16
  const small = dropProbabilities(getModel("convnext_small"));
  assert.deepEqual([small[0], small[small.length - 1]], [0, 0.4]);
  const tiny = dropProbabilities(getModel("convnext_tiny", { stochasticDepthProb: 0.2 }));
  assert.equal(tiny[tiny.length - 1], 0.2);
});

test("EfficientNet b5 to b7 and V2 set their own batch norm, as torchvision's builders do", () => {
  const bn = getModel("efficientnet_b7").namedModules().find(([, m]) => m instanceof BatchNorm2d)![1] as BatchNorm2d;
  assert.deepEqual([bn.eps, bn.momentum], [0.001, 0.01]);
  assert.throws(() => getModel("efficientnet_b5", { normLayer: (c: number) => new BatchNorm2d(c) }), /got multiple values for keyword argument 'normLayer'/);
  const custom = getModel("efficientnet_b0", { normLayer: (c: number) => new BatchNorm2d(c, 0.01) });
  assert.equal((custom.namedModules().find(([, m]) => m instanceof BatchNorm2d)![1] as BatchNorm2d).eps, 0.01);
});

test("ConvNeXt below 32 pixels: a one-line error naming the node and why", () => {
  const convnexts = listModels().filter((n) => n.startsWith("convnext"));
  assert.equal(convnexts.length, 4);
  for (const name of convnexts) {
    assert.throws(
      () => getGraphNodeNames(name, { size: [31, 64], suppressDiffWarning: true }),
      (e: Error) => new RegExp(`^features\\.6\\.1: input 1x4 is smaller than the 2x2 convolution window \\(${name} takes inputs of at least 32x32\\)$`).test(e.message),
      name,
    );
  }
});
