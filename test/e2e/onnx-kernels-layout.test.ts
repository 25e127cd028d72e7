import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as tfjsOps from "../../runtime/ops/index.js";
import { tf, type Tensor } from "../../runtime/ops/tf.js";
import { onnxKernels as onnx } from "../../runtime/onnx/ops/index.js";
import { OnnxGraph, OnnxValue } from "../../runtime/onnx/graph.js";
import { onnxRuntime } from "../../runtime/onnx/engine.js";
import { useBackend } from "../../runtime/backend.js";
import type { PoolAttrs } from "../../runtime/ops/pool.js";
import { opCounts, opTypes } from "../support/onnxModel.js";
import { tempDir } from "../support/temp.js";
import { seededInput } from "../support/seeded.js";

/**
 * The ONNX kernels emit the one ONNX op that ORT optimizes (batch norm, hardswish, hardsigmoid,
 * 1x1 adaptive pools, padded average pools), not the op's arithmetic: ORT keeps those in its
 * blocked NCHWc layout between convolutions, where Sub/Mul/Add, Clip/Div or ReduceMean made it
 * reorder the tensor out and back (densenet121 ran at 0.78x of torch's own ONNX export on the same
 * ORT, mobilenet_v3_large at 0.63x). Values stay the tfjs kernels'.
 */

/** n seeded values in [lo, hi). */
const values = (n: number, seed: number, lo = -2, hi = 2): Float32Array => seededInput([n], seed).map((v) => lo + ((hi - lo) * (v + 1)) / 2);

/** One kernel call with its parameters, on both engines. */
interface Case {
  readonly name: string;
  readonly shape: readonly number[];
  /** Parameter shapes and ranges. */
  readonly params?: readonly { readonly shape: readonly number[]; readonly lo?: number; readonly hi?: number }[];
  readonly onnx: (x: OnnxValue, p: readonly OnnxValue[]) => OnnxValue;
  readonly tfjs: (x: Tensor, p: readonly Tensor[]) => Tensor;
  /** The built graph's ops, moves of the channels axis (Transpose) left out. */
  readonly ops: readonly string[];
}

const eval_ = { eps: 1e-5, training: false };
const pool = (extra: Partial<PoolAttrs>): PoolAttrs => ({ kernel: [3, 3], stride: [1, 1], padding: [1, 1], ...extra });
const shuffle = { split: [-1, 2, 6], perm: [0, 2, 1], shape: [-1, 3, 5, 12] };
const bnParams = [{ shape: [16] }, { shape: [16], lo: 0, hi: 1e-6 }, { shape: [16] }, { shape: [16] }];

