import assert from "node:assert/strict";
import { test } from "node:test";
import { createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { outputShape } from "../../compiler/emit/emitter.js";
import { Buffer } from "../../models/nn/index.js";
import { MaxVit, acceptedInputSides, relativePositionIndex } from "../../models/zoo/maxvit.js";
import { getModel } from "../../models/zoo/registry.js";
import { useBackend } from "../../runtime/backend.js";
import { tf } from "../../runtime/index.js";
import { gather } from "../../runtime/ops/indexing.js";
import { einsum } from "../../runtime/ops/linear.js";
import { parseEinsum } from "../../runtime/ops/support/linear.js";

const WINDOWS = "blocks.0.layers.0.layers.window_attention.partition_op.reshape_1";
const BIAS = "blocks.0.layers.0.layers.window_attention.attn_layer.1.unsqueeze";

test("relative position indices are torchvision's (_get_relative_position_index)", () => {
  // torch: for window positions i = (yi, xi), j = (yj, xj): (yi - yj + h - 1) * (2w - 1) + (xi - xj + w - 1).
  const index = relativePositionIndex(2, 3);
  assert.deepEqual([...index.slice(0, 6)], [7, 6, 5, 2, 1, 0]);
  assert.deepEqual([...index.slice(30, 36)], [14, 13, 12, 9, 8, 7]);
  const seven = relativePositionIndex(7, 7);
  assert.equal(Math.max(...seven), 168, "13 x 13 table rows");
  assert.equal(seven[24 * 49 + 24], 84, "a position's offset to itself is the table's centre");
});

test("a buffer view reads the same checkpoint tensor in a new shape, and refuses sizes that do not fit", () => {
  const b = new Buffer([4, 6], { dtype: "int64" });
  const v = b.view(-1);
  assert.deepEqual(v.shape, [24]);
  assert.equal(v.stored, b);
  assert.equal(v.view(3, -1).stored, b);
  assert.throws(() => b.view(5, -1), /cannot be viewed as \[5, -1\]/);
});

test("an input size maxvit_t cannot take is a one-line error naming the sizes it takes", () => {
  for (const size of [256, 225, 220, [224, 230] as const]) {
    assert.throws(
      () => getGraphNodeNames("maxvit_t", { size }),
      (e: Error) => {
        assert.match(e.message, /^MaxVit built for input_size \(224, 224\) takes inputs of height 221 to 224 and width 221 to 224, got \d+x\d+/);
        assert.match(e.message, /divisible by partition_size 7: 221-224, 445-448, 669-672, 893-896\.\.\.$/);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      },
    );
  }
  // Sides 221 to 224 reach the same grids, and torchvision runs them.
  for (const size of [221, 223]) assert.equal(getGraphNodeNames("maxvit_t", { size }).eval.length, 1509);
});

test("maxvit_t built for another input size takes that size, and the constructor refuses sizes its partitions do not divide", () => {
  const fx = createFeatureExtractor("maxvit_t", {
    size: 448,
    modelOptions: { inputSize: [448, 448] },
    returnNodes: { [WINDOWS]: "windows", "classifier.5": "logits" },
    suppressDiffWarning: true,
  });
  assert.deepEqual(
    fx.program.outputs.map((o) => (o.value.kind === "tensor" ? o.value.shape : [])),
    [
      ["N", 256, 49, 64],
      ["N", 1000],
    ],
  );
  assert.deepEqual(acceptedInputSides(7, 4, 700), [221, 222, 223, 224, 445, 446, 447, 448, 669, 670, 671, 672]);
  assert.throws(
    () => getModel("maxvit_t", { inputSize: [256, 256] }),
    /^Error: Input size \(64, 64\) of block 0 is not divisible by partition size 7\. .* block input sizes: \[\(64, 64\), \(32, 32\), \(16, 16\), \(8, 8\)\]\.$/,
  );
});

test("windows and biases come back in torch's order; image-like outputs follow the layout", () => {
  for (const layout of ["nhwc", "nchw"] as const) {
    const fx = createFeatureExtractor("maxvit_t", {
      returnNodes: {
        [WINDOWS]: "windows",
        [BIAS]: "bias",
        "blocks.0": "block0",
      },
      layout,
      suppressDiffWarning: true,
    });
    const shapes = Object.fromEntries(fx.program.outputs.map((o) => [o.key, outputShape(o, layout)]));
    assert.deepEqual(shapes.windows, ["N", 64, 49, 64], "[B, windows, positions, C]");
    assert.deepEqual(shapes.bias, [1, 2, 49, 49], "[1, heads, positions, positions]");
    assert.deepEqual(shapes.block0, layout === "nhwc" ? ["N", 56, 56, 64] : ["N", 64, 56, 56]);
    // No layout conversions between the windows and the attention (they stay in torch's order).
    assert.equal(fx.program.instructions.filter((i) => i.note === "layout change").length, 0);
  }
});

/** einsum by its definition: every combination of labels, products summed over those not in the output. */
function referenceEinsum(equation: string, operands: { shape: number[]; data: Float32Array }[]): { shape: number[]; data: Float64Array } {
  const plan = parseEinsum(equation, operands.length);
  const sizes = new Map<string, number>();
  plan.inputs.forEach((labels, i) => labels.forEach((l, d) => sizes.set(l, operands[i]!.shape[d]!)));
  const labels = [...sizes.keys()];
  const outShape = plan.output.map((l) => sizes.get(l)!);
  const out = new Float64Array(outShape.reduce((a, b) => a * b, 1));
  const offset = (ls: readonly string[], shape: readonly number[], at: Map<string, number>): number => ls.reduce((o, l, d) => o * shape[d]! + at.get(l)!, 0);
  const at = new Map(labels.map((l) => [l, 0]));
  for (;;) {
    let term = 1;
    plan.inputs.forEach((ls, i) => (term *= operands[i]!.data[offset(ls, operands[i]!.shape, at)]!));
    out[offset(plan.output, outShape, at)] += term;
    let d = labels.length - 1;
    for (; d >= 0; d--) {
      const l = labels[d]!;
      at.set(l, at.get(l)! + 1);
      if (at.get(l)! < sizes.get(l)!) break;
      at.set(l, 0);
    }
    if (d < 0) return { shape: outShape, data: out };
  }
}

test("einsum follows torch for batched, transposed, summed, implicit and single-operand equations", async () => {
  const cases: [string, number[][]][] = [
    [
      "B G H I D, B G H J D -> B G H I J",
      [
        [2, 3, 2, 4, 5],
        [2, 3, 2, 6, 5],
      ],
    ],
    [
      "B G H I J, B G H J D -> B G H I D",
      [
        [2, 3, 2, 4, 6],
        [2, 3, 2, 6, 5],
      ],
    ],
    [
      "bji,bjk->bik",
      [
        [2, 3, 4],
        [2, 3, 5],
      ],
    ],
    [
      "bij,bkj->bki",
      [
        [2, 3, 4],
        [2, 5, 4],
      ],
    ],
    [
      "ij,jk",
      [
        [3, 4],
        [4, 5],
      ],
    ],
    [
      "Ba,ab",
      [
        [2, 3],
        [3, 4],
      ],
    ],
    ["aij,j->a", [[2, 3, 4], [4]]],
    [
      "ij,kl->ljki",
      [
        [2, 3],
        [4, 5],
      ],
    ],
    ["ijk->kj", [[2, 3, 4]]],
  ];
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    for (const [equation, shapes] of cases) await checkEinsum(equation, shapes, backend);
  }
  assert.throws(() => parseEinsum("...ij,jk", 2), /ellipses/);
  assert.throws(() => parseEinsum("ii,jk", 2), /diagonal/);
  assert.throws(() => parseEinsum("ij,jk->q", 2), /'q' is in no operand/);
});

