import { test } from "node:test";
import assert from "node:assert/strict";
import { extractorProgram, loadProgram } from "../../compiler/api.js";
import { selectNodes, traceMode, withModuleFacts } from "../../compiler/pipeline.js";
import { lower } from "../../compiler/passes/lower.js";
import type { Instruction, Program } from "../../compiler/graph/program.js";
import { Conv2d, F, Module, type Tensor as Traced } from "../../models/nn/index.js";
import { VisionTransformer } from "../../models/zoo/vit.js";
import { ops, tf, useBackend } from "../../runtime/index.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { seededUniform, seededWeights } from "../support/seeded.js";

/**
 * The multi-head attention fusion (compiler/passes/fuse.ts fuseMultiHeadAttention): the packed
 * q|k|v product's split, torch's head split of each, the attention and the heads' merge become
 * one multiHeadAttention call, only where every move provably is torch's head split and nothing
 * else reads a step. (Numbers against torchvision: the vit_* fixture cases.)
 */

const opsOf = (program: Program): string[] => program.instructions.map((i) => i.op);
const count = (program: Program, op: string): number => opsOf(program).filter((o) => o === op).length;
const fused = (program: Program): Extract<Instruction, { op: "multiHeadAttention" }>[] =>
  program.instructions.filter((i): i is Extract<Instruction, { op: "multiHeadAttention" }> => i.op === "multiHeadAttention");

const probe = (returnNodes: string[]): Program => extractorProgram(VIT_SWIN_FACTORIES["sdpa_probe"]!(), { returnNodes, inputShape: [2, 3, 5, 5] });

test("ViT's self-attention is one multiHeadAttention call reading the in-projection's product, at a fixed and a free batch", () => {
  const vit = new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10 });
  for (const options of [{ inputShape: [1, 3, 32, 32] as const }, { size: 32 }]) {
    const program = extractorProgram(vit, { returnNodes: ["encoder.ln"], ...options });
    const calls = fused(program);
    assert.equal(calls.length, 2);
    const attentionOps = program.instructions.filter((i) => i.nodes.some((n) => n.endsWith(".self_attention"))).map((i) => i.op);
    // The products around it carry the block's layer norm (in_proj) and residual (out_proj): compiler/passes/fuse.ts's linear fusions.
    assert.deepEqual(attentionOps, ["layerNormLinear", "multiHeadAttention", "linearAdd", "layerNormLinear", "multiHeadAttention", "linearAdd"], "no split, getitem, move or shape read left");
    assert.deepEqual(calls[0]!.attrs, { heads: 2, scale: 8 ** -0.5 });
    const input = calls[0]!.inputs[0];
    const producer = program.instructions.find((i) => input?.kind === "value" && i.id === input.id);
    assert.equal(producer?.op, "layerNormLinear", "it reads the in-projection's packed product");
    assert.equal(program.instructions[program.instructions.indexOf(calls[0]!) + 1]?.op, "linearAdd", "out_proj reads its [B, T, E] result");
  }
});

test("attention written from torch's functions fuses with its head split and merge, named after every node it computes", () => {
  const [call, ...rest] = fused(probe(["reshape_3"]));
  assert.equal(rest.length, 0);
  assert.equal(call!.id, "reshape_3");
  assert.deepEqual(call!.attrs, { heads: 2, scale: 0.5 });
  assert.deepEqual(call!.nodes.slice(0, 4), ["chunk", "getitem", "getitem_1", "getitem_2"]);
  assert.deepEqual(call!.nodes.slice(-6), ["mul", "matmul", "softmax", "matmul_1", "transpose_5", "reshape_3"]);
});

test("a step returned keeps the heads' split and merge unfused (the attention itself still fuses where it can)", () => {
  assert.equal(count(probe(["reshape_3"]), "multiHeadAttention"), 1, "with nothing else reading a step, the chain fuses");
  // q as split off, q's heads, kᵀ, the attention's result, the heads before the merge's reshape.
  for (const step of ["getitem", "getitem_1", "transpose_1", "transpose_4", "matmul_1", "transpose_5"]) {
    const program = probe([step, "reshape_3"]);
    assert.equal(count(program, "multiHeadAttention"), 0, step);
    assert.equal(count(program, "attention"), 1, step);
    assert.equal(count(program, "split"), 1, step);
  }
  // The whole chunk returned: its tuple is read by the caller too.
  assert.equal(count(probe(["chunk", "reshape_3"]), "multiHeadAttention"), 0);
});

/** Heads split off as [B, T, D, H] instead of torch's [B, T, H, D]: the same shapes after the permute, other data. */
class TransposedHeads extends Module {
  proj = new Conv2d(3, 24, 1);

