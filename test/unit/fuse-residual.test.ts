import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor } from "../../compiler/api.js";
import type { Instruction, Program } from "../../compiler/graph/program.js";
import { AdaptiveAvgPool2d, Conv2d, Module, type Tensor as Traced } from "../../models/nn/index.js";
import { ops, tf, useBackend, type Tensor } from "../../runtime/index.js";

/**
 * The residual fusion (compiler/passes/fuse.ts): a block's conv2d → add → relu becomes one
 * conv2dAdd, in either operand order, unless the convolution's or the add's value is returned
 * (or read elsewhere), or the add broadcasts. Numerics against torchvision where the fusion must
 * keep values: the engines_resnet18_residual fixture (test/e2e/numeric-engines.test.ts).
 */

const programOf = (model: string | Module, returnNodes: string[], size = 32): Program =>
  createFeatureExtractor(model, { returnNodes, size, suppressDiffWarning: true }).program;

const named = (program: Program, op: string): Instruction[] => program.instructions.filter((i) => i.op === op);

test("every resnet50 bottleneck ends in one conv2dAdd with the block's relu, named after its nodes", () => {
  const program = programOf("resnet50", ["layer1", "layer2", "layer3", "layer4"], 64);
  const fused = named(program, "conv2dAdd");
  assert.equal(fused.length, 16);
  assert.equal(named(program, "add").length, 0);
  assert.ok(fused.every((i) => i.op === "conv2dAdd" && i.attrs.activation === "relu"));
  // A block with a downsample adds two convolutions: the later one (the downsample) takes the add,
  // so that the calls keep their order; conv3's result is the addend.
  const first = fused[0]!;
  assert.equal(first.id, "layer1_0_relu_2");
  assert.deepEqual(first.nodes, ["layer1.0.downsample.0", "layer1.0.downsample.1", "layer1.0.add", "layer1.0.relu_2"]);
  assert.deepEqual(
    first.inputs.map((o) => (o.kind === "value" || o.kind === "param" ? o.id : o.kind)),
    ["maxpool", "layer1_0_downsample_0_weight_bn", "layer1_0_downsample_0_bias_bn", "layer1_0_bn3"],
  );
  const ids = program.instructions.map((i) => i.id);
  assert.ok(ids.indexOf("layer1_0_bn3") < ids.indexOf("layer1_0_relu_2"), "conv3 runs before the downsample, as unfused");
  // A block without one adds its input to conv3's result.
  const second = fused[1]!;
  assert.deepEqual(second.nodes, ["layer1.1.conv3", "layer1.1.bn3", "layer1.1.add", "layer1.1.relu_2"]);
  assert.deepEqual(second.inputs[3], { kind: "value", id: "layer1_0_relu_2" }, "the addend is the block's input");
  assert.match(first.note ?? "", /batch norm folded .*; residual add fused .*; relu fused/);
});

test("the convolution may be the add's second operand: mobilenet_v2's x + conv(x), no activation", () => {
  const program = programOf("mobilenet_v2", ["features.17"], 64);
  const fused = named(program, "conv2dAdd");
  assert.equal(fused.length, 10);
  assert.equal(named(program, "add").length, 0);
  const block = fused.find((i) => i.nodes.includes("features.3.add"))!;
  assert.equal(block.op === "conv2dAdd" ? block.attrs.activation : "?", undefined);
  assert.deepEqual(block.inputs[3], { kind: "value", id: "features_2_conv_3" }, "the addend is the block's input");
});

