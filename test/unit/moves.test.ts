import { test } from "node:test";
import assert from "node:assert/strict";
import { planMoves } from "../../compiler/passes/moves.js";
import { createFeatureExtractor } from "../../compiler/api.js";
import { BATCH, type Dim } from "../../compiler/graph/value.js";
import { Conv2d, F, Module, type Tensor as Traced } from "../../models/nn/index.js";
import { ops, tf, useBackend, type Tensor } from "../../runtime/index.js";

/**
 * Folding chains of views and permutes: the plan (one reshape, one transpose, one reshape)
 * moves every element exactly where the chain's steps move it, on random chains.
 */
type Step = { transpose: number[] } | { reshape: Dim[] };

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A random factorization of `n` into `parts` factors (1s allowed). */
function factor(n: number, parts: number, rnd: () => number): number[] {
  const out = Array<number>(parts).fill(1);
  for (let p = 2; n > 1; ) {
    if (n % p === 0) {
      out[Math.floor(rnd() * parts)]! *= p;
      n /= p;
    } else p++;
  }
  return out;
}

function shuffled(n: number, rnd: () => number): number[] {
  const a = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const BATCH_SIZE = 2;

test("planned moves equal the chain's steps on random chains", async () => {
  await useBackend("cpu");
  let folded = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const rnd = random(seed);
    const withBatch = rnd() < 0.5;
    const dims = [2, 3, 4, 6, 8, 12][Math.floor(rnd() * 6)]! * [1, 2, 5][Math.floor(rnd() * 3)]!;
    const lead: Dim[] = withBatch ? [BATCH] : [];
    let shape: Dim[] = [...lead, ...factor(dims, 1 + Math.floor(rnd() * 4), rnd)];
    const inShape = shape;
    const steps: Step[] = [];
    for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) {
      if (rnd() < 0.5) {
        const perm = shuffled(shape.length, rnd);
        steps.push({ transpose: perm });
        shape = perm.map((p) => shape[p]!);
      } else {
        // The batch keeps its own dim, as views in traced models do.
        const batchAt = shape.indexOf(BATCH);
        const rest = factor(dims, 1 + Math.floor(rnd() * 4), rnd);
        shape = batchAt < 0 ? rest : [...rest.slice(0, Math.min(batchAt, rest.length)), BATCH, ...rest.slice(Math.min(batchAt, rest.length))];
        steps.push({ reshape: shape });
      }
    }
    const plan = planMoves(inShape, steps);
    if (plan === undefined) continue;
    folded++;
    const concrete = (s: readonly Dim[]): number[] => s.map((d) => (d === BATCH ? BATCH_SIZE : d));
    const x = tf.reshape(tf.range(0, dims * (withBatch ? BATCH_SIZE : 1)), concrete(inShape));
    let expected: Tensor = x;
    for (const step of steps) expected = "transpose" in step ? tf.transpose(expected, step.transpose) : tf.reshape(expected, concrete(step.reshape));
    const size = (d: Dim): number => (d === BATCH ? -1 : d);
    const got = ops.rearrange(x, { split: plan.split.map(size), perm: plan.perm, shape: shape.map(size) });
    assert.deepEqual(got.shape, expected.shape, `seed ${seed}`);
    assert.deepEqual(Array.from(await got.data()), Array.from(await expected.data()), `seed ${seed}: ${JSON.stringify({ inShape, steps, plan })}`);
    tf.dispose([x, expected, got]);
  }
  assert.ok(folded > 200, `only ${folded} of 400 random chains folded`);
});

test("a reshape that mixes axes, or splits the batch, is not folded", () => {
  assert.equal(planMoves([4, 3], [{ reshape: [6, 2] }]), undefined);
  assert.equal(planMoves([BATCH, 6], [{ reshape: [6, BATCH] }]), undefined);
});

/** A ViT-style patch embedding: conv, flatten(2), transpose(1, 2). */
class PatchProbe extends Module {
  proj = new Conv2d(3, 8, 4, { stride: 4 });
  forward(x: Traced): Traced {
    return F.transpose(this.proj.call(x).flatten(2), 1, 2);
  }
}

test("channel shuffles and patch flattening need one transpose and none", () => {
  const shuffle = createFeatureExtractor("shufflenet_v2_x0_5", { returnNodes: ["stage2.1.view_1"], size: 64, suppressDiffWarning: true }).program;
  const shuffles = shuffle.instructions.filter((i) => i.nodes.some((n) => /\.view_1$/.test(n)));
  assert.equal(shuffles.length, 2);
  for (const ins of shuffles) assert.deepEqual([ins.op, ins.op === "rearrange" ? ins.attrs.perm : undefined, ins.nodes.length], ["rearrange", [0, 2, 1], 3]);
  assert.ok(!shuffle.instructions.some((i) => ["shapeOf", "getitem"].includes(i.op) && i.value.kind !== "tuple" && i.value.kind !== "tensor"), "no shape reads are left");
  const patches = createFeatureExtractor(new PatchProbe(), { returnNodes: ["transpose"], size: 16 }).program;
  const last = patches.instructions[patches.instructions.length - 1]!;
  assert.deepEqual([last.op, last.op === "rearrange" ? last.attrs.perm : undefined, last.note], ["rearrange", [0], "views and permutes folded into one reshape"]);
});
