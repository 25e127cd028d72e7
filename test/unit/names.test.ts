import { test } from "node:test";
import assert from "node:assert/strict";
import { getGraphNodeNames } from "../../compiler/api.js";
import { listModels } from "../../models/zoo/registry.js";
import { torchvisionNodeNames } from "../support/fixtures.js";

const reference = torchvisionNodeNames();

test("the zoo is torchvision 0.14.1's 80 classification models", () => {
  for (const name of listModels()) assert.ok(name in reference, `${name} is not in torchvision 0.14.1's list`);
  assert.deepEqual([...listModels()].sort(), Object.keys(reference).sort());
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