test("a returned convolution is not fused into its add", () => {
  const program = programOf("resnet18", ["layer1.0.bn2", "layer1.1.add", "layer2"]);
  const blockOf = (node: string) => program.instructions.find((i) => i.nodes.includes(node));
  assert.equal(blockOf("layer1.0.add")?.op, "add", "layer1.0.bn2 is returned: its add stays");
  assert.deepEqual(blockOf("layer1.0.add")?.inputs[0], { kind: "value", id: "layer1_0_bn2" });
  // torch's relu(inplace=True) writes over the add's tensor, so torchvision returns layer1.1.add
  // after the relu (the fixture checks the values): the relu still fuses.
  assert.deepEqual(program.outputs.find((o) => o.key === "layer1.1.add")?.operand, { kind: "value", id: "layer1_1_relu_1" });
  assert.deepEqual(
    named(program, "conv2dAdd").map((i) => i.id),
    ["layer1_1_relu_1", "layer2_0_relu_1", "layer2_1_relu_1"],
  );
});

/** conv(x) plus a value of the convolution's shape, or plus a [N, C, 1, 1] one that broadcasts. */
class ConvPlus extends Module {
  conv = new Conv2d(3, 3, 3, { padding: 1 });
  other = new Conv2d(3, 3, 1);
  pool = new AdaptiveAvgPool2d(1);
  constructor(readonly broadcast: boolean) {
    super();
  }
  forward(x: Traced): Traced {
    const other = this.broadcast ? this.pool.call(x) : this.other.call(x);
    return this.conv.call(x).add(other).relu();
  }
}

test("a returned add keeps its relu apart", () => {
  const program = programOf(new ConvPlus(false), ["add", "relu"], 8);
  const [fused, relu] = program.instructions.slice(-2);
  assert.deepEqual([fused?.op, fused?.id, fused?.op === "conv2dAdd" ? fused.attrs.activation : "?"], ["conv2dAdd", "add", undefined]);
  assert.deepEqual([relu?.op, relu?.inputs], ["relu", [{ kind: "value", id: "add" }]]);
});

test("an add that broadcasts stays an add", () => {
  const same = programOf(new ConvPlus(false), ["relu"], 8);
  assert.deepEqual(same.instructions.at(-1)?.op, "conv2dAdd");
  const broadcast = programOf(new ConvPlus(true), ["relu"], 8);
  assert.equal(named(broadcast, "conv2dAdd").length, 0);
  assert.deepEqual(
    broadcast.instructions.slice(-2).map((i) => i.op),
    ["add", "relu"],
  );
});

test("tfjs's conv2dAdd is relu(conv2d + addend), grouped filters and one bias included", async () => {
  await useBackend("cpu");
  const random = (shape: number[], seed: number): Tensor => tf.randomNormal(shape, 0, 1, "float32", seed);
  const x = random([2, 5, 5, 4], 1);
  const addend = random([2, 5, 5, 6], 2);
  const attrs = { stride: [1, 1], padding: [1, 1] } as const;
  const cases: [string, Tensor | Tensor[], Tensor | Tensor[] | null, number][] = [
    ["plain", random([3, 3, 4, 6], 3), random([6], 4), 1],
    ["no bias", random([3, 3, 4, 6], 3), null, 1],
    ["grouped, a bias per group", [random([3, 3, 2, 3], 5), random([3, 3, 2, 3], 6)], [random([3], 7), random([3], 8)], 2],
    ["grouped, one bias", [random([3, 3, 2, 3], 5), random([3, 3, 2, 3], 6)], random([6], 4), 2],
  ];
  for (const [label, weight, bias, groups] of cases) {
    const grouping = groups > 1 ? { groups } : {};
    for (const activation of ["relu", "relu6", undefined] as const) {
      const fused = ops.conv2dAdd(x, weight, bias, addend, { ...attrs, ...grouping, ...(activation ? { activation } : {}) });
      const sum = tf.add(ops.conv2d(x, weight, bias, { ...attrs, ...grouping }), addend);
      const expected = activation === "relu" ? tf.relu(sum) : activation === "relu6" ? tf.relu6(sum) : sum;
      assert.deepEqual(fused.shape, [2, 5, 5, 6]);
      assert.deepEqual(fused.dataSync(), expected.dataSync(), `${label}, ${activation ?? "no activation"}`);
    }
  }
});
