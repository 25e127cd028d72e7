import assert from "node:assert/strict";
import { join } from "node:path";
import { chooseBackend, openWeights, tf } from "../../runtime/index.js";
import { layerNorm } from "../../runtime/ops/norm.js";
import { chooseGemmTile, runGemm } from "../../runtime/webgpu/gemm.js";
import { conv2dWithAddend } from "../../runtime/webgpu/ops/conv.js";
import { gemmProducts } from "../../runtime/webgpu/ops/linear.js";
import { ROOT, assertOneLineError, fxc } from "../support/cli.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { checkF16, maxAbs, type F16Check } from "../support/f16.js";
import { F16_FIXTURE_BOUND, fixtureCases, RESNET18_CASE, RESNET18_WEIGHTS, relativeError, runCase } from "../support/fixtures.js";
import { seededUniform } from "../support/seeded.js";
import { tempDir } from "../support/temp.js";
import { pipelineKeys, webgpuTest, withoutDawnDiagnostics } from "../support/webgpu.js";

/**
 * webgpuKernels "fxc-f16" on lavapipe (whose Vulkan driver has shader-f16): the GEMM with
 * half-precision products against the same GEMM in f32 on random data, within a bound derived
 * from f16's rounding; fixture cases against torchvision, their errors measured and printed; and
 * the refusals (a device without shader-f16; off webgpu: test/e2e/engine-api.test.ts). The bound
 * and the check: test/support/f16.ts.
 */

webgpuTest("the GEMM in half precision: off f32's result by more than 1e-6 (it ran in f16) and within f16's rounding bound at every output", async () => {
  await chooseBackend("webgpu");
  const checks: F16Check[] = [];
  // Plain matrices: aligned with a bias and a residual (vec4, several K tiles), ragged (scalar loads, K and N checked), one K tile of 8.
  for (const [batch, m, k, n] of [
    [2, 70, 256, 64],
    [1, 300, 70, 33],
    [1, 9, 7, 6],
  ] as const) {
    const [a, b, bias, addend] = [seededUniform([batch, m, k], 1), seededUniform([batch, k, n], 2), seededUniform([n], 3), seededUniform([batch, m, n], 4)];
    const call = { a, b, bias, addend, activation: "relu" as const, loader: { kind: "matrix" as const }, batch, m, k, n, aBatched: true, bBatched: true };
    checks.push({
      name: `[${batch}, ${m}, ${k}] @ [${k}, ${n}] + bias + addend, relu`,
      k,
      bk: chooseGemmTile(m, n, k).bk,
      run: (precision) => runGemm({ ...call, precision }),
      absSum: () => runGemm({ ...call, a: tf.abs(a), b: tf.abs(b), bias: null, addend: null, activation: undefined, precision: "f32" }),
      maxA: 1,
      maxB: 1,
    });
  }
  // A convolution as implicit GEMM (im2col loader, padding checks).
  const [x, w, convBias] = [seededUniform([2, 12, 12, 16], 5), seededUniform([3, 3, 16, 64], 6), seededUniform([64], 7)];
  const attrs = { stride: [1, 1], padding: [1, 1] };
  checks.push({
    name: "3x3 convolution, 16 -> 64 channels, batch 2, relu6",
    k: 144,
    bk: chooseGemmTile(288, 64, 144).bk,
    run: (precision) => conv2dWithAddend(x, w, convBias, null, { ...attrs, activation: "relu6" }, precision)!,
    absSum: () => conv2dWithAddend(tf.abs(x), tf.abs(w), null, null, attrs, "f32")!,
    maxA: 1,
    maxB: 1,
  });
  // A linear reading a layer norm (the prologue normalizes in f32, then rounds to f16).
  const [tokens, gamma, beta, weight] = [seededUniform([1, 17, 64], 8, -3, 3), seededUniform([64], 9, 0.5, 1.5), seededUniform([64], 10), seededUniform([64, 48], 11)];
  const normalized = layerNorm(tokens, gamma, beta, { dims: 1, eps: 1e-6 });
  checks.push({
    name: "layerNormLinear, 17 tokens, 64 -> 48",
    k: 64,
    bk: chooseGemmTile(17, 48, 64).bk,
    run: (precision) => gemmProducts(precision).layerNormLinear(tokens, gamma, beta, weight, null, { eps: 1e-6 }),
    absSum: () => gemmProducts("f32").linear(tf.abs(normalized), tf.abs(weight), null),
    maxA: await maxAbs(normalized),
    maxB: 1,
  });
  for (const c of checks) await checkF16(c);
  const f16Keys = pipelineKeys().filter((key) => key.startsWith("fxcGemm_") && key.includes("_f16_"));
  for (const key of ["fxcGemm_256_64_mat_", "fxcGemm_70_33_mat_", "fxcGemm_7_6_mat_", "fxcGemm_144_64_im2col12,12,16,3,3,", "fxcGemm_64_48_mat_"]) {
    assert.ok(f16Keys.some((k) => k.startsWith(key)), `${key}… ran in f16: ${f16Keys.join(", ")}`);
  }
});

