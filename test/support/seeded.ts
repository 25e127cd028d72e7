import type { Module } from "../../models/nn/module.js";
import { memorySource, type TensorSource } from "../../runtime/index.js";

/**
 * Seeded weights, the same float32 values as test/fixtures/seeded.py makes for torchvision:
 * full-size models are tested without committing their weights.
 */

function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function seededTensor(key: string, shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const base = (fnv1a32(key) ^ seed) >>> 0;
  const out = new Float32Array(n);
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const rule = key.endsWith("running_var")
    ? (u: number) => 0.5 + u
    : key.endsWith("running_mean")
      ? (u: number) => 0.1 * (2 * u - 1)
      : shape.length <= 1
        ? key.endsWith("weight")
          ? (u: number) => 1 + 0.1 * (2 * u - 1)
          : (u: number) => 0.1 * (2 * u - 1)
        : (u: number) => (2 * u - 1) * (1 / Math.sqrt(fanIn));
  for (let i = 0; i < n; i++) {
    // (base + i * golden) mod 2^32, then lowbias32.
    let x = (base + Math.imul(i, 0x9e3779b9)) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x ^= x >>> 16;
    out[i] = rule((x >>> 8) / 16777216);
  }
  return out;
}

/** Every float tensor of a model's state_dict, seeded, and its computed integer tables, as a weights source. */
export function seededWeights(model: Module, seed: number): TensorSource {
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [key, p] of model.namedParameters()) tensors.set(key, { shape: p.shape, data: seededTensor(key, p.shape, seed) });
  for (const [key, b] of model.namedBuffers()) {
    if (!b.persistent) continue;
    // Integer buffers are tables the model computes (seeded.py keeps torch's); others have none here.
    if (b.options.dtype === "int64") {
      if (b.options.values !== undefined) tensors.set(key, { shape: b.shape, data: b.options.values() });
      continue;
    }
    tensors.set(key, { shape: b.shape, data: seededTensor(key, b.shape, seed) });
  }
  return memorySource(tensors, `seeded:${seed}`);
}
