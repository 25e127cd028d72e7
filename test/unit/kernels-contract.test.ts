import { test } from "node:test";
import assert from "node:assert/strict";
import * as tfjsOps from "../../runtime/ops/index.js";
import { onnxKernels } from "../../runtime/onnx/ops/index.js";
import type { OnnxValue } from "../../runtime/onnx/graph.js";
import type { KernelName, KernelTable } from "../../runtime/kernels.js";
import type { Instruction } from "../../compiler/graph/program.js";

/**
 * The kernel contract (runtime/kernels.ts) holds at compile time: `npm run typecheck` checks the
 * @ts-expect-error lines below, which fail tsc if the contract stops catching these mistakes.
 */

// @ts-expect-error a misspelled kernel name in a lowered instruction
export const misspelled: Instruction["op"] = "conv2D";

// @ts-expect-error an engine's table missing a kernel
export const missing: KernelTable<OnnxValue> = { ...onnxKernels, relu: undefined };

// @ts-expect-error a kernel whose attributes differ from the tfjs kernel's (here: no `eps`)
export const otherAttrs: KernelTable<OnnxValue> = { ...onnxKernels, layerNorm: (x: OnnxValue, _w: OnnxValue | null, _b: OnnxValue | null, _attrs: { readonly dims: string }) => x };

test("the ONNX kernels are exactly the tfjs kernels, by name", () => {
  const tfjsNames = Object.entries(tfjsOps)
    .filter(([, v]) => typeof v === "function" && !/^class /.test(Function.prototype.toString.call(v)))
    .map(([k]) => k as KernelName)
    .sort();
  assert.deepEqual(Object.keys(onnxKernels).sort(), tfjsNames);
});