for (const [id, factories] of [
  ["resnet18_seeded", {}],
  ["mobilenet_v3_small_seeded", {}],
  ["vit_tiny_pth", VIT_SWIN_FACTORIES],
] as const) {
  webgpuTest(`with webgpuKernels "fxc-f16", ${id} stays within ${F16_FIXTURE_BOUND} of torchvision on every output (the figures are printed)`, async (t) => {
    const [c] = fixtureCases((x) => x.id === id);
    assert.ok(c, `the fixture case ${id}`);
    const result = await runCase(c, { layout: "nhwc", backend: "webgpu", engine: "tfjs", factories, webgpuKernels: "fxc-f16" });
    assert.equal(result.webgpuKernels, "fxc-f16");
    const figures = Object.entries(result.errors).map(([key, error]) => `${key} ${error.toExponential(2)}`);
    console.log(`fxc-f16 against torchvision, ${id}: ${figures.join(", ")}`);
    t.diagnostic(figures.join(", "));
    for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= F16_FIXTURE_BOUND, `${key}: ${error}`);
    assert.ok(pipelineKeys().some((k) => k.startsWith("fxcGemm_") && k.includes("_f16_")), "fxc's GEMM ran in f16");
  });
}

const EXTRACT = ["extract", "resnet18", "--return", "maxpool,layer1.0", "--layout", "nchw", "--weights", RESNET18_WEIGHTS, "--input", join(RESNET18_CASE, "input.npy"), "--backend", "webgpu", "--webgpu-kernels", "fxc-f16"];

webgpuTest("fxc extract --webgpu-kernels fxc-f16 names the half-precision set in its engine line and writes features near torchvision's", async () => {
  const out = join(await tempDir("webgpu-f16"), "f.safetensors");
  const r = await fxc([...EXTRACT, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(withoutDawnDiagnostics(r.stderr), /^fxc: engine tfjs, backend webgpu on \S.*, fxc's WGSL kernels, half-precision products \(fxc-f16\) \(not onnxruntime: backend webgpu runs the tfjs engine\)$/m);
  const [got, want] = [await openWeights(out), await openWeights(join(RESNET18_CASE, "expected.safetensors"))];
  try {
    for (const key of ["maxpool", "layer1.0"]) assert.ok(relativeError(await got.readFloat32(key), await want.readFloat32(key)) <= F16_FIXTURE_BOUND, key);
  } finally {
    await Promise.all([got.close(), want.close()]);
  }
});

webgpuTest("fxc-f16 on a device without shader-f16 is one line naming the adapter and the fp32 set to use, not a quiet fp32 run", async () => {
  // The child's Dawn leaves shader-f16 out of every device it gives (test/support/no-shader-f16.mjs), as a GPU without it would.
  const env = { NODE_OPTIONS: `--import ${join(ROOT, "test/support/no-shader-f16.mjs")}` };
  const r = await fxc([...EXTRACT, "--out", join(await tempDir("webgpu-f16"), "f.safetensors")], { env });
  assertOneLineError(
    { code: r.code, stderr: withoutDawnDiagnostics(r.stderr) },
    /^fxc: the webgpu adapter \S.* lacks shader-f16, which webgpuKernels "fxc-f16" needs; use webgpuKernels "fxc" \(fp32; --webgpu-kernels fxc\)$/,
    { code: 1 },
  );
  // The same device runs fxc's fp32 kernels.
  const fp32 = await fxc([...EXTRACT.slice(0, -1), "fxc", "--out", join(await tempDir("webgpu-f16"), "f.safetensors")], { env });
  assert.equal(fp32.code, 0, fp32.stderr);
});
