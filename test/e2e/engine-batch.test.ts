import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { createFeatureExtractor } from "../../compiler/api.js";
import { tf } from "../../runtime/index.js";
import { MaxVit } from "../../models/zoo/maxvit.js";
import { seededWeights } from "../support/seeded.js";
import { buildCaseModel, caseErrors, caseInput, FIXTURES, fixtureCases, type FixtureCase } from "../support/fixtures.js";

/**
 * The onnxruntime engine runs every batch size on one session (a graph whose batch is a named
 * dimension), made at load: a folder's last, short batch costs no second session and no second
 * copy of the weights, whatever order the batch sizes come in.
 */

const session = (ort as unknown as { default?: typeof ort }).default?.InferenceSession ?? ort.InferenceSession;

/** Runs `body` with ONNX Runtime's InferenceSession.create replaced. */
async function withCreate(replacement: (create: typeof session.create) => typeof session.create, body: () => Promise<void>): Promise<void> {
  const create = session.create;
  session.create = replacement(create);
  try {
    await body();
  } finally {
    session.create = create;
  }
}

/** Counts the sessions made while `body` runs. */
async function sessionsMade(body: () => Promise<void>): Promise<number> {
  let made = 0;
  await withCreate(
    (create) =>
      ((...args: Parameters<typeof create>) => {
        made++;
        return create.apply(session, args);
      }) as typeof create,
    body,
  );
  return made;
}

test("when ONNX Runtime cannot make the session (it holds the weights by then), auto reads the weights again and runs tfjs; a named onnxruntime fails", async () => {
  const c = fixtureCases((c) => c.id === "resnet18_pth")[0]!;
  const fx = createFeatureExtractor("resnet18", { returnNodes: c.returnNodes, size: [c.input[2]!, c.input[3]!], layout: "nchw", suppressDiffWarning: true });
  const weights = join(FIXTURES, "cases", c.id, c.weights);
  const refuse = (() => Promise.reject(new Error("no session today"))) as unknown as typeof session.create;
  await withCreate(
    () => refuse,
    async () => {
      await assert.rejects(fx.load(weights, { engine: "onnxruntime" }), /^Error: no session today$/);
      const extractor = await fx.load(weights);
      try {
        assert.equal(extractor.engine, "tfjs");
        assert.equal(extractor.fallback, "no session today");
        const x = await caseInput(c);
        const out = await extractor.run(x);
        for (const [key, error] of Object.entries(await caseErrors(c, out))) assert.ok(error < c.tolerance, `${key}: relative error ${error}`);
        tf.dispose([x, ...Object.values(out)]);
      } finally {
        extractor.dispose();
      }
    },
  );
});

// Families whose graphs reshape across the batch: attention (vit, swin, swin v2, maxvit), channel shuffles, inception's concatenations, flattening classifiers, squeeze-excitation.
const CASES = ["resnet18_pth", "vit_b_16_seeded", "swin_t_seeded", "swin_v2_t_seeded", "maxvit_tiny", "shufflenet_v2_x0_5_seeded", "googlenet_weights_config", "inception_v3_weights_config", "alexnet_classifier", "densenet121_old_keys", "efficientnet_b0_seeded", "regnet_y_400mf_seeded"];

/** test/fixtures/families/maxvit.py's configuration (as numeric-maxvit.test.ts builds it). */
const factories = {
  maxvit_tiny: () => new MaxVit({ inputSize: [32, 32], stemChannels: 8, partitionSize: 2, blockChannels: [8, 16], blockLayers: [1, 2], headDim: 4, stochasticDepthProb: 0, numClasses: 5 }),
};

for (const c of fixtureCases((c) => CASES.includes(c.id))) {
  test(`${c.id}: one onnxruntime session runs a batch of 1, a larger one, then 1 again, each as torchvision`, async () => {
    const sessions = await sessionsMade(() => runBatches(c));
    assert.equal(sessions, 1);
  });
}

test("the chosen cases exist", () => {
  assert.deepEqual(fixtureCases((c) => CASES.includes(c.id)).map((c) => c.id).sort(), [...CASES].sort());
});

async function runBatches(c: FixtureCase): Promise<void> {
  const [rows, , h, w] = c.input as [number, number, number, number];
  const model = buildCaseModel(c, factories);
  const fx = createFeatureExtractor(c.ts.model ?? model, { modelOptions: c.ts.options, returnNodes: c.returnNodes, size: [h, w], layout: "nchw", mode: c.mode, suppressDiffWarning: true });
  const weights = c.weights.startsWith("seeded:") ? seededWeights(model, Number(c.weights.slice(7))) : join(FIXTURES, "cases", c.id, c.weights);
  const extractor = await fx.load(weights, { engine: "onnxruntime" });
  const input = await caseInput(c);
  const first = tf.slice(input, [0, 0, 0, 0], [1, -1, -1, -1]);
  // The case's rows, then its first row twice: a batch of at least 3.
  const larger = tf.concat([input, first, first]);
  const results: Record<string, tf.Tensor>[] = [];
  try {
    for (const x of [first, larger, first]) results.push(await extractor.run(x as tf.Tensor4D));
    const [alone, together, again] = results as [Record<string, tf.Tensor>, Record<string, tf.Tensor>, Record<string, tf.Tensor>];
    // Outputs lead with the batch, or with batch x windows (attention inside windows): k rows per image; or do not depend on it (an index table).
    const batchFree = (key: string): boolean => together[key]!.shape.join() === alone[key]!.shape.join();
    const perImage = (key: string): number => together[key]!.shape[0]! / (rows + 2);
    const caseRows = tf.tidy(() => Object.fromEntries(Object.entries(together).map(([key, t]) => [key, batchFree(key) ? tf.clone(t) : tf.slice(t, 0, rows * perImage(key))])));
    for (const [key, error] of Object.entries(await caseErrors(c, caseRows))) assert.ok(error < c.tolerance, `${key}: relative error ${error} over ${c.tolerance}`);
    tf.dispose(Object.values(caseRows));
    for (const key of Object.keys(together)) {
      assert.deepEqual(again[key]!.shape, alone[key]!.shape, key);
      assert.deepEqual(Array.from(await again[key]!.data()), Array.from(await alone[key]!.data()), `${key}: the same batch twice`);
      for (const row of batchFree(key) ? [] : [0, rows, rows + 1]) {
        // The first row alone as in the batch: the same graph, the same values to rounding.
        const [diff, scale] = tf.tidy(() => {
          const inBatch = tf.slice(together[key]!, row * perImage(key), perImage(key));
          return [tf.max(tf.abs(tf.sub(alone[key]!, inBatch))).dataSync()[0]!, tf.max(tf.abs(inBatch)).dataSync()[0]!];
        });
        assert.ok(diff <= 1e-5 * Math.max(scale, 1e-6), `${key}: row ${row} of the batch differs from the row alone by ${diff} (scale ${scale})`);
      }
    }
  } finally {
    tf.dispose([input, first, larger, ...results.flatMap((r) => Object.values(r))]);
    extractor.dispose();
  }
}
