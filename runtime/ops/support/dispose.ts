import type { Tensor } from "../tf.js";

/** Freeing values, for generated code and the runtime; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** Frees intermediate values as soon as they are dead: tensors, and tensors inside tuples. */
export function dispose(...values: unknown[]): void {
  for (const v of values) {
    if (Array.isArray(v)) dispose(...v);
    else if (v !== null && typeof v === "object" && "dispose" in v && typeof v.dispose === "function") (v as Tensor).dispose();
  }
}
