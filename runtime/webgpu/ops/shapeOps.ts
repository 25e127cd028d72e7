import { tf, type Tensor } from "../../ops/tf.js";
import { matmul as tfjsMatmul } from "../../ops/shapeOps.js";
import { gemmFits, runGemm } from "../gemm.js";
import { ownKernelApplies } from "../program.js";

/** The number of matrices in a batch shape (1 for none). */
const batchSize = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** numpy's broadcast of two batch shapes (tfjs's rule), or undefined when they do not broadcast. */
function broadcastBatch(a: readonly number[], b: readonly number[]): number[] | undefined {
  try {
    return tf.backend_util.assertAndGetBroadcastShape([...a], [...b]);
  } catch {
    return undefined; // tfjs's matmul says what is wrong
  }
}

/**
 * torch.matmul of two operands of rank >= 2 as fxc's GEMM (runtime/webgpu/gemm.ts), the batch in
 * the dispatch: an operand with one matrix per output batch entry (ViT's attention, q @ kᵀ and
 * attn @ v) is read batched, one with a single matrix (x @ W) is read once for every entry, and
 * a partial broadcast ([2, 1] against [1, 3], which tfjs's batched product gets wrong) is expanded
 * first. Vectors and mismatched sizes run runtime/ops's matmul (tfjs's, which says what is wrong).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!ownKernelApplies(a, b) || a.rank < 2 || b.rank < 2) return tfjsMatmul(a, b);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [kb, n] = b.shape.slice(-2) as [number, number];
  const batchDims = broadcastBatch(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = batchSize(batchDims ?? []);
  if (k !== kb || batchDims === undefined || !gemmFits(batch, m, k, n)) return tfjsMatmul(a, b);
  return tf.tidy(() => {
    // An operand keeps one matrix for the whole batch, or has (after expanding) one per entry.
    const operand = (t: Tensor, rows: number, cols: number): Tensor => {
      const count = batchSize(t.shape.slice(0, -2));
      const full = count === 1 || count === batch ? t : tf.broadcastTo(t, [...batchDims, rows, cols]);
      return tf.reshape(full, [count === 1 ? 1 : batch, rows, cols]);
    };
    const [left, right] = [operand(a, m, k), operand(b, k, n)];
    const y = runGemm({
      a: left,
      b: right,
      bias: null,
      addend: null,
      activation: undefined,
      loader: { kind: "matrix" },
      batch,
      m,
      k,
      n,
      aBatched: left.shape[0]! > 1,
      bBatched: right.shape[0]! > 1,
    });
    return tf.reshape(y, [...batchDims, m, n]);
  });
}
