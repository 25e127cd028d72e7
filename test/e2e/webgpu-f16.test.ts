import assert from "node:assert/strict";
import { join } from "node:path";
import { chooseBackend, openWeights, tf } from "../../runtime/index.js";
import { layerNorm } from "../../runtime/ops/norm.js";
import { chooseGemmTile, runGemm, type GemmPrecision } from "../../runtime/webgpu/gemm.js";
import { conv2dWithAddend } from "../../runtime/webgpu/ops/conv.js";
import { gemmProducts } from "../../runtime/webgpu/ops/linear.js";
import { ROOT, assertOneLineError, fxc } from "../support/cli.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { F16_FIXTURE_BOUND, fixtureCases, RESNET18_CASE, RESNET18_WEIGHTS, relativeError, runCase } from "../support/fixtures.js";
import { seededUniform } from "../support/seeded.js";
import { tempDir } from "../support/temp.js";
import { pipelineKeys, webgpuTest, withoutDawnDiagnostics } from "../support/webgpu.js";

/**
 * webgpuKernels "fxc-f16" on lavapipe (whose Vulkan driver has shader-f16): the GEMM with
 * half-precision products against the same GEMM in f32 on random data, within a bound derived
 * from f16's rounding; fixture cases against torchvision, their errors measured and printed; and
 * the refusals (a device without shader-f16; off webgpu: test/e2e/engine-api.test.ts).
 */

/** f16's unit roundoff: 11 significant bits, round to nearest. */
const F16_ROUNDOFF = 2 ** -11;
/** f32's. */
const F32_ROUNDOFF = 2 ** -24;

/**
 * The most |f16 GEMM - f32 GEMM| may be at an output whose sum of |a_k|·|b_k| is `absSum`:
 * - a BK step rounds each of a_k and b_k to f16 (2u, u = 2^-11), its product (u; none when the FMA
 *   is fused) and each of its BK running sums in f16 (BK·u): each product is off by at most
 *   (BK + 3)·u of |a_k b_k| to first order (1% added for the second order), summed over k;
 * - the f32 side (the reference, and the f16 side's f32 sum of its steps' partials and its
 *   epilogue) is off by at most (K + 4)·2^-24 of the same sum;
 * - f16's subnormals (below 2^-14) round to a fixed 2^-25 rather than relatively: an operand that
 *   small is off by 2^-25 times the other's magnitude, a running sum that small by 2^-25: with
 *   |a|, |b| at most `maxA` and `maxB`, K·2^-24·(1 + maxA + maxB) in all. (This takes the device
 *   to keep f16 subnormals, as lavapipe does; WGSL lets one flush them to zero.)
 * A ReLU or ReLU6 after the sum does not widen the difference (both are 1-Lipschitz).
 */
function f16Bound(absSum: number, k: number, bk: number, maxA: number, maxB: number): number {
  return ((bk + 3) * F16_ROUNDOFF + (k + 4) * F32_ROUNDOFF) * 1.01 * absSum + k * F32_ROUNDOFF * (1 + maxA + maxB);
}

interface F16Check {
  readonly name: string;
  readonly k: number;
  readonly bk: number;
  readonly run: (precision: GemmPrecision) => tf.Tensor;
  /** Per output, Σ_k |a_k|·|b_k| (the product of the operands' magnitudes, computed in f32). */
  readonly absSum: () => tf.Tensor;
  readonly maxA: number;
  readonly maxB: number;
}

const maxAbs = async (t: tf.Tensor): Promise<number> => (await tf.max(tf.abs(t)).data())[0]!;

/** Runs a check: the f16 result differs from f32's (the f16 path ran) and lies within f16Bound at every output; its error relative to the largest magnitude. */
async function checkF16(c: F16Check): Promise<number> {
  const [f16, f32, sums] = [c.run("f16"), c.run("f32"), c.absSum()];
  const [got, want, absSum] = (await Promise.all([f16.data(), f32.data(), sums.data()])) as Float32Array[];
  tf.dispose([f16, f32, sums]);
  let worst = 0;
  for (let i = 0; i < want!.length; i++) {
    const bound = f16Bound(absSum![i]!, c.k, c.bk, c.maxA, c.maxB);
    const diff = Math.abs(got![i]! - want![i]!);
    assert.ok(diff <= bound, `${c.name}: output ${i} is ${got![i]} in f16, ${want![i]} in f32: off by ${diff}, over the bound ${bound}`);
    worst = Math.max(worst, diff / bound);
  }
  const error = relativeError(got!, want!);
  assert.ok(error > 1e-6, `${c.name}: the f16 result is within ${error} of f32's: half precision did not run`);
  console.log(`${c.name}: f16 against f32, ${error.toExponential(2)} of the largest magnitude; at worst ${(worst * 100).toFixed(1)}% of the derived bound`);
  return error;
}

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
