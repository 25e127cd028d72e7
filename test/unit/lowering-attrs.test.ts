import { test } from "node:test";
import assert from "node:assert/strict";
import { call, type LoweredCall } from "../../compiler/ops/lowering.js";
import type { Instruction } from "../../compiler/graph/program.js";
import { tensor } from "../../compiler/graph/value.js";

/**
 * Lowered calls are typed by kernel (Instruction and LoweredCall are unions over KernelName,
 * attrs: KernelAttrs<K>): `npm run typecheck` checks the @ts-expect-error lines below, each of
 * which is itself a tsc error if the typing is loosened so that the mistake passes.
 */

const x = { kind: "value", id: "x" } as const;

// @ts-expect-error a misspelled kernel
export const misspelledKernel = call("conv2D", [x], { stride: [1, 1], padding: [0, 0] });

// @ts-expect-error a misspelled attribute (conv2d takes `stride`)
export const misspelledAttr = call("conv2d", [x], { strides: [1, 1], padding: [0, 0] });

// @ts-expect-error an attribute of the wrong type (softmax's axis is a number)
export const wrongType = call("softmax", [x], { axis: "1" });

// @ts-expect-error a missing attribute (layerNorm needs `eps`)
export const missingAttr = call("layerNorm", [x], { dims: 1 });

// @ts-expect-error an attribute given to a kernel that takes none
export const unexpectedAttr = call("relu", [x], { inplace: true });

export const instruction: Instruction = {
  id: "y",
  op: "concat",
  inputs: [x],
  // @ts-expect-error an instruction written directly is checked the same way (concat's axis is a number)
  attrs: { axis: null },
  nodes: ["cat"],
  value: tensor([1]),
};

test("call writes the kernel, its inputs, its attrs and a format only when one is given", () => {
  const withFormat: LoweredCall = call("softmax", [x], { axis: 1 }, "contiguous");
  assert.deepEqual(withFormat, { op: "softmax", inputs: [x], attrs: { axis: 1 }, format: "contiguous" });
  const without = call("relu", [x], {});
  assert.deepEqual(without, { op: "relu", inputs: [x], attrs: {} });
  assert.ok(!("format" in without), "no format key when none is given");
});
