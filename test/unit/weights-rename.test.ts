import { test } from "node:test";
import assert from "node:assert/strict";
import { memorySource, withRenamedKeys, WeightsError } from "../../runtime/index.js";
import { OLD_DENSENET_KEYS } from "../../models/zoo/densenet.js";
import { getModelEntry } from "../../models/zoo/registry.js";

const tensor = (value: number, shape: number[] = [1]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) });

test("torchvision's old DenseNet keys are read under the names the model has, as torchvision's loader renames them", async () => {
  const file = memorySource({
    "features.conv0.weight": tensor(1, [2, 3, 1, 1]),
    "features.denseblock1.denselayer1.norm.1.weight": tensor(2),
    "features.denseblock1.denselayer1.norm.1.running_var": tensor(3),
    "features.denseblock2.denselayer12.conv.2.weight": tensor(4, [1, 1, 3, 3]),
    // Not a dense layer's tensor, and not a renamed kind: kept as they are.
    "features.transition1.norm.weight": tensor(5),
    "features.denseblock1.denselayer1.norm.1.num_batches_tracked": tensor(6),
  });
  const renamed = withRenamedKeys(file, OLD_DENSENET_KEYS);
  assert.deepEqual(renamed.keys(), [
    "features.conv0.weight",
    "features.denseblock1.denselayer1.norm1.weight",
    "features.denseblock1.denselayer1.norm1.running_var",
    "features.denseblock2.denselayer12.conv2.weight",
    "features.transition1.norm.weight",
    "features.denseblock1.denselayer1.norm.1.num_batches_tracked",
  ]);
  assert.deepEqual(renamed.info("features.denseblock2.denselayer12.conv2.weight"), { key: "features.denseblock2.denselayer12.conv2.weight", dtype: "F32", shape: [1, 1, 3, 3] });
  assert.equal((await renamed.readFloat32("features.denseblock1.denselayer1.norm1.running_var"))[0], 3);
  assert.equal(renamed.info("features.denseblock1.denselayer1.norm.1.weight"), undefined, "the old name is gone, as in torchvision");
  await assert.rejects(renamed.readFloat32("features.denseblock1.denselayer1.norm.1.weight"), WeightsError);
});

test("a renamed key wins over a key that already has its name, as in torchvision's loader", async () => {
  const file = memorySource({ "a.denselayer1.norm1.weight": tensor(1), "a.denselayer1.norm.1.weight": tensor(2), "b.denselayer1.norm.1.bias": tensor(3), "b.denselayer1.norm1.bias": tensor(4) });
  const renamed = withRenamedKeys(file, OLD_DENSENET_KEYS);
  assert.deepEqual(renamed.keys(), ["a.denselayer1.norm1.weight", "b.denselayer1.norm1.bias"]);
  assert.equal((await renamed.readFloat32("a.denselayer1.norm1.weight"))[0], 2);
  assert.equal((await renamed.readFloat32("b.denselayer1.norm1.bias"))[0], 3);
});

test("no rules, no change; only DenseNets carry renames in the zoo", () => {
  const file = memorySource({ x: tensor(1) });
  assert.equal(withRenamedKeys(file, []), file);
  assert.equal(getModelEntry("densenet161").checkpointKeyRenames, OLD_DENSENET_KEYS);
  assert.equal(getModelEntry("resnet50").checkpointKeyRenames, undefined);
});
