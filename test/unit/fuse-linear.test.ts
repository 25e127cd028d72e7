import { test } from "node:test";
import assert from "node:assert/strict";
import { extractorProgram, loadProgram } from "../../compiler/api.js";
import type { Instruction, Program } from "../../compiler/graph/program.js";
import { GELU, LayerNorm, Linear, Module, ReLU, type Tensor as Traced } from "../../models/nn/index.js";
import { ops, tf, useBackend, type Tensor } from "../../runtime/index.js";
import { seededWeights } from "../support/seeded.js";
import { VisionTransformer } from "../../models/zoo/vit.js";

/**
 * The linear fusions (compiler/passes/fuse.ts), eval mode only: linear → gelu | relu | relu6 as
 * linear's activation, add(linear, r) in either order as linearAdd, and a layer norm over the last
 * dim read only by a linear (and by shapeOfs, re-pointed to its input) as layerNormLinear; never
 * where an intermediate is returned or read twice. tfjs's fused kernels against the unfused calls.
 */

/** A transformer MLP block on flattened images: x + fc2(gelu(fc1(ln(x)))), the batch size read off ln's result. */
class MlpBlock extends Module {
  ln = new LayerNorm(12);
  fc1 = new Linear(12, 20);
  act = new GELU();
  fc2 = new Linear(20, 12);
  constructor(readonly residualFirst: boolean) {
    super();
  }
  forward(x: Traced): Traced {
    const tokens = x.flatten(2).transpose(1, 2);
    const normed = this.ln.call(tokens);
    const n = normed.size(0);
    const mlp = this.fc2.call(this.act.call(this.fc1.call(normed)));
    const out = this.residualFirst ? tokens.add(mlp) : mlp.add(tokens);
    return out.reshape(n, -1);
  }
}

/** A box head: relu(fc7(relu(fc6(flatten(x))))). */
class BoxHead extends Module {
  fc6 = new Linear(48, 8);
  relu6 = new ReLU();
  fc7 = new Linear(8, 5);
  relu7 = new ReLU();
  forward(x: Traced): Traced {
    return this.relu7.call(this.fc7.call(this.relu6.call(this.fc6.call(x.flatten(1)))));
  }
}

const inputShape = [2, 12, 2, 2] as const;
const programOf = (model: Module, returnNodes: string[], mode: "eval" | "train" = "eval"): Program => extractorProgram(model, { returnNodes, mode, inputShape });
const opsOf = (program: Program): string[] => program.instructions.map((i) => i.op);
const find = (program: Program, op: string): Instruction | undefined => program.instructions.find((i) => i.op === op);

test("a transformer MLP block becomes layerNormLinear with gelu, then linearAdd; the size reads ln's input", () => {
  for (const residualFirst of [true, false]) {
    const program = programOf(new MlpBlock(residualFirst), ["reshape"]);
    const ops = opsOf(program);
    for (const gone of ["layerNorm", "linear", "gelu", "add"]) assert.ok(!ops.includes(gone), `${gone} left in ${ops.join(", ")}`);
    const fc1 = find(program, "layerNormLinear")!;
    assert.deepEqual(fc1.attrs, { eps: 1e-5, activation: "gelu" });
    assert.deepEqual(fc1.nodes, ["ln", "fc1", "act"]);
    const fc2 = find(program, "linearAdd")!;
    assert.deepEqual(fc2.attrs, {});
    assert.deepEqual(fc2.nodes, ["fc2", "add"]);
    // The residual (the tokens, ln's input) is the addend, whichever side of the add it was on.
    assert.deepEqual(fc2.inputs[3], fc1.inputs[0]);
    assert.ok(ops.indexOf("layerNormLinear") < ops.indexOf("linearAdd"), "the calls keep their order");
  }
});

test("each ViT encoder block is two layerNormLinears and two linearAdds; no shapeOf reads ln's output", () => {
  const vit = new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10 });
  // Any batch size: the self-attention reads it at run time (a shapeOf of ln).
  const program = extractorProgram(vit, { returnNodes: ["encoder.ln"], size: 32 });
  const count = (op: string): number => opsOf(program).filter((o) => o === op).length;
  assert.deepEqual(
    ["layerNormLinear", "linearAdd", "linear", "gelu", "add", "layerNorm"].map(count),
    [4, 4, 0, 0, 1, 1],
    "per block: ln → in_proj, ln_2 → fc1 (gelu), out_proj + x, fc2 + x; the pos embedding's add and encoder.ln remain",
  );
  const inProj = program.instructions.find((i) => i.op === "layerNormLinear" && i.nodes[0] === "encoder.layers.encoder_layer_0.ln")!;
  // The self-attention's batch-size read went with the multi-head attention fusion (nothing reads it
  // after); a shapeOf that stays is re-pointed to ln's input (the MLP block's test above).
  const sizes = program.instructions.filter((i) => i.op === "shapeOf" && i.nodes.includes("encoder.layers.encoder_layer_0.self_attention"));
  for (const size of sizes) assert.deepEqual(size.inputs, [inProj.inputs[0]], "the size reads the layer norm's input");
  assert.deepEqual(
    program.instructions.filter((i) => i.op === "layerNormLinear").map((i) => i.attrs),
    [{ eps: 1e-6 }, { eps: 1e-6, activation: "gelu" }, { eps: 1e-6 }, { eps: 1e-6, activation: "gelu" }],
  );
});

