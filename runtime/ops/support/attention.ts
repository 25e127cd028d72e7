/** Helpers that the attention kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** The sizes of a packed q|k|v product [B, T, 3E] split into `heads` heads: B, T, E and D = E / heads. */
export function packedHeads(shape: readonly number[], heads: number): { batch: number; tokens: number; embed: number; headDim: number } {
  const [batch, tokens, width] = shape as [number, number, number];
  const embed = width / 3;
  const headDim = embed / heads;
  if (shape.length !== 3 || !Number.isInteger(headDim) || headDim < 1) throw new Error(`multiHeadAttention: a packed q|k|v product [B, T, 3E] with E a multiple of ${heads} heads expected, got [${shape.join(", ")}]`);
  return { batch, tokens, embed, headDim };
}

/** Where torch's head split moves q and v ([B, T, H, D] to [B, H, T, D]) and k (to kᵀ, [B, H, D, T]); the first is also the merge of the heads back. */
export const HEADS_FIRST: readonly number[] = [0, 2, 1, 3];

export const KEYS_TRANSPOSED: readonly number[] = [0, 2, 3, 1];
