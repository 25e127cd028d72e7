import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { OWN_WEBGPU_KERNELS } from "../../runtime/webgpu/ops/index.js";
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

/** The contract's kernels, written out: the barrel's `export *` of the family files must give exactly these. */
const KERNELS = [
  "adaptiveAvgPool2d", "adaptiveMaxPool2d", "add", "attention", "avgPool2d", "batchNorm", "clone", "concat", "conv2d", "conv2dAdd",
  "conv2dTranspose", "customOp", "depthwiseConv2d", "div", "dropout", "einsum", "expand", "flatten", "floorDiv", "gather",
  "gelu", "getitem", "hardsigmoid", "hardswish", "index", "input", "interpolate", "interpolateLike", "layerNorm", "layerNormLinear",
  "linear", "linearAdd", "matmul", "max", "maxPool2d", "mean", "mul", "multiHeadAttention", "patchMergingPad", "permute",
  "rearrange", "relativePositionBias", "relu", "relu6", "reshape", "shapeOf", "shiftedWindowAttention", "sigmoid", "silu", "softmax",
  "split", "stochasticDepth", "sub", "sum", "tanh", "toChannelsLast", "toContiguous",
] as const;

type Listed = (typeof KERNELS)[number];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails tsc when a kernel is added to or dropped from the contract (or a helper leaks into it) without this list following. */
export const kernelNamesListed: Same<KernelName, Listed> = true;

const callable = (v: unknown): boolean => typeof v === "function" && !/^class /.test(Function.prototype.toString.call(v));

test("the barrel's kernels are the listed ones: no helper of a family file leaks into the contract", () => {
  const exported = Object.entries(tfjsOps).filter(([, v]) => callable(v)).map(([k]) => k).sort();
  assert.deepEqual(exported, [...new Set(KERNELS)].sort());
});

/**
 * Op files mirror each other: a kernel lives in runtime/ops/<family>.ts, its ONNX builder in
 * runtime/onnx/ops/<family>.ts, fxc's WGSL kernel (if any) in runtime/webgpu/ops/<family>.ts, and
 * the torch ops lowering to it in compiler/ops/<family>.ts. Machinery files are named apart.
 */
const ROOT = join(import.meta.dirname, "..", "..");
const MACHINERY: Readonly<Record<string, readonly string[]>> = {
  "runtime/ops": ["index", "tf"],
  "runtime/onnx/ops": ["index", "onnx"],
  "runtime/webgpu/ops": ["index"],
  "compiler/ops": ["index", "lowering", "registry", "schema"],
};
/** Ops lowering to a kernel of another family besides their main one: Python's getitem of a tensor by an index tensor is indexing's gather. */
const OTHER_FAMILY_CALLS: Readonly<Record<string, readonly string[]>> = { python: ["gather"] };

function families(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => basename(f, ".ts"))
    .filter((f) => !MACHINERY[dir]!.includes(f))
    .sort();
}

/** Each kernel a folder's family files export, with the family that exports it. */
async function kernelHomes(dir: string): Promise<Map<string, string[]>> {
  const homes = new Map<string, string[]>();
  for (const family of families(dir)) {
    const module = (await import(pathToFileURL(join(ROOT, dir, `${family}.ts`)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      if ((KERNELS as readonly string[]).includes(name) && callable(value)) homes.set(name, [...(homes.get(name) ?? []), family]);
    }
  }
  return homes;
}

test("every kernel is exported from one runtime/ops family file, and from the same-named file on every other engine", async () => {
  const tfjs = await kernelHomes("runtime/ops");
  for (const kernel of new Set(KERNELS)) assert.equal(tfjs.get(kernel)?.length, 1, `${kernel}: exported by runtime/ops/{${(tfjs.get(kernel) ?? []).join(",")}}.ts; want exactly one family file`);
  for (const dir of ["runtime/onnx/ops", "runtime/webgpu/ops"]) {
    const engine = await kernelHomes(dir);
    for (const [kernel, files] of engine) {
      assert.deepEqual(files, tfjs.get(kernel), `${kernel}: in ${dir}/${files.join(",")}.ts but runtime/ops/${tfjs.get(kernel)!.join(",")}.ts; move it to the same-named file`);
    }
    for (const family of families(dir)) assert.ok(families("runtime/ops").includes(family), `${dir}/${family}.ts has no runtime/ops/${family}.ts twin: name it for its kernels' family or list it as machinery`);
  }
  assert.deepEqual([...(await kernelHomes("runtime/webgpu/ops")).keys()].sort(), [...OWN_WEBGPU_KERNELS].sort());
});

test("every compiler/ops family file has a runtime/ops twin, and its ops call that family's kernels", async () => {
  const tfjs = await kernelHomes("runtime/ops");
  for (const family of families("compiler/ops")) {
    assert.ok(families("runtime/ops").includes(family), `compiler/ops/${family}.ts has no runtime/ops/${family}.ts twin: name it for the family of the kernels its ops lower to`);
    const source = readFileSync(join(ROOT, "compiler/ops", `${family}.ts`), "utf8");
    for (const [, kernel] of source.matchAll(/\bcall\("(\w+)"/g)) {
      if (OTHER_FAMILY_CALLS[family]?.includes(kernel!)) continue;
      assert.deepEqual(tfjs.get(kernel!), [family], `compiler/ops/${family}.ts lowers to ${kernel}, a kernel of runtime/ops/${tfjs.get(kernel!)?.join(",")}.ts; define the op there`);
    }
  }
});
