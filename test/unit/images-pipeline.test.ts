import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, type Tensor, type Tensor4D } from "../../runtime/index.js";
import { imageFeatures } from "../../compiler/tasks/extractFolder.js";
import type { LoadedExtractor } from "../../compiler/tasks/loader.js";
import { GALLERY } from "../support/fixtures.js";

/**
 * imageFeatures keeps one batch running while the one before it is read back (on a GPU, the next
 * forward pass is queued behind the current one), yields rows in order, and frees every tensor,
 * also when the consumer stops early.
 */

const PRESET = { cropSize: 8, resizeSize: 8, mean: [0, 0, 0], std: [1, 1, 1], interpolation: "bilinear" } as const;

/** An extractor that returns each image's mean over a 1-channel map, and logs when each batch starts and is read. */
function recordingExtractor(events: string[]): LoadedExtractor {
  let batch = 0;
  return {
    layout: "nhwc",
    outputs: [{ key: "mean", node: "mean", operand: { kind: "value", id: "mean" }, value: { kind: "tensor", shape: [null, 1], dtype: "float32" } as never }],
    extractor: {
      engine: "tfjs",
      backend: "cpu",
      async run(x: Tensor4D): Promise<Record<string, Tensor>> {
        const id = batch++;
        events.push(`start ${id}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push(`done ${id}`);
        return { mean: tf.tidy(() => tf.reshape(tf.mean(x, [1, 2, 3]), [-1, 1])) };
      },
      dispose() {},
    },
  };
}

test("the next batch starts before the current one's rows are handed over; rows come in order, every tensor freed", async () => {
  const events: string[] = [];
  const tensors = tf.memory().numTensors;
  const paths: string[] = [];
  for await (const rows of imageFeatures(recordingExtractor(events), GALLERY, { preprocessing: PRESET, batchSize: 1 })) {
    events.push(`rows ${paths.length}`);
    paths.push(...rows.paths);
    assert.equal(rows.tensors["mean"]!.shape[0], rows.paths.length);
  }
  assert.ok(paths.length >= 3, "the gallery has several images");
  assert.deepEqual(paths, [...paths].sort(), "in the folder's order");
  // Batch 1 starts before batch 0's rows are yielded, and so on; the last is read after the loop.
  for (let i = 0; i + 1 < paths.length; i++) assert.ok(events.indexOf(`start ${i + 1}`) < events.indexOf(`rows ${i}`), events.join(", "));
  assert.equal(tf.memory().numTensors, tensors, "no tensor outlives the run");
});

test("a consumer that stops early leaves no tensor of the batch still running", async () => {
  const tensors = tf.memory().numTensors;
  for await (const rows of imageFeatures(recordingExtractor([]), GALLERY, { preprocessing: PRESET, batchSize: 1 })) {
    assert.equal(rows.paths.length, 1);
    break;
  }
  // The batch in flight ends after the break: its outputs are freed then.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(tf.memory().numTensors, tensors);
});
