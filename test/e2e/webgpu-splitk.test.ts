import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { conv2d as tfjsConv2d, conv2dAdd as tfjsConv2dAdd, type Conv2dAttrs } from "../../runtime/ops/conv.js";
import { layerNormLinear as tfjsLayerNormLinear, linear as tfjsLinear } from "../../runtime/ops/linear.js";
import { chooseGemmTile, runGemm, type GemmCall } from "../../runtime/webgpu/gemm.js";
import { convGeometry, convLoader } from "../../runtime/webgpu/ops/conv.js";
import { linear } from "../../runtime/webgpu/ops/linear.js";
import { checkF16 } from "../support/f16.js";
import { fixtureCases, runCase } from "../support/fixtures.js";
import { seededUniform } from "../support/seeded.js";
import { errorAgainst, pipelineKeys, programsRun, webgpuTest } from "../support/webgpu.js";

/**
 * Split-K in fxc's GEMM (runtime/webgpu/gemm.ts, chooseSplitK) on the same webgpu device as
 * tfjs's kernels (lavapipe in CI): S forced to 2, 3 and 4 against the one-pass product (S = 1) and
 * against tfjs's kernel of the same op, for a matrix product, an implicit-im2col convolution with
 * bias and ReLU, a residual convolution (conv2dAdd), a linear with GELU and a layerNormLinear, on
 * ragged shapes and batches; fxc-f16's slices against f32; and the choice engaging through fxc's
 * linear; resnet18 at batch 1 within the fixture bound with its late layers split (replayed bit
 * for bit: test/e2e/webgpu-replay.test.ts). The choice and the sources without a GPU:
 * test/unit/webgpu-splitk.test.ts.
 */

const SPLITS = [2, 3, 4] as const;

/** A product as runGemm takes it, less what the test varies, with tfjs's result for it, shaped as runGemm's [batch, M, N]. */
interface SplitCase {
  readonly name: string;
  readonly call: Omit<GemmCall, "precision" | "splitK">;
  readonly reference: () => tf.Tensor;
}

/** An implicit-im2col (or pointwise) convolution's GemmCall: `a` the NHWC input, `b` the HWIO filter as [K, N]. */
function convCall(x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | null, addend: tf.Tensor | null, attrs: Conv2dAttrs): Omit<GemmCall, "precision" | "splitK"> {
  const conv = convGeometry(x, w, attrs);
  assert.ok(conv !== undefined);
  const loader = convLoader(conv);
  const [images, k, n] = [x.shape[0]!, conv.kernelHeight * conv.kernelWidth * conv.channels, w.shape[3]!];
  const m = images * conv.outHeight * conv.outWidth;
  return {
    a: loader.kind === "matrix" ? tf.reshape(x, [1, m, k]) : x,
    b: tf.reshape(w, [k, n]),
    bias,
    addend: addend === null ? null : tf.reshape(addend, [1, m, n]),
    activation: attrs.activation,
    loader,
    batch: 1,
    m,
    k,
    n,
    aBatched: false,
    bBatched: false,
  };
}

