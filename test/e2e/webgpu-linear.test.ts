import assert from "node:assert/strict";
import { extractorProgram, loadProgram } from "../../compiler/api.js";
import { chooseBackend, tf } from "../../runtime/index.js";
import { layerNormLinear as tfjsLayerNormLinear, linear as tfjsLinear, linearAdd as tfjsLinearAdd } from "../../runtime/ops/linear.js";
import type { FusedActivation } from "../../runtime/ops/support/activation.js";
import { layerNormLinear, linear, linearAdd } from "../../runtime/webgpu/ops/linear.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { relativeError } from "../support/fixtures.js";
import { seededInput, seededUniform, seededWeights } from "../support/seeded.js";
import { errorAgainst, pipelineKeys, programsRun, webgpuTest } from "../support/webgpu.js";

/**
 * fxc's linear (runtime/webgpu/gemm.ts's GEMM) against tfjs's linear on the same webgpu device
 * (lavapipe in CI). The source's specialization is checked without a GPU in
 * test/unit/webgpu-gemm.test.ts; ViT's linear layers through webgpuKernels "fxc" in
 * test/e2e/webgpu-matmul.test.ts.
 */

webgpuTest("fxc's linear equals tfjs's on aligned and ragged shapes, 2-D and 3-D inputs, with and without a bias", async () => {
  await chooseBackend("webgpu");
  // [leading dims..., K, N]: aligned to the tile, ragged in every dimension, one row (a 4-row tile), ViT-Ti's MLP widths at 7 tokens (an 8-row tile).
  for (const [lead, inner, outer] of [
    [[300], 64, 128],
    [[2, 5], 7, 3],
    [[3, 17], 70, 33],
    [[1], 36, 1000],
    [[1, 7], 192, 768],
  ] as const) {
    for (const withBias of [true, false]) {
      const x = seededUniform([...lead, inner], 1);
      const w = seededUniform([inner, outer], 2);
      const b = withBias ? seededUniform([outer], 3) : null;
      const ours = linear(x, w, b);
      const theirs = tfjsLinear(x, w, b);
      assert.deepEqual(ours.shape, [...lead, outer]);
      const error = await errorAgainst(ours, theirs);
      assert.ok(error <= 1e-5, `[${lead}, ${inner}] x [${inner}, ${outer}]${withBias ? " + bias" : ""}: relative error ${error}`);
      tf.dispose([x, w, ours, theirs, ...(b === null ? [] : [b])]);
    }
  }
  for (const key of ["fxcGemm_64_128_mat_64x64x16_4x4__bias", "fxcGemm_70_33_mat_32x64x16_2x4", "fxcGemm_36_1000_mat_4x64x16_1x4__bias", "fxcGemm_192_768_mat_8x64x16_1x4__bias"]) {
    assert.ok(pipelineKeys().some((k) => k.startsWith(key)), `${key} ran: ${pipelineKeys().join(", ")}`);
  }
});

webgpuTest("fxc's fused linears equal tfjs's compositions: the activation and residual in the epilogue, the layer norm in the prologue", async () => {
  await chooseBackend("webgpu");
  // [leading dims..., K, N]: ragged K and N (not multiples of the tile, nor of 4), one row, ViT-Ti's widths.
  const shapes = [
    [[1], 7, 3],
    [[3, 17], 70, 33],
    [[1], 36, 1000],
    [[2, 65], 192, 768],
    [[2, 65], 768, 192],
  ] as const;
  const others: (FusedActivation | undefined)[] = ["relu", "relu6", undefined];
  for (const [s, [lead, inner, outer]] of shapes.entries()) {
    // Wide values, so that GELU's erf is taken far into both tails and relu6 clips.
    const x = tf.mul(seededUniform([...lead, inner], 10 + s), 4);
    const w = seededUniform([inner, outer], 20 + s);
    const b = seededUniform([outer], 30 + s);
    const addend = seededUniform([...lead, outer], 40 + s);
    const gamma = tf.add(seededUniform([inner], 50 + s), 1);
    const beta = seededUniform([inner], 60 + s);
    // GELU on every shape, and one of the others in turn, each with the layer norm's affine in turn:
    // both operands, gamma only, neither (a layer norm without elementwise_affine).
    for (const [activation, g, bt] of [["gelu", gamma, beta], [others[s % 3], ...[[gamma, null], [null, null], [gamma, beta]][s % 3]!]] as const) {
      const attrs = activation === undefined ? {} : { activation };
      const cases: [string, tf.Tensor, tf.Tensor][] = [
        ["linear", linear(x, w, b, attrs), tfjsLinear(x, w, b, attrs)],
        ["linearAdd", linearAdd(x, w, b, addend, attrs), tfjsLinearAdd(x, w, b, addend, attrs)],
        ["layerNormLinear", layerNormLinear(x, g, bt, w, b, { eps: 1e-6, ...attrs }), tfjsLayerNormLinear(x, g, bt, w, b, { eps: 1e-6, ...attrs })],
      ];
      for (const [kernel, ours, theirs] of cases) {
        const error = await errorAgainst(ours, theirs);
        assert.ok(error <= 1e-5, `${kernel} [${lead}, ${inner}] x [${inner}, ${outer}] ${activation ?? "no activation"}: relative error ${error}`);
      }
      tf.dispose(cases.flatMap(([, ours, theirs]) => [ours, theirs]));
    }
    tf.dispose([x, w, b, addend, gamma, beta]);
  }
  const keys = pipelineKeys();
  // fxc's shaders ran: the activation and the addend in the epilogue, the layer norm (eps, gamma, beta) in the prologue.
  for (const key of ["fxcGemm_7_3_mat_16x16x8_1x4__bias_add_gelu__", "fxcGemm_70_33_mat_32x64x16_2x4__bias__relu6_ln0.000001_", "fxcGemm_768_192_mat_32x64x16_2x4__bias__gelu_ln0.000001gb_", "fxcGemm_7_3_mat_16x16x8_1x4__bias__relu_ln0.000001g_"]) {
    assert.ok(keys.some((k) => k.startsWith(key)), `${key} ran: ${keys.filter((k) => k.startsWith("fxcGemm")).join(", ")}`);
  }
});

