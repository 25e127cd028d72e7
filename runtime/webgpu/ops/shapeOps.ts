import { tf, type Tensor } from "../../ops/tf.js";
import { matmul as tfjsMatmul } from "../../ops/shapeOps.js";
import { gemmFits, runGemm } from "../gemm.js";
import { ownKernelApplies } from "../program.js";

/** The number of matrices in a batch shape (1 for none). */
const batchSize = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * torch.matmul of two operands of rank >= 2 as fxc's GEMM (runtime/webgpu/gemm.ts), the batch in
 * the dispatch: equal batch dims (ViT's attention, q @ kᵀ and attn @ v), or one side's batch all
 * ones (broadcast: one matrix for the whole batch, as x @ W). Other broadcasts, vectors, and
 * mismatched inner sizes run runtime/ops's matmul (tfjs's, which also says what is wrong).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!ownKernelApplies(a, b) || a.rank < 2 || b.rank < 2) return tfjsMatmul(a, b);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [kb, n] = b.shape.slice(-2) as [number, number];
  const aDims = a.shape.slice(0, -2);
  const bDims = b.shape.slice(0, -2);
  const [aCount, bCount] = [batchSize(aDims), batchSize(bDims)];
  const sameBatch = aDims.length === bDims.length && aDims.every((d, i) => d === bDims[i]);
  // One side broadcast whole: its batch dims are all ones, and the output takes the other side's (padded to the longer rank).
  const batchDims = sameBatch ? aDims : bCount === 1 && aDims.length >= bDims.length ? aDims : aCount === 1 && bDims.length >= aDims.length ? bDims : undefined;
  const batch = batchSize(batchDims ?? []);
  if (k !== kb || batchDims === undefined || !gemmFits(batch, m, n)) return tfjsMatmul(a, b);
  return tf.tidy(() => {
    const y = runGemm({
      a: tf.reshape(a, [aCount, m, k]),
      b: tf.reshape(b, [bCount, k, n]),
      bias: null,
      addend: null,
      activation: undefined,
      loader: { kind: "matrix" },
      batch,
      m,
      k,
      n,
      aBatched: aCount > 1,
      bBatched: bCount > 1,
    });
    return tf.reshape(y, [...batchDims, m, n]);
  });
}