test("a returned or twice-read intermediate is never fused away", () => {
  const lnReturned = programOf(new MlpBlock(true), ["ln", "reshape"]);
  assert.equal(find(lnReturned, "layerNormLinear"), undefined);
  assert.deepEqual(find(lnReturned, "linear")?.attrs, { activation: "gelu" });
  const fc1Returned = programOf(new MlpBlock(true), ["fc1", "reshape"]);
  assert.deepEqual(find(fc1Returned, "layerNormLinear")?.attrs, { eps: 1e-5 });
  assert.equal(opsOf(fc1Returned).filter((op) => op === "gelu").length, 1);
  const fc2Returned = programOf(new MlpBlock(true), ["fc2", "reshape"]);
  assert.equal(find(fc2Returned, "linearAdd"), undefined);
  assert.ok(opsOf(fc2Returned).includes("add"));
  // fc6 returned: its relu stays its own call; fc7's relu fuses.
  const head = programOf(new BoxHead(), ["fc6", "relu7"]);
  assert.deepEqual(opsOf(head).slice(-3), ["linear", "relu", "linear"]);
  assert.deepEqual(head.instructions.at(-1)?.attrs, { activation: "relu" });
  // fc6's relu returned and read by fc7: the fused call takes the relu's name, so both read it.
  const reluReturned = programOf(new BoxHead(), ["relu6", "relu7"]);
  assert.deepEqual(opsOf(reluReturned).slice(-2), ["linear", "linear"]);
  assert.deepEqual(reluReturned.outputs.find((o) => o.key === "relu6")?.operand, { kind: "value", id: reluReturned.instructions.at(-2)!.id });
});

test("a box head's relus fuse into its linears; train mode keeps every call", () => {
  const head = programOf(new BoxHead(), ["relu7"]);
  assert.deepEqual(
    head.instructions.filter((i) => i.op === "linear").map((i) => i.attrs),
    [{ activation: "relu" }, { activation: "relu" }],
  );
  assert.ok(!opsOf(head).includes("relu"));
  const train = programOf(new MlpBlock(true), ["reshape"], "train");
  for (const kept of ["layerNorm", "linear", "gelu", "add"]) assert.ok(opsOf(train).includes(kept), `${kept} missing in train mode`);
  assert.ok(!opsOf(train).some((op) => op === "linearAdd" || op === "layerNormLinear"));
});

test("the fused program computes what the unfused calls do (tfjs, cpu)", async () => {
  await useBackend("cpu");
  const model = new MlpBlock(false);
  const fused = programOf(model, ["reshape"]);
  const unfused = programOf(model, ["ln", "fc1", "reshape"]);
  const weights = seededWeights(model, 3);
  const [a, b] = [await loadProgram(fused, weights, { engine: "tfjs" }), await loadProgram(unfused, weights, { engine: "tfjs" })];
  const x = tf.randomNormal([...inputShape], 0, 1, "float32", 7) as tf.Tensor4D;
  const [ya, yb] = [a.forward(x)["reshape"]!, b.forward(x)["reshape"]!];
  assert.ok(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]! < 1e-5);
});

test("tfjs's fused linear kernels are their compositions: relu6, gelu, residual, layer norm", async () => {
  await useBackend("cpu");
  const x = tf.randomNormal([3, 5, 7], 0, 2, "float32", 1);
  const w = tf.randomNormal([7, 6], 0, 1, "float32", 2);
  const bias = tf.randomNormal([6], 0, 1, "float32", 3);
  const r = tf.randomNormal([3, 5, 6], 0, 1, "float32", 4);
  const [gamma, beta] = [tf.randomNormal([7], 1, 0.1, "float32", 5), tf.randomNormal([7], 0, 0.1, "float32", 6)];
  const close = (got: Tensor, want: Tensor): void => assert.ok(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]! < 1e-5);
  close(ops.linear(x, w, bias, { activation: "relu6" }), ops.relu6(ops.linear(x, w, bias)));
  close(ops.linear(x, w, null, { activation: "gelu" }), ops.gelu(ops.linear(x, w, null), { approximate: "none" }));
  close(ops.linearAdd(x, w, bias, r, { activation: "gelu" }), ops.gelu(ops.add(ops.linear(x, w, bias), r)));
  const normed = ops.layerNorm(x, gamma, beta, { dims: 1, eps: 1e-6 });
  close(ops.layerNormLinear(x, gamma, beta, w, bias, { eps: 1e-6, activation: "relu" }), ops.relu(ops.linear(normed, w, bias)));
});
