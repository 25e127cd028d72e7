import { test } from "node:test";
import assert from "node:assert/strict";
import { multiScaleRoIAlign } from "../../runtime/detection/index.js";
import { roiAlignThreads } from "../../runtime/detection/roiAlignThreads.js";
import type { FeatureMap } from "../../runtime/detection/types.js";
import { seededInput } from "../support/seeded.js";

/**
 * MultiScaleRoIAlign spread over worker threads (runtime/detection/roiAlignThreads.ts, what the
 * detector pools its regions with) gives the very values of the one-thread kernel, whose own
 * equality with torchvision detection-ops.test.ts checks.
 */

const [H, W, C] = [256, 320, 64];
const features: FeatureMap[] = [4, 8, 16, 32].map((stride, level) => ({ data: seededInput([2, C, H / stride, W / stride], 10 + level), shape: [2, C, H / stride, W / stride] }));

/** Boxes of every size (so that every level is read), some across the border, from seeded values. */
function boxes(count: number, seed: number): Float32Array {
  const u = seededInput([count, 4], seed).map((v) => (v + 1) / 2);
  const out = new Float32Array(4 * count);
  for (let i = 0; i < count; i++) {
    const w = 4 + u[4 * i]! ** 2 * W;
    const h = 4 + u[4 * i + 1]! ** 2 * H;
    const x = u[4 * i + 2]! * W - w / 4;
    const y = u[4 * i + 3]! * H - h / 4;
    out.set([x, y, x + w, y + h], 4 * i);
  }
  return out;
}

test("roiAlignThreads pools 2 x 700 boxes over 3 threads to the one-thread kernel's values, bit for bit, twice (the levels shared once)", async () => {
  const pool = roiAlignThreads(3);
  try {
    const perImage = [boxes(700, 1), boxes(700, 2)];
    const sizes: [number, number][] = [[H, W], [H - 40, W - 8]];
    for (const [outputSize, samplingRatio] of [[[7, 7], 2], [[14, 14], 2]] as const) {
      const want = multiScaleRoIAlign(features, perImage, sizes, outputSize, samplingRatio);
      const got = await pool.multiScaleRoIAlign(features, perImage, sizes, outputSize, samplingRatio);
      assert.equal(got.length, want.length);
      assert.ok(!(got.buffer instanceof SharedArrayBuffer), "an ordinary buffer, as engines take");
      const first = want.findIndex((v, i) => !Object.is(v, got[i]));
      assert.equal(first, -1, `value ${first} differs: ${got[first]} vs ${want[first]}`);
    }
  } finally {
    pool.dispose();
  }
});

test("roiAlignThreads: a small call, and a pool of one thread, run here with the same values; a bad thread count is refused", async () => {
  const few = [boxes(5, 3), boxes(0, 4)];
  const sizes: [number, number][] = [[H, W], [H, W]];
  const want = multiScaleRoIAlign(features, few, sizes, [7, 7], 2);
  for (const threads of [1, 4]) {
    const pool = roiAlignThreads(threads);
    assert.deepEqual(await pool.multiScaleRoIAlign(features, few, sizes, [7, 7], 2), want);
    pool.dispose();
  }
  assert.throws(() => roiAlignThreads(0), /not a whole number >= 1/);
});
