import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openWeights } from "../../runtime/weights/open.js";
import { openSafetensors } from "../../runtime/weights/safetensors.js";
import { WeightsError } from "../../runtime/weights/types.js";
import { fixture } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Opens and reads everything; the only acceptable failure is a one-line WeightsError. */
async function openAndReadAll(path: string): Promise<void> {
  let source;
  try {
    source = await openWeights(path);
    for (const key of source.keys()) await source.readFloat32(key);
  } catch (error) {
    assert.ok(error instanceof WeightsError, `${path}: ${error instanceof Error ? error.stack : String(error)}`);
    assert.ok(!/[\r\n]/.test(error.message), error.message);
  } finally {
    await source?.close();
  }
}

test("cut or corrupted files fail only with one-line WeightsErrors", async () => {
  const dir = await tempDir("weights");
  const next = random(1234);
  for (const name of [
    "zip.pth",
    "zip_p4.pth",
    "zip64.pth",
    "legacy.pth",
    "legacy_view.pth",
    "checkpoint.pth",
    "basic.safetensors",
  ]) {
    const original = await readFile(fixture(name));
    for (let round = 0; round < 60; round++) {
      const damaged = Buffer.from(original);
      let bytes: Buffer = damaged;
      if (round % 3 === 0) {
        bytes = damaged.subarray(0, Math.floor(next() * original.length));
      } else {
        for (let flips = 1 + Math.floor(next() * 4); flips > 0; flips--) {
          damaged[Math.floor(next() * damaged.length)] = Math.floor(next() * 256);
        }
      }
      const path = join(dir, `${round}-${name}`);
      await writeFile(path, bytes);
      await openAndReadAll(path);
    }
  }
});

test("a safetensors metadata key named __proto__ is plain data", async () => {
  const dir = await tempDir("weights");
  const json = '{"__metadata__":{"__proto__":"x","constructor":"y"}}';
  const bytes = Buffer.alloc(8 + json.length);
  bytes.writeBigUInt64LE(BigInt(json.length));
  bytes.write(json, 8, "latin1");
  const path = join(dir, "proto.safetensors");
  await writeFile(path, bytes);
  const source = await openSafetensors(path);
  try {
    assert.equal(Object.getPrototypeOf(source.metadata), Object.prototype);
    assert.deepEqual(Object.keys(source.metadata), ["__proto__", "constructor"]);
    assert.equal(source.metadata["constructor"], "y");
  } finally {
    await source.close();
  }
});
