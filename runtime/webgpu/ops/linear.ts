import { linear as tfjsLinear, linearAdd as tfjsLinearAdd, matmul as tfjsMatmul, type LayerNormLinearAttrs, type LinearAttrs } from "../../ops/linear.js";
import type { FusedActivation } from "../../ops/support/activation.js";
import { tf, type Tensor } from "../../ops/tf.js";
import type { TfjsKernels } from "../../kernels.js";
import { gemmFits, runGemm, type GemmPrecision } from "../gemm.js";
import { ownKernelApplies } from "../program.js";
import { layerNorm } from "./norm.js";

/**
 * torch's linear as fxc's GEMM (runtime/webgpu/gemm.ts; runtime/ops/linear.ts's kernels on
 * tfjs's generic matMul otherwise): `act(x[M, K] @ w[K, N] + bias[N] + addend[M, N])`, M every dim
 * of x but its last, bias, addend (a residual, linearAdd) and activation in the product's epilogue,
 * and x's rows layer-normalized in its prologue as they are loaded (layerNormLinear). The shader is
 * written for the layer's K and N; M is read at run time. With webgpuKernels "fxc-f16" the GEMM's
 * products are computed in half precision (gemm.ts's GemmPrecision).
 */

/** What the GEMM adds around the product: undefined where it does not apply (the caller runs tfjs's kernels). */
interface GemmTerms {
  readonly addend: Tensor | null;
  readonly activation: FusedActivation | undefined;
  readonly layerNorm?: { readonly eps: number; readonly gamma: Tensor | null; readonly beta: Tensor | null };
  readonly precision: GemmPrecision;
}

function gemmLinear(x: Tensor, weight: Tensor, bias: Tensor | null, terms: GemmTerms): Tensor | undefined {
  const { gamma = null, beta = null } = terms.layerNorm ?? {};
  if (!ownKernelApplies(x, weight, bias, terms.addend, gamma, beta) || weight.rank !== 2 || (bias !== null && bias.rank !== 1)) return undefined;
  const [inner, outer] = weight.shape as [number, number];
  const rows = x.size / inner;
  if (x.shape[x.rank - 1] !== inner || !gemmFits(1, rows, inner, outer)) return undefined;
  const shape = [...x.shape.slice(0, -1), outer];
  if (terms.addend !== null && terms.addend.shape.join() !== shape.join()) return undefined;
  if ([gamma, beta].some((t) => t !== null && (t.rank !== 1 || t.size !== inner))) return undefined;
  return tf.tidy(() => {
    const y = runGemm({
      a: tf.reshape(x, [1, rows, inner]),
      b: weight,
      bias,
      addend: terms.addend,
      activation: terms.activation,
      ...(terms.layerNorm === undefined ? {} : { layerNorm: terms.layerNorm }),
      loader: { kind: "matrix" },
      batch: 1,
      m: rows,
      k: inner,
      n: outer,
      aBatched: false,
      bBatched: false,
      precision: terms.precision,
    });
    return tf.reshape(y, shape);
  });
}

/**
 * runtime/ops's linear, linearAdd, layerNormLinear and matmul (same signatures) on fxc's GEMM with
 * its products in `precision`, tfjs's kernels (fp32) where it does not apply: linear's activation
 * and linearAdd's residual in the GEMM's epilogue (the residual before the activation);
 * layerNormLinear's rows normalized in its prologue, so that the normalized tensor is never
 * written (where the GEMM does not apply, this engine's layer norm then its linear); matmul as
 * gemmMatmul.
 */
export function gemmProducts(precision: GemmPrecision): Pick<TfjsKernels, "linear" | "linearAdd" | "layerNormLinear" | "matmul"> {
  const linear = (x: Tensor, weight: Tensor, bias: Tensor | null, attrs: LinearAttrs = {}): Tensor =>
    gemmLinear(x, weight, bias, { addend: null, activation: attrs.activation, precision }) ?? tfjsLinear(x, weight, bias, attrs);
  return {
    linear,
    linearAdd: (x: Tensor, weight: Tensor, bias: Tensor | null, addend: Tensor, attrs: LinearAttrs = {}): Tensor =>
      gemmLinear(x, weight, bias, { addend, activation: attrs.activation, precision }) ?? tfjsLinearAdd(x, weight, bias, addend, attrs),
    layerNormLinear(x: Tensor, gamma: Tensor | null, beta: Tensor | null, weight: Tensor, bias: Tensor | null, attrs: LayerNormLinearAttrs): Tensor {
      const { eps, activation } = attrs;
      const fused = gemmLinear(x, weight, bias, { addend: null, activation, layerNorm: { eps, gamma, beta }, precision });
      if (fused !== undefined) return fused;
      return tf.tidy(() => linear(layerNorm(x, gamma, beta, { dims: 1, eps }), weight, bias, activation === undefined ? {} : { activation }));
    },
    matmul: (a: Tensor, b: Tensor): Tensor => gemmMatmul(a, b, precision),
  };
}

/** runtime/ops's linear, linearAdd, layerNormLinear and matmul on fxc's GEMM in f32 (webgpuKernels "fxc"). */
export const { linear, linearAdd, layerNormLinear, matmul } = gemmProducts("f32");

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
function gemmMatmul(a: Tensor, b: Tensor, precision: GemmPrecision): Tensor {
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
      precision,
    });
    return tf.reshape(y, [...batchDims, m, n]);
  });
}
