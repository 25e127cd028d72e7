import type { Module } from "../../models/nn/module.js";
import { memorySource, tf, type TensorSource } from "../../runtime/index.js";

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

/** n values `rule(u)` for u in [0, 1), 24 bits each, from (key, seed, index). */
function seededValues(key: string, n: number, seed: number, rule: (u: number) => number): Float32Array {
  const base = (fnv1a32(key) ^ seed) >>> 0;
  const out = new Float32Array(n);
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

export function seededTensor(key: string, shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
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
  return seededValues(key, n, seed, rule);
}

/** A seeded input in [-1, 1), as seeded.py's seeded_input: large inputs need not be committed. Another key gives other values (a loss's fixed weights). */
export function seededInput(shape: readonly number[], seed: number, key = "input"): Float32Array {
  return seededValues(key, shape.reduce((a, b) => a * b, 1), seed, (u) => 2 * u - 1);
}

/**
 * Every float tensor of a model's state_dict, seeded, and its computed integer tables, as a weights source. Values are made when
 * read, so an extractor that reads a few tensors of a big model (VGG's 130M parameters) pays
 * only for those.
 */
export function seededWeights(model: Module, seed: number): TensorSource {
  const shapes = new Map<string, readonly number[]>();
  for (const [key, p] of model.namedParameters()) shapes.set(key, p.shape);
  const tables = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [key, b] of model.namedBuffers()) {
    if (!b.persistent) continue;
    // Integer buffers are tables the model computes (seeded.py keeps torch's); others are seeded.
    if (b.options.dtype === "int64") {
      if (b.options.values !== undefined) tables.set(key, { shape: b.shape, data: b.options.values() });
      continue;
    }
    shapes.set(key, b.shape);
  }
  const lazy = new Map([...shapes].map(([key, shape]) => [key, { shape, get data(): Float32Array { return seededTensor(key, shape, seed); } }]));
  return memorySource(new Map([...lazy, ...tables]), `seeded:${seed}`);
}

/** Seeded uniform values in [lo, hi), float32, on the current backend: for checking one kernel against another. */
export function seededUniform(shape: readonly number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  return tf.randomUniform([...shape], lo, hi, "float32", seed);
}