webgpuTest("vit_tiny's forward on fxc's kernels: each block's two layer norms and two residual adds run inside its products", async () => {
  await chooseBackend("webgpu");
  const factory = VIT_SWIN_FACTORIES["vit_tiny"]!;
  const weights = seededWeights(factory(), 1);
  const x = tf.tensor4d(seededInput([1, 3, 32, 32], 2), [1, 3, 32, 32]);
  // Returning each block's ln, ln_1, attention output (dropout) and mlp keeps those fusions from happening.
  const blockers = [0, 1].flatMap((i) => ["ln", "ln_1", "dropout", "mlp"].map((n) => `encoder.layers.encoder_layer_${i}.${n}`));
  const run = async (returnNodes: string[]): Promise<{ kinds: string[]; y: tf.Tensor }> => {
    const program = extractorProgram(factory(), { returnNodes, inputShape: [1, 3, 32, 32] });
    const extractor = await loadProgram(program, weights, { engine: "tfjs", backend: "webgpu", webgpuKernels: "fxc" });
    tf.dispose(Object.values(extractor.forward(x)));
    let out: Record<string, tf.Tensor> = {};
    const kinds = programsRun(() => (out = extractor.forward(x)));
    const y = out["encoder.ln"]!;
    tf.dispose(Object.values(out).filter((t) => t !== y));
    extractor.dispose();
    return { kinds, y };
  };
  const fused = await run(["encoder.ln"]);
  const unfused = await run(["encoder.ln", ...blockers]);
  const count = (kinds: string[], kind: string): number => kinds.filter((k) => k === kind).length;
  // 15 programs (47 before the linear and multi-head attention fusions): the input's transpose, the
  // patch embedding's GEMM, the class token's concat and the pos embedding's add, then 5 a block
  // (ln_1 + in_proj, the attention reading the packed q|k|v, out_proj + x, ln_2 + fc1 + GELU,
  // fc2 + x), and encoder.ln.
  assert.equal(fused.kinds.length, 15, fused.kinds.join(", "));
  assert.deepEqual([count(fused.kinds, "fxcGemm"), count(fused.kinds, "fxcLayerNorm"), count(fused.kinds, "binary"), count(fused.kinds, "unary")], [9, 1, 1, 0]);
  assert.equal(unfused.kinds.length, fused.kinds.length + 8);
  assert.deepEqual([count(unfused.kinds, "fxcLayerNorm"), count(unfused.kinds, "binary")], [5, 5]);
  assert.ok((await errorAgainst(fused.y, unfused.y)) <= 1e-5);
  tf.dispose([x, fused.y, unfused.y]);
});

webgpuTest("under gradients, and on another backend, fxc's linear is tfjs's (its programs have no gradients)", async () => {
  await chooseBackend("webgpu");
  const x = seededUniform([4, 6], 4);
  const w = seededUniform([6, 5], 5);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(linear(v, w, null)))(x);
  const want = tf.grad((v: tf.Tensor) => tf.sum(tfjsLinear(v, w, null)))(x);
  assert.ok(relativeError((await grad.data()) as Float32Array, (await want.data()) as Float32Array) <= 1e-6);
  tf.dispose([x, w, grad, want]);
});
