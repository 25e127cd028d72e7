import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import sharp from "sharp";
import { extractFolder } from "../../compiler/tasks/extractFolder.js";
import { tf, useBackend } from "../../runtime/index.js";
import { RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const IMAGES = 300;
const MiB = 1 << 20;

/** JS heap plus ArrayBuffers (decoded images, batches and rows live there), after a full collection. */
function settled(): number {
  gc();
  return used();
}

/**
 * After the run: external memory (Buffers from file writes and decoding) is returned only when
 * finalizers run, after the collection that finds them; collect and yield until it settles.
 */
async function settledAfterRun(): Promise<number> {
  let last = settled();
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    const now = settled();
    if (Math.abs(now - last) < MiB / 4) return now;
    last = now;
  }
  return last;
}

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
// Sampled after a collection at every batch: what the run holds, not garbage waiting for the collector.

test(`memory stays bounded over a folder of ${IMAGES} images, and no tensor outlives the run`, async () => {
  await useBackend();
  const dir = await tempDir("images-memory");
  const folder = join(dir, "photos");
  await mkdir(folder);
  for (let i = 0; i < IMAGES; i++) {
    const background = { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 13) % 256 };
    await sharp({ create: { width: 64 + (i % 9), height: 48 + (i % 5), channels: 3, background } }).png().toFile(join(folder, `${String(i).padStart(4, "0")}.png`));
  }
  // conv1 at 64x64 is [32, 32, 64] per image: 256 KiB, 75 MiB for the folder, kept in memory it would show.
  const options = {
    model: "resnet18",
    returnNodes: ["conv1"],
    weights: RESNET18_WEIGHTS,
    preprocessing: { resizeSize: 64, cropSize: 64 },
    batchSize: 8,
  } as const;
  await extractFolder({ ...options, inputs: join(folder, "0000.png"), out: join(dir, "warm.safetensors") }); // compile caches, backend memory
  const tensors = tf.memory().numTensors;
  const before = settled();
  let peak = 0;
  const result = await extractFolder({ ...options, inputs: folder, out: join(dir, "features.safetensors"), onProgress: () => (peak = Math.max(peak, settled() - before)) });
  const after = (await settledAfterRun()) - before;
  const fileSize = (await stat(join(dir, "features.safetensors"))).size;
  console.log(`memory over ${IMAGES} images (${(fileSize / MiB).toFixed(0)} MiB of features written): peak +${(peak / MiB).toFixed(1)} MiB, after +${(after / MiB).toFixed(1)} MiB, tensors ${tensors} -> ${tf.memory().numTensors}`);
  assert.deepEqual(result.shapes, { conv1: [IMAGES, 32, 32, 64] });
  assert.ok(fileSize > 75 * MiB);
  assert.equal(tf.memory().numTensors, tensors, "no tensor outlives the run");
  assert.ok(peak < 24 * MiB, `peak growth ${(peak / MiB).toFixed(1)} MiB stays well under the 75 MiB the rows take`);
  assert.ok(after < 8 * MiB, `${(after / MiB).toFixed(1)} MiB remain after the run`);
});
