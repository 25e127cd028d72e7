import { tf, type Tensor, type Tensor2D } from "../ops/tf.js";
import { FxcError } from "../errors.js";

/**
 * Global pooling of a feature map into one descriptor per image: average, max, or generalized mean
 * (GeM, Radenović et al.: `mean(max(x, eps)^p)^(1/p)`; p = 3 by default, between average at 1 and max
 * as p grows).
 */
export type Pooling = { readonly kind: "avg" } | { readonly kind: "max" } | { readonly kind: "gem"; readonly p: number };

export type Normalization = "l2" | "none";

/** Raised for a pooling or normalization spec that cannot be read; the message says what to write. */
export class DescriptorSpecError extends FxcError {
  override readonly name = "DescriptorSpecError";
}

const GEM_EPS = 1e-6;
/** torch.nn.functional.normalize's floor on the norm. */
const L2_EPS = 1e-12;

/** `avg`, `max`, `gem` or `gem:P` (P > 0). */
export function parsePooling(text: string): Pooling {
  const m = /^(avg|max|gem)(?::(.+))?$/.exec(text.trim());
  const p = m?.[2] === undefined ? 3 : Number(m[2]);
  if (m === null || (m[1] !== "gem" && m[2] !== undefined) || !(Number.isFinite(p) && p > 0)) {
    throw new DescriptorSpecError(`bad pooling '${text}'; write avg, max, gem or gem:P with P > 0 (e.g. gem:3)`);
  }
  return m[1] === "gem" ? { kind: "gem", p } : { kind: m[1] as "avg" | "max" };
}

export function parseNormalization(text: string): Normalization {
  if (text === "l2" || text === "none") return text;
  throw new DescriptorSpecError(`bad normalization '${text}'; write l2 or none`);
}

/** The spec `parsePooling` reads back. */
export function poolingText(p: Pooling | undefined): string {
  if (p === undefined) return "none";
  return p.kind === "gem" ? `gem:${p.p}` : p.kind;
}

/**
 * Pools a 4-D feature map over its spatial axes: [N, H, W, C] with `channelAxis` 3 (NHWC), or
 * [N, C, H, W] with `channelAxis` 1, becomes [N, C]. The input is not disposed.
 */
export function poolFeatureMap(x: Tensor, pooling: Pooling, channelAxis: 1 | 3): Tensor2D {
  if (x.rank !== 4) throw new RangeError(`pooling takes a 4-D feature map, got shape [${x.shape.join(", ")}]`);
  const axes = channelAxis === 3 ? [1, 2] : [2, 3];
  return tf.tidy(() => {
    if (pooling.kind === "avg") return tf.mean(x, axes) as Tensor2D;
    if (pooling.kind === "max") return tf.max(x, axes) as Tensor2D;
    return tf.pow(tf.mean(tf.pow(tf.maximum(x, GEM_EPS), pooling.p), axes), 1 / pooling.p) as Tensor2D;
  });
}

/** Divides each row (each image's features, flattened) by its L2 norm, as `F.normalize(x.flatten(1))`; keeps the shape. */
export function l2Normalize(x: Tensor): Tensor {
  return tf.tidy(() => {
    const rows = tf.reshape(x, [x.shape[0] ?? 1, -1]);
    const norm = tf.maximum(tf.norm(rows, "euclidean", 1, true), L2_EPS);
    return tf.reshape(tf.div(rows, norm), x.shape);
  });
}
