import { test } from "node:test";
import assert from "node:assert/strict";
import { extractorProgram } from "../../compiler/api.js";
import { interpret } from "../../compiler/interpret/interpreter.js";
import { getModel } from "../../models/zoo/registry.js";
import { buildGraph, foldWeightTransposes } from "../../runtime/onnx/engine.js";
import { prepareParams, type HostTensor } from "../../runtime/params.js";
import { seededWeights } from "../support/seeded.js";

/**
 * Filters are read in torch's OIHW, taken by the kernels in tfjs's HWIO, and given to ONNX's Conv
 * in OIHW again. The HWIO copy is made only where it is read (the tfjs engine); on the ONNX engine
 * the two moves cancel and the model holds the array as read (batch norm folded), not a copy.
 */

const MODEL = "mobilenet_v2";
// A plain 3x3 convolution (stem), a depthwise one (features.1.conv.0.0), 1x1 ones, and the classifier's linear layer.
const program = extractorProgram(MODEL, { returnNodes: ["features.2", "classifier.1"], size: 32, suppressDiffWarning: true });

async function prepared(): Promise<Record<string, HostTensor>> {
  return prepareParams(seededWeights(getModel(MODEL), 3), program.checkpoint, program.params);
}

test("a filter's HWIO values (made when read, not kept) hold torch's OIHW ones moved; a depthwise one's [kh, kw, C, 1]", async () => {
  const host = await prepared();
  const stem = host[program.params.find((p) => p.transform === "conv2dFilter")!.id]!;
  const [kh, kw, i, o] = stem.shape as [number, number, number, number];
  assert.deepEqual(stem.permutationOf?.shape, [o, i, kh, kw]);
  const torch = stem.permutationOf!.values;
  const hwio = stem.values;
  assert.notEqual(hwio, torch);
  assert.notEqual(stem.values, hwio, "made on each read: the host keeps only the array as read");
  for (const [y, x, c, f] of [[0, 0, 0, 0], [2, 1, 1, 5], [1, 2, 2, o - 1]] as const) {
    assert.equal(hwio[((y * kw + x) * i + c) * o + f], torch[((f * i + c) * kh + y) * kw + x], `[${y}, ${x}, ${c}, ${f}]`);
  }
  const depthwise = host[program.params.find((p) => p.transform === "depthwiseFilter")!.id]!;
  const [dh, dw, channels, one] = depthwise.shape as [number, number, number, number];
  assert.equal(one, 1);
  const torchDw = depthwise.permutationOf!.values;
  const hwc1 = depthwise.values;
  for (const [y, x, c] of [[0, 0, 0], [1, 2, 5], [2, 2, channels - 1]] as const) {
    assert.equal(hwc1[(y * dw + x) * channels + c], torchDw[(c * dh + y) * dw + x], `[${y}, ${x}, ${c}]`);
  }
});

test("the ONNX model's convolution filters are the arrays as read, not copies, and no transpose of a weight is left", async () => {
  const host = await prepared();
  const read = new Set(Object.values(host).map((p) => p.permutationOf?.values).filter((v) => v !== undefined));
  const { graph, tensors } = buildGraph(interpret(program) as never, host, [2, 32, 32, 3]);
  foldWeightTransposes(graph, tensors);
  const convs = graph.nodes.filter((n) => n.op === "Conv");
  assert.ok(convs.length >= 5);
  for (const conv of convs) assert.ok(read.has(graph.initializers.get(conv.inputs[1]!)!.data as Float32Array), `${conv.outputs[0]}'s filter is the array as read`);
  assert.deepEqual(graph.nodes.filter((n) => n.op === "Transpose" && graph.initializers.has(n.inputs[0]!)), []);
});
