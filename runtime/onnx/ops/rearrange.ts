import { OnnxValue, reshape, transpose } from "./onnx.js";

/** runtime/ops/rearrange.ts over ONNX. */
export function rearrange(x: OnnxValue, attrs: { readonly split: readonly number[]; readonly perm: readonly number[]; readonly shape: readonly number[] }): OnnxValue {
  if (attrs.perm.every((p, i) => p === i)) return reshape(x, attrs.shape);
  const channels = channelPermutation(x, attrs);
  if (channels !== undefined) {
    // Channels first, each pixel's permutation moves whole [H*W] planes (torch's own layout for
    // shufflenet's channel shuffle), and the moves of the channel axis around it cancel against
    // the neighbouring convolutions'; channels-last, it is a transpose of tiny [g, C/g] blocks.
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const planes = reshape(transpose(x, [0, 3, 1, 2]), [n, ...channels, h * w]);
    const moved = transpose(planes, [0, ...attrs.perm.slice(1), channels.length + 1]);
    return transpose(reshape(moved, [n, c, h, w]), [0, 2, 3, 1]);
  }
  return reshape(transpose(reshape(x, attrs.split), attrs.perm), attrs.shape);
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
