import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor } from "../../compiler/api.js";
import type { Operand, ParamSpec } from "../../compiler/graph/program.js";
import { loadParams } from "../../runtime/params.js";
import { memorySource, tf, useBackend } from "../../runtime/index.js";
import { seededTensor } from "../support/seeded.js";

/**
 * A grouped convolution gets one filter tensor per group, made at load time, so the backend
 * prepares each group's convolution once; in eval mode the batch norm after it is folded into
 * each group's filter and bias. (Numerics: resnext50_32x4d and RegNet fixtures, train and eval.)
 */
function convOf(model: string, node: string, mode: "eval" | "train"): { inputs: readonly Operand[]; specs: Map<string, ParamSpec> } {
  const { program } = createFeatureExtractor(model, { returnNodes: [node], size: 32, mode, suppressDiffWarning: true });
  const conv = program.instructions.find((i) => i.op === "conv2d" && i.nodes.includes(node.replace(/bn2$/, "conv2")));
  assert.ok(conv, `a conv2d computes ${node}`);
  return { inputs: conv.inputs, specs: new Map(program.params.map((s) => [s.id, s])) };
}

const partsOf = (o: Operand | undefined, specs: Map<string, ParamSpec>): ParamSpec[] => {
  assert.equal(o?.kind, "list");
  return (o as Extract<Operand, { kind: "list" }>).items.map((i) => specs.get((i as { id: string }).id)!);
};

test("eval: resnext50_32x4d's grouped 3x3 has 32 folded filter and bias parts", () => {
  const { inputs, specs } = convOf("resnext50_32x4d", "layer1.0.bn2", "eval");
  const filters = partsOf(inputs[1], specs);
  const biases = partsOf(inputs[2], specs);
  assert.equal(filters.length, 32);
  filters.forEach((s, i) => {
    assert.deepEqual(s.part, { index: i, count: 32 });
    assert.deepEqual(s.source, { fold: "filter", conv: "layer1.0.conv2", convBias: false, bn: "layer1.0.bn2", affine: true, eps: 1e-5 });
    assert.equal(s.transform, "conv2dFilter");
  });
  biases.forEach((s, i) => assert.deepEqual([s.part, "fold" in s.source && s.source.fold], [{ index: i, count: 32 }, "bias"]));
});

test("train: the per-group filters are slices of the checkpoint's filter, and there is no bias", () => {
  const { inputs, specs } = convOf("resnext50_32x4d", "layer1.0.conv2", "train");
  const filters = partsOf(inputs[1], specs);
  assert.deepEqual(new Set(filters.map((s) => JSON.stringify(s.source))), new Set([JSON.stringify({ key: "layer1.0.conv2.weight" })]));
  assert.deepEqual(inputs[2], { kind: "const", value: null });
});

test("loading a filter's parts gives each group its output channels, in tfjs's HWIO layout", async () => {
  // torch [out=6, in/groups=2, 1, 1] in 3 groups: group g holds output channels 2g and 2g+1.
  await useBackend("cpu");
  const key = "conv.weight";
  const values = seededTensor(key, [6, 2, 1, 1], 1);
  const source = memorySource(new Map([[key, { shape: [6, 2, 1, 1], data: values }]]), "test");
  const specs: ParamSpec[] = [0, 1, 2].map((index) => ({ id: `g${index}`, source: { key }, transform: "conv2dFilter", part: { index, count: 3 } }));
  const params = await loadParams(source, { [key]: [6, 2, 1, 1] }, specs);
  for (const [g, spec] of specs.entries()) {
    const t = params[spec.id]!;
    assert.deepEqual(t.shape, [1, 1, 2, 2]);
    // HWIO: [0, 0, i, o] is torch's [2g + o, i].
    const got = Array.from(await t.data());
    assert.deepEqual(got, [values[(2 * g) * 2 + 0], values[(2 * g + 1) * 2 + 0], values[(2 * g) * 2 + 1], values[(2 * g + 1) * 2 + 1]].map((v) => Math.fround(v!)));
  }
  tf.dispose(Object.values(params));
});