function cases(): SplitCase[] {
  const out: SplitCase[] = [];
  {
    // Batched A and B, ragged M, N and K (scalar loads, K and N checked), no epilogue.
    const [batch, m, k, n] = [2, 37, 1030, 33];
    const [a, b] = [seededUniform([batch, m, k], 1), seededUniform([batch, k, n], 2)];
    out.push({
      name: "matrix product [2, 37, 1030] @ [2, 1030, 33]",
      call: { a, b, bias: null, addend: null, activation: undefined, loader: { kind: "matrix" }, batch, m, k, n, aBatched: true, bBatched: true },
      reference: () => tf.matMul(a, b),
    });
  }
  {
    // One B for a batch of 3 (a broadcast weight), aligned: vec4 loads and stores; bias, addend, relu6.
    const [batch, m, k, n] = [3, 20, 512, 64];
    const [a, b, bias, addend] = [seededUniform([batch, m, k], 3), seededUniform([k, n], 4), seededUniform([n], 5), seededUniform([batch, m, n], 6)];
    out.push({
      name: "batch 3 against one [512, 64], + bias + addend, relu6",
      call: { a, b, bias, addend, activation: "relu6", loader: { kind: "matrix" }, batch, m, k, n, aBatched: true, bBatched: false },
      reference: () => tf.relu6(tf.add(tf.add(tf.matMul(a, tf.broadcastTo(b, [batch, k, n])), bias), addend)),
    });
  }
  {
    // resnet's late 3x3 convolution, small: implicit im2col with padding, bias and ReLU.
    const attrs: Conv2dAttrs = { stride: [1, 1], padding: [1, 1], activation: "relu" };
    const [x, w, bias] = [seededUniform([1, 7, 7, 64], 7), seededUniform([3, 3, 64, 96], 8), seededUniform([96], 9)];
    const call = convCall(x, w, bias, null, attrs);
    out.push({ name: "im2col 3x3 conv, 64 -> 96 channels at 7x7, bias, relu", call, reference: () => tf.reshape(tfjsConv2d(x, w, bias, attrs), [1, call.m, call.n]) });
  }
  {
    // Two images, 5 channels (scalar loads), stride 2: K = 45 is 3 K tiles, so S = 4 has a slice with none.
    const attrs: Conv2dAttrs = { stride: [2, 2], padding: [1, 1], activation: "relu" };
    const [x, w, bias] = [seededUniform([2, 9, 9, 5], 10), seededUniform([3, 3, 5, 12], 11), seededUniform([12], 12)];
    const call = convCall(x, w, bias, null, attrs);
    out.push({ name: "im2col 3x3 stride 2 conv, 2 images, 5 -> 12 channels, bias, relu", call, reference: () => tf.reshape(tfjsConv2d(x, w, bias, attrs), [1, call.m, call.n]) });
  }
  {
    // A ResNet block's conv3: 1x1 (read as a matrix), the residual added before the ReLU.
    const attrs: Conv2dAttrs = { stride: [1, 1], padding: [0, 0], activation: "relu" };
    const [x, w, bias, addend] = [seededUniform([1, 7, 7, 128], 13), seededUniform([1, 1, 128, 64], 14), seededUniform([64], 15), tf.mul(seededUniform([1, 7, 7, 64], 16), 4)];
    const call = convCall(x, w, bias, addend, attrs);
    out.push({ name: "conv2dAdd 1x1, 128 -> 64 channels, bias + residual, relu", call, reference: () => tf.reshape(tfjsConv2dAdd(x, w, bias, addend, attrs), [1, call.m, call.n]) });
  }
  {
    // Wide values, so that GELU's erf is taken far into both tails.
    const [m, k, n] = [13, 300, 40];
    const [x, w, bias] = [tf.mul(seededUniform([1, m, k], 17), 4), seededUniform([k, n], 18), seededUniform([n], 19)];
    out.push({
      name: "linear 300 -> 40 on 13 rows, bias, gelu",
      call: { a: x, b: w, bias, addend: null, activation: "gelu", loader: { kind: "matrix" }, batch: 1, m, k, n, aBatched: false, bBatched: false },
      reference: () => tfjsLinear(x, w, bias, { activation: "gelu" }),
    });
  }
  {
    // Each slice computes its rows' statistics over the whole of K, as the one-pass product does.
    const [m, k, n] = [17, 256, 48];
    const [x, gamma, beta, w, bias] = [seededUniform([1, m, k], 20, -3, 3), seededUniform([k], 21, 0.5, 1.5), seededUniform([k], 22), seededUniform([k, n], 23), seededUniform([n], 24)];
    out.push({
      name: "layerNormLinear 256 -> 48 on 17 tokens, gamma and beta, gelu",
      call: { a: x, b: w, bias, addend: null, activation: "gelu", layerNorm: { eps: 1e-6, gamma, beta }, loader: { kind: "matrix" }, batch: 1, m, k, n, aBatched: false, bBatched: false },
      reference: () => tfjsLayerNormLinear(x, gamma, beta, w, bias, { eps: 1e-6, activation: "gelu" }),
    });
  }
  return out;
}

webgpuTest("split-K with S forced to 2, 3 and 4 equals the one-pass product and tfjs's kernel: matrices, convolutions, residual, GELU, layer norm", async () => {
  await chooseBackend("webgpu");
  for (const c of cases()) {
    let onePass: tf.Tensor | undefined;
    assert.deepEqual(programsRun(() => (onePass = runGemm({ ...c.call, precision: "f32", splitK: 1 }))), ["fxcGemm"], `${c.name}: S = 1 is one program`);
    const reference = c.reference();
    const oneError = await errorAgainst(onePass!, reference);
    assert.ok(oneError <= 1e-5, `${c.name}, S = 1 against tfjs: relative error ${oneError}`);
    for (const splitK of SPLITS) {
      let split: tf.Tensor | undefined;
      // The slices' product, then the program that adds them and applies the epilogue.
      assert.deepEqual(programsRun(() => (split = runGemm({ ...c.call, precision: "f32", splitK }))), ["fxcGemm", "fxcGemmSum"], `${c.name}, S = ${splitK}`);
      for (const [against, want] of [
        ["S = 1", onePass!],
        ["tfjs", reference],
      ] as const) {
        const error = await errorAgainst(split!, want);
        assert.ok(error <= 1e-5, `${c.name}, S = ${splitK} against ${against}: relative error ${error}`);
      }
      split!.dispose();
    }
    tf.dispose([onePass!, reference]);
  }
});