const cases: readonly Case[] = [
  {
    name: "batch norm (running variances near zero)",
    shape: [2, 5, 6, 16],
    params: bnParams,
    onnx: (x, [m, v, w, b]) => onnx.batchNorm(x, m!, v!, w!, b!, eval_),
    tfjs: (x, [m, v, w, b]) => tfjsOps.batchNorm(x, m!, v!, w!, b!, eval_),
    ops: ["BatchNormalization"],
  },
  {
    name: "batch norm without affine, on [N, C]",
    shape: [3, 16],
    params: bnParams.slice(0, 2),
    onnx: (x, [m, v]) => onnx.batchNorm(x, m!, v!, null, null, eval_),
    tfjs: (x, [m, v]) => tfjsOps.batchNorm(x, m!, v!, null, null, eval_),
    ops: ["BatchNormalization"],
  },
  { name: "hardswish", shape: [2, 4, 4, 8], onnx: (x) => onnx.hardswish(x), tfjs: (x) => tfjsOps.hardswish(x), ops: ["HardSwish"] },
  { name: "hardsigmoid", shape: [2, 4, 4, 8], onnx: (x) => onnx.hardsigmoid(x), tfjs: (x) => tfjsOps.hardsigmoid(x), ops: ["HardSigmoid"] },
  {
    name: "adaptive average pool to 1x1",
    shape: [2, 7, 5, 8],
    onnx: (x) => onnx.adaptiveAvgPool2d(x, { outputSize: [1, 1] }),
    tfjs: (x) => tfjsOps.adaptiveAvgPool2d(x, { outputSize: [1, 1] }),
    ops: ["GlobalAveragePool"],
  },
  {
    name: "adaptive max pool to 1x1",
    shape: [2, 7, 5, 8],
    onnx: (x) => onnx.adaptiveMaxPool2d(x, { outputSize: [1, 1] }),
    tfjs: (x) => tfjsOps.adaptiveMaxPool2d(x, { outputSize: [1, 1] }),
    ops: ["GlobalMaxPool"],
  },
  {
    name: "avg pool with padding, counting it (inception's 3x3)",
    shape: [2, 9, 9, 8],
    onnx: (x) => onnx.avgPool2d(x, pool({})),
    tfjs: (x) => tfjsOps.avgPool2d(x, pool({})),
    ops: ["AveragePool"],
  },
  {
    name: "avg pool with padding, not counting it, ceil_mode's window past the padding",
    shape: [2, 10, 10, 8],
    onnx: (x) => onnx.avgPool2d(x, pool({ stride: [2, 2], ceilMode: true, countIncludePad: false })),
    tfjs: (x) => tfjsOps.avgPool2d(x, pool({ stride: [2, 2], ceilMode: true, countIncludePad: false })),
    ops: ["AveragePool"],
  },
  {
    // torch does not count ceil_mode's cells past the padding, ONNX's count_include_pad would.
    name: "avg pool counting padding, ceil_mode's window past it: torch's own divisors",
    shape: [2, 10, 10, 8],
    onnx: (x) => onnx.avgPool2d(x, pool({ stride: [2, 2], ceilMode: true })),
    tfjs: (x) => tfjsOps.avgPool2d(x, pool({ stride: [2, 2], ceilMode: true })),
    ops: ["Pad", "AveragePool", "Mul", "Div"],
  },
  {
    name: "channel shuffle (shufflenet's view, transpose, view)",
    shape: [2, 3, 5, 12],
    onnx: (x) => onnx.rearrange(x, shuffle),
    tfjs: (x) => tfjsOps.rearrange(x, shuffle),
    ops: ["Reshape", "Reshape"],
  },
  {
    // The Conv, Add and Clip of the three calls it replaces (see the residual test below).
    name: "conv2dAdd: a 3x3 convolution, the residual (here its input), relu6",
    shape: [2, 6, 6, 8],
    params: [{ shape: [3, 3, 8, 8], lo: -0.2, hi: 0.2 }, { shape: [8] }],
    onnx: (x, [w, b]) => onnx.conv2dAdd(x, w!, b!, x, { stride: [1, 1], padding: [1, 1], activation: "relu6" }),
    tfjs: (x, [w, b]) => tfjsOps.conv2dAdd(x, w!, b!, x, { stride: [1, 1], padding: [1, 1], activation: "relu6" }),
    ops: ["Conv", "Add", "Clip"],
  },
  {
    // The MatMul, Add, Add and GELU's erf form that linear, add and gelu made: ORT fuses them as it did (FusedMatMul or Gemm, Gelu).
    name: "linearAdd: a linear, the residual (here its input), exact GELU",
    shape: [2, 5, 8],
    params: [{ shape: [8, 8], lo: -0.5, hi: 0.5 }, { shape: [8] }],
    onnx: (x, [w, b]) => onnx.linearAdd(x, w!, b!, x, { activation: "gelu" }),
    tfjs: (x, [w, b]) => tfjsOps.linearAdd(x, w!, b!, x, { activation: "gelu" }),
    ops: ["MatMul", "Add", "Add", "Mul", "Div", "Erf", "Add", "Mul"],
  },
  {
    name: "layerNormLinear: LayerNormalization, then the linear and its relu",
    shape: [2, 5, 8],
    params: [{ shape: [8], lo: 0.5, hi: 1.5 }, { shape: [8] }, { shape: [8, 6], lo: -0.5, hi: 0.5 }, { shape: [6] }],
    onnx: (x, [g, beta, w, b]) => onnx.layerNormLinear(x, g!, beta!, w!, b!, { eps: 1e-6, activation: "relu" }),
    tfjs: (x, [g, beta, w, b]) => tfjsOps.layerNormLinear(x, g!, beta!, w!, b!, { eps: 1e-6, activation: "relu" }),
    ops: ["LayerNormalization", "MatMul", "Add", "Relu"],
  },
];

/** The graph of one case: its input, parameters as initializers, the output. */
function build(c: Case): { graph: OnnxGraph; input: OnnxValue; output: OnnxValue; params: Float32Array[] } {
  const graph = new OnnxGraph();
  const input = new OnnxValue(graph, "input", c.shape);
  const params = (c.params ?? []).map((p, i) => values(p.shape.reduce((a, b) => a * b, 1), 100 + i, p.lo, p.hi));
  const output = c.onnx(
    input,
    params.map((data, i) => graph.constant({ dtype: "float", dims: c.params![i]!.shape, data })),
  );
  return { graph, input, output, params };
}

