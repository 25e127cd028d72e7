import { expandedShape } from "../../ops/support/shape.js";
import { storeAs, torchOrder } from "./layout.js";
import * as o from "./onnx.js";
import { OnnxValue } from "./onnx.js";

/** runtime/ops/shape.ts over ONNX. Axes arrive already mapped to storage by the compiler. */

export const permute = (x: OnnxValue, attrs: { readonly perm: readonly number[] }): OnnxValue => (attrs.perm.every((p, i) => p === i) ? o.identity(x) : o.transpose(x, attrs.perm));

export function reshape(x: OnnxValue, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): OnnxValue {
  return storeAs(o.reshape(torchOrder(x, attrs), shape), attrs);
}

export const concat = (xs: readonly OnnxValue[], attrs: { readonly axis: number }): OnnxValue => o.concat(xs, attrs.axis);
export const split = (x: OnnxValue, attrs: { readonly sizes: readonly number[]; readonly axis: number }): OnnxValue[] => o.split(x, attrs.sizes, attrs.axis);

export function expand(x: OnnxValue, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): OnnxValue {
  const t = torchOrder(x, attrs);
  return storeAs(o.expand(t, expandedShape(shape, t.shape)), attrs);
}

export function flatten(x: OnnxValue, attrs: { readonly startDim: number; readonly endDim: number; readonly inFormat?: string; readonly outFormat?: string }): OnnxValue {
  const t = torchOrder(x, attrs);
  const merged = t.shape.slice(attrs.startDim, attrs.endDim + 1).reduce((a, b) => a * b, 1);
  return storeAs(o.reshape(t, [...t.shape.slice(0, attrs.startDim), merged, ...t.shape.slice(attrs.endDim + 1)]), attrs);
}

export function rearrange(x: OnnxValue, attrs: { readonly split: readonly number[]; readonly perm: readonly number[]; readonly shape: readonly number[] }): OnnxValue {
  if (attrs.perm.every((p, i) => p === i)) return o.reshape(x, attrs.shape);
  const channels = channelPermutation(x, attrs);
  if (channels !== undefined) {
    // Channels first, each pixel's permutation moves whole [H*W] planes (torch's own layout for
    // shufflenet's channel shuffle), and the moves of the channel axis around it cancel against
    // the neighbouring convolutions'; channels-last, it is a transpose of tiny [g, C/g] blocks.
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const planes = o.reshape(o.transpose(x, [0, 3, 1, 2]), [n, ...channels, h * w]);
    const moved = o.transpose(planes, [0, ...attrs.perm.slice(1), channels.length + 1]);
    return o.transpose(o.reshape(moved, [n, c, h, w]), [0, 2, 3, 1]);
  }
  return o.reshape(o.transpose(o.reshape(x, attrs.split), attrs.perm), attrs.shape);
}

/**
 * The channel axis's split when the rearrangement permutes each pixel's channels of a
 * channels-last image and nothing else: the split is [pixels, ...parts of C], the pixels axis
 * stays first and the result has the input's shape.
 */
function channelPermutation(x: OnnxValue, attrs: { readonly split: readonly number[]; readonly perm: readonly number[]; readonly shape: readonly number[] }): readonly number[] | undefined {
  if (x.rank !== 4 || attrs.perm[0] !== 0) return undefined;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [pixels, ...parts] = attrs.split;
  if (parts.length < 2 || parts.some((d) => d < 1) || parts.reduce((a, b) => a * b, 1) !== c) return undefined;
  if (pixels !== -1 && pixels !== n * h * w) return undefined;
  const shape = attrs.shape.map((d) => (d === -1 ? x.size / attrs.shape.reduce((a, b) => (b === -1 ? a : a * b), 1) : d));
  return shape.join() === x.shape.join() ? parts : undefined;
}
