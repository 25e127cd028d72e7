import { tf, type Tensor } from "../../ops/tf.js";
import type { FusedActivation } from "../../ops/activation.js";
import { linear as tfjsLinear, linearAdd as tfjsLinearAdd, type LayerNormLinearAttrs, type LinearAttrs } from "../../ops/linear.js";
import { gemmFits, runGemm } from "../gemm.js";
import { ownKernelApplies } from "../program.js";
import { layerNorm } from "./norm.js";

/**
 * torch's linear as fxc's GEMM (runtime/webgpu/gemm.ts; runtime/ops/linear.ts's kernels on
 * tfjs's generic matMul otherwise): `act(x[M, K] @ w[K, N] + bias[N] + addend[M, N])`, M every dim
 * of x but its last, bias, addend (a residual, linearAdd) and activation in the product's epilogue,
 * and x's rows layer-normalized in its prologue as they are loaded (layerNormLinear). The shader is
 * written for the layer's K and N; M is read at run time.
 */

/** What the GEMM adds around the product: undefined where it does not apply (the caller runs tfjs's kernels). */
interface GemmTerms {
  readonly addend: Tensor | null;
  readonly activation: FusedActivation | undefined;
  readonly layerNorm?: { readonly eps: number; readonly gamma: Tensor | null; readonly beta: Tensor | null };
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
    });
    return tf.reshape(y, shape);
  });
}

/** runtime/ops's linear (same signature): the activation in the GEMM's epilogue. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, attrs: LinearAttrs = {}): Tensor {
  return gemmLinear(x, weight, bias, { addend: null, activation: attrs.activation }) ?? tfjsLinear(x, weight, bias, attrs);
}

/** runtime/ops's linearAdd (same signature): the residual added in the GEMM's epilogue, before the activation. */
export function linearAdd(x: Tensor, weight: Tensor, bias: Tensor | null, addend: Tensor, attrs: LinearAttrs = {}): Tensor {
  return gemmLinear(x, weight, bias, { addend, activation: attrs.activation }) ?? tfjsLinearAdd(x, weight, bias, addend, attrs);
}

/**
 * runtime/ops's layerNormLinear (same signature): x's rows normalized in the GEMM's prologue, so
 * that the normalized tensor is never written; where the GEMM does not apply, this engine's layer
 * norm then its linear.
 */
export function layerNormLinear(x: Tensor, gamma: Tensor | null, beta: Tensor | null, weight: Tensor, bias: Tensor | null, attrs: LayerNormLinearAttrs): Tensor {
  const { eps, activation } = attrs;
  const fused = gemmLinear(x, weight, bias, { addend: null, activation, layerNorm: { eps, gamma, beta } });
  if (fused !== undefined) return fused;
  return tf.tidy(() => linear(layerNorm(x, gamma, beta, { dims: 1, eps }), weight, bias, activation === undefined ? {} : { activation }));
}