async function checkEinsum(equation: string, shapes: number[][], backend: string): Promise<void> {
  {
    const operands = shapes.map((shape, i) => ({
      shape,
      data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(1 + j * 0.37 + i)),
    }));
    const want = referenceEinsum(equation, operands);
    const inputs = operands.map((o) => tf.tensor(o.data, o.shape));
    const got = einsum(inputs, { equation });
    assert.deepEqual(got.shape, want.shape, equation);
    const data = await got.data();
    const worst = want.data.reduce((m, w, i) => Math.max(m, Math.abs(w - data[i]!)), 0);
    assert.ok(worst < 1e-5, `${equation} [${backend}]: max difference ${worst}`);
    tf.dispose([got, ...inputs]);
  }
}

test("gather picks rows by an index of any shape, given as float32 or int32", async () => {
  await useBackend("wasm");
  const table = tf.tensor2d([
    [0, 1],
    [10, 11],
    [20, 21],
  ]);
  for (const index of [
    tf.tensor2d([
      [2, 0],
      [1, 2],
    ]),
    tf.tensor2d(
      [
        [2, 0],
        [1, 2],
      ],
      undefined,
      "int32",
    ),
  ]) {
    const got = gather(table, index, { shape: [2, 2, 2] });
    assert.deepEqual(await got.array(), [
      [
        [20, 21],
        [0, 1],
      ],
      [
        [10, 11],
        [20, 21],
      ],
    ]);
    tf.dispose([got, index]);
  }
  table.dispose();
});

test("a MaxVit whose input size the constructor accepts traces at that size (a tiny configuration)", () => {
  const model = new MaxVit({
    inputSize: [64, 64],
    stemChannels: 4,
    partitionSize: 4,
    blockChannels: [4, 8],
    blockLayers: [1, 1],
    headDim: 2,
    stochasticDepthProb: 0.2,
  });
  const names = getGraphNodeNames(model, {
    size: 63,
    suppressDiffWarning: true,
  });
  assert.equal(names.train.join(), names.eval.join());
  assert.throws(() => getGraphNodeNames(model, { size: 96 }), /takes inputs of height 61 to 64 and width 61 to 64, got 96x96/);
});
