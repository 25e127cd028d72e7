import { tf, type Tensor } from "../../ops/tf.js";
import { linear as tfjsLinear } from "../../ops/tensorOps.js";
import { gemmFits, runGemm } from "../gemm.js";
import { ownKernelApplies } from "../program.js";

/**
 * torch's linear as fxc's GEMM (runtime/webgpu/gemm.ts; runtime/ops/tensorOps.ts's `linear` on
 * tfjs's generic matMul otherwise): `x[M, K] @ w[K, N] + bias[N]`, M every dim of x but its last,
 * the bias added in the product's epilogue. The shader is written for the layer's K and N; M is
 * read at run time.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  if (!ownKernelApplies(x, weight, bias) || weight.rank !== 2 || (bias !== null && bias.rank !== 1)) return tfjsLinear(x, weight, bias);
  const [inner, outer] = weight.shape as [number, number];
  const rows = x.size / inner;
  if (x.shape[x.rank - 1] !== inner || !gemmFits(1, rows, inner, outer)) return tfjsLinear(x, weight, bias);
  return tf.tidy(() => {
    const y = runGemm({
      a: tf.reshape(x, [1, rows, inner]),
      b: weight,
      bias,
      addend: null,
      activation: undefined,
      loader: { kind: "matrix" },
      batch: 1,
      m: rows,
      k: inner,
      n: outer,
      aBatched: false,
      bBatched: false,
    });
    return tf.reshape(y, [...x.shape.slice(0, -1), outer]);
  });
}
