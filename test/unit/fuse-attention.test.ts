import { test } from "node:test";
import assert from "node:assert/strict";
import { extractorProgram } from "../../compiler/api.js";
import type { Instruction, Program } from "../../compiler/graph/program.js";
import { VisionTransformer } from "../../models/zoo/vit.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";

/**
 * The attention fusion (compiler/passes/fuse.ts): mul → matmul → softmax → matmul becomes one
 * attention call where no step is returned or read elsewhere, in eval mode and in train mode
 * through a dropout of p = 0; never otherwise. (The fused and unfused programs' numbers against
 * torchvision: the vit_sdpa_* and vit_* fixture cases.)
 */

const ops = (program: Program): string[] => program.instructions.map((i) => i.op);
const count = (program: Program, op: string): number => ops(program).filter((o) => o === op).length;
const attentions = (program: Program): Extract<Instruction, { op: "attention" }>[] =>
  program.instructions.filter((i): i is Extract<Instruction, { op: "attention" }> => i.op === "attention");

const multiHeadAttentions = (program: Program): Extract<Instruction, { op: "multiHeadAttention" }>[] =>
  program.instructions.filter((i): i is Extract<Instruction, { op: "multiHeadAttention" }> => i.op === "multiHeadAttention");

const probe = (returnNodes: string[], mode: "eval" | "train" = "eval"): Program =>
  extractorProgram(VIT_SWIN_FACTORIES["sdpa_probe"]!(), { returnNodes, mode, inputShape: [2, 3, 5, 5] });

test("attention written from torch's functions fuses into one call, its comment naming the fused nodes", () => {
  // The attention's result returned keeps the heads' split and merge around it (test/unit/fuse-mha.test.ts).
  const program = probe(["matmul_1", "reshape_3"]);
  const [fused] = attentions(program);
  assert.equal(attentions(program).length, 1);
  assert.equal(count(program, "softmax") + count(program, "matmul") + count(program, "mul"), 0, ops(program).join(", "));
  assert.deepEqual(fused!.attrs, { scale: 0.5 });
  assert.deepEqual(fused!.nodes, ["mul", "matmul", "softmax", "matmul_1"]);
  assert.equal(fused!.note, "mul → matmul → softmax → matmul fused into one attention call");
  assert.equal(fused!.id, "matmul_1", "the attention takes the final matmul's place and name");
});

test("a returned step is never fused away: the softmax returned keeps the chain; the scaling returned stays its own call", () => {
  const softmaxReturned = probe(["softmax", "reshape_3"]);
  assert.equal(count(softmaxReturned, "attention"), 0);
  assert.equal(count(softmaxReturned, "softmax"), 1);
  assert.equal(count(softmaxReturned, "matmul"), 2);
  const scoresReturned = probe(["matmul", "reshape_3"]);
  assert.equal(count(scoresReturned, "attention"), 0);
  // The product q·scale is returned: the attention starts at the matmul and scales by 1.
  const scaledReturned = probe(["mul", "reshape_3"]);
  assert.equal(count(scaledReturned, "mul"), 1);
  assert.deepEqual(attentions(scaledReturned).map((a) => a.attrs), [{ scale: 1 }]);
  assert.equal(attentions(scaledReturned)[0]!.note, "matmul → softmax → matmul fused into one attention call");
});

test("attention weights read by another call (MultiheadAttention's need_weights) are not fused away", () => {
  const program = extractorProgram(VIT_SWIN_FACTORIES["attention_probe"]!(), { returnNodes: ["getitem", "getitem_1", "getitem_2", "getitem_3"], inputShape: [2, 3, 3, 3] });
  assert.equal(count(program, "attention"), 0);
  assert.equal(count(program, "softmax"), 2);
});

test("ViT's self-attention fuses in every layer, in eval mode and in train mode where its dropout is p = 0; a dropout that drops stays unfused", () => {
  const vit = (attentionDropout: number): VisionTransformer => new VisionTransformer(32, 8, 2, 2, 16, 32, { numClasses: 10, attentionDropout });
  const options = { returnNodes: ["encoder.ln"], inputShape: [1, 3, 32, 32] as const };
  // Each attention then fuses with the heads' split and merge around it (test/unit/fuse-mha.test.ts).
  const evalProgram = extractorProgram(vit(0), options);
  assert.equal(count(evalProgram, "multiHeadAttention"), 2);
  assert.equal(count(evalProgram, "softmax"), 0);
  assert.deepEqual(multiHeadAttentions(evalProgram)[0]!.attrs, { heads: 2, scale: 8 ** -0.5 });
  const train = extractorProgram(vit(0), { ...options, mode: "train" });
  assert.equal(count(train, "multiHeadAttention"), 2);
  assert.match(multiHeadAttentions(train)[0]!.note!, /mul → matmul → softmax → dropout → matmul fused into one attention call/);
  const dropping = extractorProgram(vit(0.1), { ...options, mode: "train" });
  assert.equal(count(dropping, "attention") + count(dropping, "multiHeadAttention"), 0);
  assert.equal(count(dropping, "dropout") >= 2, true);
  // In eval mode dropout is compiled away, whatever its p.
  assert.equal(count(extractorProgram(vit(0.1), options), "multiHeadAttention"), 2);
});