test("each of these kernels is one ONNX op", () => {
  for (const c of cases) {
    const { graph, input, output } = build(c);
    const ops = opTypes(graph.serialize([input], [output], "test")).filter((op) => op !== "Transpose");
    assert.deepEqual(ops, c.ops, c.name);
  }
});

test("on ONNX Runtime, their values are the tfjs kernels'", async () => {
  const ort = await onnxRuntime();
  await useBackend("cpu");
  for (const c of cases) {
    const { graph, input, output, params } = build(c);
    const session = await ort.InferenceSession.create(graph.serialize([input], [output], "test"), { graphOptimizationLevel: "all" });
    const x = values(c.shape.reduce((a, b) => a * b, 1), 7);
    const result = await session.run({ input: new ort.Tensor("float32", x, [...c.shape]) });
    await session.release();
    const got = result[output.name]!;
    const expected = tf.tidy(() => {
      const y = c.tfjs(
        tf.tensor(x, [...c.shape]),
        params.map((data, i) => tf.tensor(data, [...c.params![i]!.shape])),
      );
      return { shape: y.shape, data: y.dataSync() as Float32Array };
    });
    assert.deepEqual(got.dims.map(Number), expected.shape, c.name);
    const scale = Math.max(...expected.data.map(Math.abs));
    const worst = Math.max(...expected.data.map((e, i) => Math.abs(e - (got.data as Float32Array)[i]!)));
    assert.ok(worst <= 1e-5 * scale, `${c.name}: largest difference ${worst} against a largest magnitude ${scale}`);
  }
});

/** The op counts of the graph ORT runs: `graph` optimized as the onnxruntime engine's sessions are. */
async function optimizedOps(graph: OnnxGraph, input: OnnxValue, output: OnnxValue): Promise<Map<string, number>> {
  const ort = await onnxRuntime();
  const optimized = join(await tempDir("onnx-layout"), "optimized.onnx");
  const session = await ort.InferenceSession.create(graph.serialize([input], [output], "test"), { graphOptimizationLevel: "all", optimizedModelFilePath: optimized });
  await session.release();
  return opCounts(await readFile(optimized));
}

const describe = (counts: Map<string, number>): string => [...counts].map(([op, n]) => `${op} ${n}`).join(", ");

test("shufflenet's channel shuffle between Concat and Split moves channel planes, as in torch's export", async () => {
  const graph = new OnnxGraph();
  const input = new OnnxValue(graph, "input", [1, 6, 6, 12]);
  let seed = 1;
  const param = (shape: readonly number[]): OnnxValue => graph.constant({ dtype: "float", dims: shape, data: values(shape.reduce((a, b) => a * b, 1), seed++, -0.2, 0.2) });
  const conv = (x: OnnxValue, out: number): OnnxValue => onnx.conv2d(x, param([1, 1, x.shape[3]!, out]), param([out]), { stride: [1, 1], padding: [0, 0] });
  // One unit of shufflenet v2 (channel counts that are not a multiple of ORT's NCHWc block, as
  // its 58, 116, 232): concat two branches, shuffle, split, convolve one half, concat.
  const joined = onnx.concat([conv(input, 6), conv(input, 6)], { axis: 3 });
  const [kept, convolved] = onnx.split(onnx.rearrange(joined, { split: [-1, 2, 6], perm: [0, 2, 1], shape: [-1, 6, 6, 12] }), { sizes: [6, 6], axis: 3 });
  const output = onnx.concat([kept!, conv(convolved!, 6)], { axis: 3 });
  const counts = await optimizedOps(graph, input, output);
  // The input's move to channels first, the shuffle's own, the output's move to channels last.
  assert.equal(counts.get("Transpose"), 3, describe(counts));
});