  forward(x: Traced): Traced {
    const tokens = F.transpose(this.proj.call(x).flatten(2), 1, 2);
    const [q, k, v] = tokens.chunk(3, -1);
    const heads = (t: Traced): Traced => F.permute(t.reshape(-1, 25, 4, 2), [0, 3, 1, 2]);
    const out = F.matmul(F.matmul(heads(q!).mul(0.5), F.transpose(heads(k!), -2, -1)).softmax(-1), heads(v!));
    return F.transpose(out, 1, 2).reshape(-1, 25, 8);
  }
}

test("moves that are not torch's head split are not fused, though every shape agrees", () => {
  const program = extractorProgram(new TransposedHeads(), { returnNodes: ["reshape_3"], inputShape: [2, 3, 5, 5] });
  assert.equal(count(program, "attention"), 1);
  assert.equal(count(program, "multiHeadAttention"), 0, opsOf(program).join(", "));
  assert.equal(count(probe(["reshape_3"]), "multiHeadAttention"), 1, "torch's head split in the same model fuses");
});

/** multi_head_attention_forward written out per element: q, k, v are the packed row's E-wide blocks, head h their columns h·D..h·D+D-1. */
function naiveMultiHeadAttention(qkv: Float32Array, [batch, tokens, width]: readonly number[], heads: number, scale: number): Float32Array {
  const embed = width! / 3;
  const dim = embed / heads;
  const at = (b: number, t: number, block: number, h: number, d: number): number => qkv[(b * tokens! + t) * width! + block * embed + h * dim + d]!;
  const out = new Float32Array(batch! * tokens! * embed);
  for (let b = 0; b < batch!; b++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < tokens!; t++) {
        const scores = Array.from({ length: tokens! }, (_, s) => scale * Array.from({ length: dim }, (_, d) => at(b, t, 0, h, d) * at(b, s, 1, h, d)).reduce((x, y) => x + y, 0));
        const top = Math.max(...scores);
        const weights = scores.map((x) => Math.exp(x - top));
        const total = weights.reduce((x, y) => x + y, 0);
        for (let d = 0; d < dim; d++) out[(b * tokens! + t) * embed + h * dim + d] = weights.reduce((sum, w, s) => sum + (w / total) * at(b, s, 2, h, d), 0);
      }
    }
  }
  return out;
}

test("tfjs's multiHeadAttention is torch's: each head's attention over its columns of q, k and v, concatenated", async () => {
  await useBackend("cpu");
  for (const [shape, heads] of [[[2, 5, 36], 3], [[1, 1, 24], 2], [[3, 7, 12], 1]] as const) {
    const qkv = seededUniform(shape, 11);
    const out = ops.multiHeadAttention(qkv, { heads, scale: 0.3 });
    assert.deepEqual(out.shape, [shape[0], shape[1], shape[2] / 3]);
    const want = naiveMultiHeadAttention(qkv.dataSync() as Float32Array, shape, heads, 0.3);
    const got = out.dataSync();
    assert.ok(
      want.every((w, i) => Math.abs(w - got[i]!) <= 1e-5),
      `[${shape.join(", ")}], ${heads} heads`,
    );
    tf.dispose([qkv, out]);
  }
  assert.throws(() => ops.multiHeadAttention(tf.zeros([1, 2, 30]), { heads: 4, scale: 1 }), /E a multiple of 4 heads/);
});

test("ViT with its self_attention returned runs the fused program to the unfused program's numbers", async () => {
  await useBackend("cpu");
  const vit = new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10 });
  const returnNodes = ["encoder.layers.encoder_layer_0.self_attention", "encoder.ln"];
  const fusedProgram = extractorProgram(vit, { returnNodes, size: 32 });
  assert.equal(count(fusedProgram, "multiHeadAttention"), 2);
  const { graph, outputs } = selectNodes(traceMode(vit, "eval", { size: 32 }), returnNodes, "eval");
  const unfused = withModuleFacts(lower(graph, outputs, { mode: "eval", layout: "nhwc" }), vit);
  assert.equal(count(unfused, "multiHeadAttention") + count(unfused, "attention"), 0);
  const weights = seededWeights(vit, 1);
  const x = tf.transpose(seededUniform([2, 3, 32, 32], 2), [0, 2, 3, 1]);
  const [fusedOut, unfusedOut] = await Promise.all([fusedProgram, unfused].map(async (program) => (await loadProgram(program, weights, { backend: "cpu" })).run(x)));
  for (const key of Object.keys(unfusedOut!)) {
    // self_attention's value is MultiheadAttention's (output, weights or None).
    const [got, want] = [fusedOut![key], unfusedOut![key]].map((t) => [t].flat().map((v: tf.Tensor | null | undefined) => v?.dataSync() ?? null));
    assert.deepEqual(got, want, key);
  }
});
