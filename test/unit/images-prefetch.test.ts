import { test } from "node:test";
import assert from "node:assert/strict";
import { ahead, DEFAULT_PREFETCH } from "../../runtime/images/batches.js";

/**
 * Images are decoded ahead of the caller (`ahead`, under batchImages): while the caller works on a
 * batch (the model running), decoding goes on up to one batch ahead instead of stopping after the
 * few images that were in flight when the batch was handed over.
 */

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("while the caller holds a result, finished work starts the next, up to the waiting limit, never more in flight than allowed", async () => {
  const finish: ((value: number) => void)[] = [];
  let running = 0;
  let mostRunning = 0;
  const start = (i: number): Promise<number> => {
    running++;
    mostRunning = Math.max(mostRunning, running);
    return new Promise<number>((resolve) => (finish[i] = resolve)).finally(() => running--);
  };
  const results = ahead(10, start, { inFlight: 2, waiting: 5 });
  const first = results.next();
  assert.equal(finish.length, 2, "two in flight at first");
  finish[0]!(0);
  assert.deepEqual(await first, { value: 0, done: false });
  // The caller holds result 0 and asks for nothing: what is in flight finishes, and starts more.
  for (let i = 1; i < 5; i++) {
    finish[i]!(i);
    await settle();
  }
  assert.equal(finish.length, 6, "five started and not taken (1..5) beside the one taken");
  await settle();
  assert.equal(finish.length, 6, "no more than five wait");
  const rest: number[] = [];
  for (let i = 5; i < 10; i++) {
    const taken = results.next();
    finish[i]?.(i);
    await settle();
    for (let j = i + 1; j < finish.length; j++) finish[j]!(j);
    rest.push((await taken).value as number);
  }
  for (let r = await results.next(); !r.done; r = await results.next()) rest.push(r.value);
  assert.deepEqual(rest, [1, 2, 3, 4, 5, 6, 7, 8, 9], "results in order");
  assert.ok(mostRunning <= 2, `at most 2 in flight, saw ${mostRunning}`);
});

test("stopping early starts nothing more", async () => {
  const started: number[] = [];
  const results = ahead(100, async (i) => (started.push(i), i), { inFlight: 1, waiting: 3 });
  for await (const r of results) if (r === 2) break;
  await settle();
  const count = started.length;
  await settle();
  assert.equal(started.length, count);
  assert.ok(count <= 6, `started ${count} of 100`);
});

test("two images are decoded at once by default: a 12-megapixel photo holds ~73 MB in flight, and two keep up with four", () => {
  assert.equal(DEFAULT_PREFETCH, 2);
});
