import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor, getGraphNodeNames } from "../compiler/api.js";
import { getModelEntry, listModels } from "../models/zoo/registry.js";

/**
 * Shape inference for ShuffleNetV2, EfficientNet, RegNet and ConvNeXt away from the default
 * input size. Expected shapes are torchvision's, from running its feature extractor on
 * zeros of each size (batch dim left out).
 */
const torchShapes: [model: string, size: [number, number], shapes: Record<string, number[]>][] = [
  ["shufflenet_v2_x2_0", [57, 33], { "stage2.0.view_1": [244, 8, 5], stage4: [976, 2, 2], fc: [1000] }],
  ["efficientnet_b0", [97, 131], { "features.3": [40, 13, 17], "features.8": [1280, 4, 5] }],
  ["efficientnet_v2_s", [33, 33], { "features.6": [256, 2, 2], "classifier.1": [1000] }],
  ["regnet_x_3_2gf", [100, 75], { "trunk_output.block4": [1008, 4, 3] }],
  ["regnet_y_128gf", [224, 224], { "trunk_output.block4": [7392, 7, 7], fc: [1000] }],
  ["convnext_tiny", [32, 47], { "features.6.0.permute": [2, 2, 384], "features.7": [768, 1, 1], "classifier.2": [1000] }],
];

for (const [model, size, shapes] of torchShapes) {
  test(`${model} at ${size.join("x")}: output shapes equal torchvision's`, () => {
    const fx = createFeatureExtractor(model, { returnNodes: Object.keys(shapes), size, suppressDiffWarning: true });
    const ours = Object.fromEntries(fx.program.outputs.map((o) => [o.key, o.value.kind === "tensor" ? o.value.shape.slice(1) : o.value.kind]));
    assert.deepEqual(ours, shapes);
  });
}

const families = new Set(["ShuffleNetV2", "EfficientNet", "RegNet", "ConvNeXt"]);
const models = listModels().filter((name) => families.has(getModelEntry(name).family));

test("every ShuffleNetV2, EfficientNet, RegNet and ConvNeXt model traces at its documented minimum size", () => {
  assert.equal(models.length, 34);
  for (const name of models) {
    const { minSize } = getModelEntry(name);
    assert.doesNotThrow(() => getGraphNodeNames(name, { size: minSize, suppressDiffWarning: true }), name);
  }
});

test("ConvNeXt below 32 pixels: a one-line error naming the node and why", () => {
  for (const name of models.filter((n) => n.startsWith("convnext"))) {
    assert.throws(
      () => getGraphNodeNames(name, { size: [31, 64], suppressDiffWarning: true }),
      (e: Error) => new RegExp(`^features\\.6\\.1: input 1x4 is smaller than the 2x2 convolution window \\(${name} takes inputs of at least 32x32\\)$`).test(e.message),
      name,
    );
  }
});
