import { test } from "node:test";
import assert from "node:assert/strict";
import { getGraphNodeNames } from "../../compiler/api.js";
import { getModelEntry, listModels } from "../../models/zoo/registry.js";
import { registerModels } from "../../models/zoo/entry.js";
import { torchvisionNodeNames } from "../support/fixtures.js";

const reference = torchvisionNodeNames();

test("the zoo is torchvision 0.14.1's 80 classification models, listed sorted as its list_models() lists them", () => {
  for (const name of listModels()) assert.ok(name in reference, `${name} is not in torchvision 0.14.1's list`);
  assert.deepEqual(listModels(), Object.keys(reference).sort());
});

test("a family registers its models once: a name registered again is refused", () => {
  assert.throws(() => registerModels(getModelEntry("resnet18")), /model resnet18 is registered twice/);
});

for (const name of listModels()) {
  test(`${name}: node names equal torchvision's in train and eval mode`, () => {
    const warnings: string[] = [];
    const ours = getGraphNodeNames(name, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(ours.eval, reference[name]!.eval);
    assert.deepEqual(ours.train, reference[name]!.train);
    const differ = reference[name]!.train.join() !== reference[name]!.eval.join();
    assert.equal(warnings.length, differ ? 1 : 0, "the train/eval difference warning fires exactly when the graphs differ");
  });
}
