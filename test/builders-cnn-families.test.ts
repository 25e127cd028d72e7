import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchNorm2d, StochasticDepth, type Module } from "../models/nn/index.js";
import { getModel } from "../models/zoo/registry.js";

/** The builders take torchvision's arguments, camelCased; expected values are torchvision's. */
const shapeOf = (m: Module, key: string): readonly number[] | undefined => new Map(m.stateDictShapes()).get(key);
const dropProbabilities = (m: Module): number[] => m.namedModules().flatMap(([, x]) => (x instanceof StochasticDepth ? [x.p] : []));

test("numClasses and stemWidth reach the layers they size", () => {
  assert.deepEqual(shapeOf(getModel("shufflenet_v2_x1_0", { numClasses: 10 }), "fc.weight"), [10, 1024]);
  assert.deepEqual(shapeOf(getModel("efficientnet_b0", { numClasses: 10 }), "classifier.1.weight"), [10, 1280]);
  const regnet = getModel("regnet_y_400mf", { stemWidth: 16, numClasses: 7 });
  assert.deepEqual([shapeOf(regnet, "stem.0.weight"), shapeOf(regnet, "fc.weight")], [[16, 3, 3, 3], [7, 440]]);
  assert.deepEqual(shapeOf(getModel("convnext_tiny", { numClasses: 3 }), "classifier.2.weight"), [3, 768]);
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