webgpuTest("split-K repeats itself bit for bit (no atomics): the slices are added in a fixed order", async () => {
  await chooseBackend("webgpu");
  const [c] = cases();
  const runs = await Promise.all([0, 1, 2].map(() => runGemm({ ...c!.call, precision: "f32", splitK: 4 }).data()));
  for (const again of runs.slice(1)) assert.deepEqual(again, runs[0]);
});

webgpuTest("fxc-f16 with split K: each slice's products in f16, its sums and their total in f32, within f16's rounding bound of the f32 product", async () => {
  await chooseBackend("webgpu");
  const [matrix, , conv] = cases();
  for (const c of [matrix!, conv!]) {
    const { a, b, m, n, k } = c.call;
    for (const splitK of SPLITS) {
      await checkF16({
        name: `${c.name}, S = ${splitK}`,
        k,
        bk: chooseGemmTile(m, n, k).bk,
        run: (precision) => runGemm({ ...c.call, precision, splitK: precision === "f16" ? splitK : 1 }),
        absSum: () => runGemm({ ...c.call, a: tf.abs(a), b: tf.abs(b), bias: null, addend: null, activation: undefined, precision: "f32", splitK: 1 }),
        maxA: 1,
        maxB: 1,
      });
    }
  }
});

webgpuTest("fxc's linear splits K by itself where few workgroups would walk a long K, and not where K is short", async () => {
  await chooseBackend("webgpu");
  // 4 rows x 64 columns is one workgroup: K = 2048 splits (into 8 slices of 256), K = 512 does not.
  for (const [k, programs] of [
    [2048, ["fxcGemm", "fxcGemmSum"]],
    [512, ["fxcGemm"]],
  ] as const) {
    const [x, w, bias] = [seededUniform([4, k], 30), seededUniform([k, 64], 31), seededUniform([64], 32)];
    let ours: tf.Tensor | undefined;
    assert.deepEqual(programsRun(() => (ours = linear(x, w, bias, { activation: "relu" }))), programs, `K = ${k}`);
    const theirs = tfjsLinear(x, w, bias, { activation: "relu" });
    const error = await errorAgainst(ours!, theirs);
    assert.ok(error <= 1e-5, `K = ${k}: relative error ${error}`);
    tf.dispose([x, w, bias, ours!, theirs]);
  }
});

webgpuTest("resnet18 at batch 1 on fxc's kernels: layer3 and layer4 split K by chooseSplitK, the features within the fixture bound", async () => {
  const [c] = fixtureCases((x) => x.id === "resnet18_seeded");
  assert.ok(c, "the fixture case resnet18_seeded");
  // The case's first image alone: 40x40, so layer3 runs at 3x3 pixels and layer4 at 2x2.
  const result = await runCase(c, { layout: "nhwc", backend: "webgpu", engine: "tfjs", webgpuKernels: "fxc", images: 1 });
  for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c.tolerance, `${key}: ${error}`);
  assert.ok(Object.values(result.shapes).every((shape) => shape[0] === 1), "batch 1");
  // layer4's 3x3 convolutions: 4 rows (a 4x64 tile), N = 512, K = 4608: 8 workgroups, K in 16 slices;
  // layer3's: 9 rows, K = 2304: 4 workgroups, K in 9 slices of 256.
  for (const key of [/^fxcGemm_4608_512_im2col2,2,512,3,3,1,1,1,1,1,1,2,2_4x64x16_1x4__bias_add_relu__split16_/, /^fxcGemmSum_16_512_bias_add_relu_/, /^fxcGemm_2304_256_im2col3,3,256,3,3,1,1,1,1,1,1,3,3_16x64x16_1x4__bias__relu__split9_/]) {
    assert.ok(
      pipelineKeys().some((k) => key.test(k)),
      `${String(key)} ran: ${pipelineKeys()
        .filter((k) => k.startsWith("fxcGemm"))
        .join(", ")}`,
    );
  }
});