test("ORT keeps conv -> batch norm -> relu -> conv -> hardswish -> global pool in its blocked layout", async () => {
  const graph = new OnnxGraph();
  const input = new OnnxValue(graph, "input", [1, 12, 12, 32]);
  let seed = 1;
  const param = (shape: readonly number[], lo = -0.2, hi = 0.2): OnnxValue => graph.constant({ dtype: "float", dims: shape, data: values(shape.reduce((a, b) => a * b, 1), seed++, lo, hi) });
  const conv = (x: OnnxValue): OnnxValue => onnx.conv2d(x, param([3, 3, 32, 32]), param([32]), { stride: [1, 1], padding: [1, 1] });
  const normed = onnx.batchNorm(conv(input), param([32]), param([32], 0.5, 1.5), param([32]), param([32]), eval_);
  const output = onnx.adaptiveAvgPool2d(onnx.hardswish(conv(onnx.relu(normed))), { outputSize: [1, 1] });
  const counts = await optimizedOps(graph, input, output);
  const arithmetic = ["Sub", "Mul", "Add", "Div", "Clip", "ReduceMean", "BatchNormalization", "HardSwish"].filter((op) => counts.has(op));
  assert.deepEqual(arithmetic, [], `left outside the convolutions: ${describe(counts)}`);
  // Into the blocked layout once, out once (the input's 32 channels are reordered, then pooled out).
  assert.ok((counts.get("com.microsoft.nchwc:ReorderOutput") ?? 0) <= 1, describe(counts));
});

test("ORT fuses conv2dAdd's residual add and relu into its convolution, as it did the separate calls", async () => {
  const graph = new OnnxGraph();
  const input = new OnnxValue(graph, "input", [1, 10, 10, 32]);
  let seed = 1;
  const param = (shape: readonly number[]): OnnxValue => graph.constant({ dtype: "float", dims: shape, data: values(shape.reduce((a, b) => a * b, 1), seed++, -0.2, 0.2) });
  const attrs = { stride: [1, 1], padding: [1, 1] } as const;
  const conv = (x: OnnxValue): OnnxValue => onnx.conv2d(x, param([3, 3, 32, 32]), param([32]), { ...attrs, activation: "relu" });
  // A stem, a ResNet block's tail (relu after the add), an inverted residual's (no activation), a
  // head: each residual comes from a convolution, in ORT's blocked layout, as in the models (an
  // addend straight from the graph's input is added apart, as the separate calls' Add was).
  const stem = conv(input);
  const block = onnx.conv2dAdd(conv(stem), param([3, 3, 32, 32]), param([32]), stem, { ...attrs, activation: "relu" });
  const inverted = onnx.conv2dAdd(conv(block), param([3, 3, 32, 32]), param([32]), block, attrs);
  const output = conv(inverted);
  const counts = await optimizedOps(graph, input, output);
  const arithmetic = ["Add", "Sum", "Relu", "Conv"].filter((op) => counts.has(op));
  assert.deepEqual(arithmetic, [], `left outside the convolutions: ${describe(counts)}`);
  assert.equal(counts.get("com.microsoft.nchwc:Conv"), 6, describe(counts));
});

test("a 1x1 average pool over a large map is accurate on ORT: each row's mean, then the rows' (GlobalAveragePool alone: 4.6e-6 here, 2e-5 in Mask R-CNN's backbone)", async () => {
  // Mask R-CNN's mobilenet_v3_small backbone pools a 120x128 map in its first squeeze-excitation.
  const shape = [2, 120, 128, 16];
  const graph = new OnnxGraph();
  const input = new OnnxValue(graph, "input", shape);
  // After a convolution, as in the model, ORT pools in its blocked layout; an identity 1x1 convolution keeps the values exact.
  const identity = new Float32Array(16 * 16).map((_, i) => (i % 17 === 0 ? 1 : 0));
  const same = onnx.conv2d(input, graph.constant({ dtype: "float", dims: [1, 1, 16, 16], data: identity }), null, { stride: [1, 1], padding: [0, 0] });
  const output = onnx.adaptiveAvgPool2d(same, { outputSize: [1, 1] });
  assert.deepEqual(opTypes(graph.serialize([input], [output], "test")).filter((op) => op !== "Transpose"), ["Conv", "AveragePool", "GlobalAveragePool"]);
  const ort = await onnxRuntime();
  const session = await ort.InferenceSession.create(graph.serialize([input], [output], "test"), { graphOptimizationLevel: "all" });
  const [n, h, w, c] = shape as [number, number, number, number];
  const x = values(n * h * w * c, 11, 0.5, 1.5);
  const got = (await session.run({ input: new ort.Tensor("float32", x, shape) }))[output.name]!.data as Float32Array;
  await session.release();
  let worst = 0;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let p = 0; p < h * w; p++) sum += x[(b * h * w + p) * c + ch]!;
      worst = Math.max(worst, Math.abs(got[b * c + ch]! - sum / (h * w)) / (sum / (h * w)));
    }
  }
  assert.ok(worst <= 2e-6, `largest relative error ${worst}`);
});
