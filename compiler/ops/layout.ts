import type { MemoryFormat } from "./lowering.js";

/**
 * Where torch's dims live in storage. A channels-last 4-D value stores torch dims
 * (N, C, H, W) in the order N, H, W, C: physical axis i holds torch dim CHANNELS_LAST[i].
 */
export const CHANNELS_LAST = [0, 2, 3, 1] as const;

/** Physical axis of a torch dim. */
export function physicalAxis(dim: number, rank: number, format: MemoryFormat | undefined): number {
  return rank === 4 && format === "channelsLast" ? CHANNELS_LAST.indexOf(dim as 0 | 1 | 2 | 3) : dim;
}

/** Torch dim held by each physical axis. */
export function storageOrder(rank: number, format: MemoryFormat | undefined): number[] {
  return rank === 4 && format === "channelsLast" ? [...CHANNELS_LAST] : [...Array(rank).keys()];
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Lowers torch's permute to a physical transpose. When the data already sits in the order
 * the result needs (a channels-last [N, C, H, W] permuted to [N, H, W, C] is a contiguous
 * [N, H, W, C]), the transpose is the identity and only the format changes.
 */
export function planPermute(dims: readonly number[], inFormat: MemoryFormat | undefined): { perm: number[]; format: MemoryFormat } {
  const rank = dims.length;
  const inOrder = storageOrder(rank, inFormat);
  const inverse = dims.map((_, d) => dims.indexOf(d));
  // Keeping the data as it is, physical axis i would hold result dim inverse[inOrder[i]].
  const kept = inOrder.map((d) => inverse[d]!);
  if (rank === 4 && same(kept, CHANNELS_LAST)) return { perm: [0, 1, 2, 3], format: "channelsLast" };
  if (same(kept, [...Array(rank).keys()])) return { perm: [...Array(rank).keys()], format: "contiguous" };
  // Otherwise store the result in torch's order.
  return { perm: dims.map((d) => inOrder.indexOf(d)), format: "contiguous" };
}
