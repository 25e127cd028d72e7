import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../bench/child.js";
import { BackendError, chooseBackend, openWeights, tf } from "../../runtime/index.js";
import { describeDeviceFailure, failureKind, findAdapter, isEmulatedAdapter, mayHaveGpu, registerWebgpu, summarizeAdapter, type GpuAdapterInfo } from "../../runtime/webgpu/adapter.js";
import { fxc } from "../support/cli.js";
import { fixtureCases, RESNET18_CASE, RESNET18_WEIGHTS, relativeError, runCase, testFixtureCases } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";
import { WEBGPU_MISSING, webgpuTest, withoutDawnDiagnostics } from "../support/webgpu.js";
import { MAXVIT_FACTORIES, VIT_SWIN_FACTORIES } from "../support/factories.js";

/**
 * tfjs's webgpu backend on Dawn. Without a GPU it runs on Mesa 25's lavapipe (Vulkan on the CPU),
 * which CI installs (.ci/lavapipe); lavapipe compiles every shader with LLVM and runs it on the CPU,
 * so one representative case per family runs here, not all of them (the families' own files run
 * every case on the CPU backends).
 */

/**
 * One case per family, the quickest that still covers its kernels: plain, grouped, depthwise and
 * dilated convolutions, pooling, batch norm (eval and train), dense blocks, channel shuffle,
 * squeeze-excitation, layer norm, windowed and grid attention, multi-head attention. Left out as
 * slow on lavapipe and covered by these: alexnet (vgg), inception_v3, mnasnet and mobilenet_v2
 * (mobilenet_v3), the zoo-sized swin_t and vit_b_16 (swin_tiny, vit_tiny).
 */
const SUBSET = [
  "engines_bn_tiny_variance",
  "vgg11_bn_seeded",
  "resnet18_seeded",
  "resnet18_train",
  "resnext50_32x4d_pth",
  "densenet121_seeded",
  "mobilenet_v3_small_seeded",
  "efficientnet_b0_seeded",
  "regnet_x_400mf_seeded",
  "shufflenet_v2_x0_5_seeded",
  "squeezenet1_1_seeded",
  "googlenet_weights_config",
  "convnext_tiny_seeded",
  "swin_tiny_seeded",
  "vit_tiny_pth",
  "maxvit_tiny",
];
const FACTORIES = { ...MAXVIT_FACTORIES, ...VIT_SWIN_FACTORIES };

if (WEBGPU_MISSING === undefined) testFixtureCases(fixtureCases((c) => SUBSET.includes(c.id)), FACTORIES, { only: SUBSET, backend: "webgpu" });
else webgpuTest("the numeric fixture subset on webgpu", async () => {});

test("a CPU emulation of a GPU is known by every sign an adapter gives; a real GPU is not one", () => {
  const gpu = (info: Partial<GpuAdapterInfo>): GpuAdapterInfo => ({ vendor: "", architecture: "", device: "", description: "", ...info });
  // Dawn's adapters: lavapipe on Mesa 25, SwiftShader, and the H200 the issue measured.
  const lavapipe = gpu({ vendor: "mesa", architecture: "software", device: "llvmpipe-llvm-15-0-6-256-bits-", description: "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1", isFallbackAdapter: true });
  assert.equal(isEmulatedAdapter(lavapipe), true);
  assert.equal(isEmulatedAdapter({ ...lavapipe, isFallbackAdapter: undefined, architecture: "" }), true, "by its name alone");
  assert.equal(isEmulatedAdapter(gpu({ vendor: "google", architecture: "", device: "swiftshader-device", description: "SwiftShader Device (Subzero)" })), true);
  assert.equal(isEmulatedAdapter(gpu({ vendor: "microsoft", description: "Microsoft Basic Render Driver" })), true);
  assert.equal(isEmulatedAdapter(gpu({ vendor: "intel", type: "CPU" })), true);
  const h200 = gpu({ vendor: "nvidia", architecture: "hopper", device: "nvidia-h200", description: "NVIDIA: 580.159.04", isFallbackAdapter: false });
  assert.equal(isEmulatedAdapter(h200), false);
  assert.deepEqual(summarizeAdapter(h200), { name: "nvidia-h200", emulated: false });
  assert.deepEqual(summarizeAdapter(lavapipe), { name: "llvmpipe-llvm-15-0-6-256-bits", emulated: true });
});

test("auto mode loads Dawn only where Linux shows a GPU device node", async () => {
  if (process.platform !== "linux") return;
  const dir = await tempDir("webgpu-dev");
  assert.equal(mayHaveGpu(dir), false, "no device nodes");
  await mkdir(join(dir, "dri"));
  await writeFile(join(dir, "dri", "card0"), "");
  assert.equal(mayHaveGpu(dir), false, "a display card without a render node");
  await writeFile(join(dir, "dri", "renderD128"), "");
  assert.equal(mayHaveGpu(dir), true);
  const nvidia = await tempDir("webgpu-dev");
  await writeFile(join(nvidia, "nvidia0"), "");
  assert.equal(mayHaveGpu(nvidia), true);
});

test("a device failure is one line naming it and the backend to use instead", () => {
  const lines = [
    describeDeviceFailure({ kind: "lost", detail: "Device lost\n - While calling Submit" }),
    describeDeviceFailure({ kind: failureKind("GPUOutOfMemoryError", "Out of memory allocating a buffer"), detail: "Out of memory allocating a buffer" }),
    describeDeviceFailure({ kind: failureKind("GPUValidationError", "Error while parsing WGSL: :1:4 error"), detail: "Error while parsing WGSL: :1:4 error\nfn (" }),
  ];
  assert.match(lines[0]!, /^the webgpu backend lost its GPU device \(Device lost\); run again, or run on the CPU with --backend wasm/);
  assert.match(lines[1]!, /^the GPU ran out of memory on the webgpu backend \(Out of memory allocating a buffer\); use a smaller batch, or run on the CPU with --backend wasm/);
  assert.match(lines[2]!, /^a WebGPU shader failed to compile on the webgpu backend \(Error while parsing WGSL: :1:4 error\); run on the CPU with --backend wasm/);
  for (const line of lines) assert.ok(!line.includes("\n"), line);
});

webgpuTest("auto mode does not pick an emulated adapter; naming webgpu uses it and reports it", async () => {
  const found = await findAdapter();
  assert.ok("adapter" in found);
  const emulated = isEmulatedAdapter(found.adapter.info);
  if (!emulated) return; // A machine with a real GPU: the rule under test does not apply.
  // Even with a GPU device node present, the adapter Dawn offers is lavapipe's: not a GPU.
  const refused = await registerWebgpu(false, () => true);
  assert.ok("why" in refused && /its only adapter, llvmpipe.* \(a CPU emulation of a GPU\), is not a GPU \(name the backend to use it: --backend webgpu\)/.test(refused.why), JSON.stringify(refused));
  const auto = await chooseBackend("auto");
  assert.notEqual(auto.name, "webgpu");
  assert.equal(auto.adapter, undefined);
  assert.equal(auto.fallback, undefined, "an emulation that is not picked is not a fallback worth a message");
  const named = await chooseBackend("webgpu");
  assert.equal(named.name, "webgpu");
  assert.match(named.adapter ?? "", /^llvmpipe.* \(a CPU emulation of a GPU\)$/);
  assert.equal(tf.getBackend(), "webgpu");
  // Once registered by name, auto mode still refuses it.
  assert.notEqual((await chooseBackend("auto")).name, "webgpu");
});

webgpuTest("a tensor over the device's limits, and a shader that does not compile, are one-line BackendErrors; the next run works", async () => {
  // lavapipe binds at most 128 MiB: alexnet's first linear layer (9216 x 4096 floats, 144 MiB) is over it.
  const [big] = fixtureCases((c) => c.id === "alexnet_classifier");
  if (summarizeAdapter((await findAdapter().then((f) => ("adapter" in f ? f.adapter.info : undefined)))!).emulated) {
    await assert.rejects(runCase(big!, { layout: "nhwc", backend: "webgpu", engine: "tfjs" }), (e: Error) => {
      assert.ok(e instanceof BackendError, String(e));
      assert.match(e.message, /^a tensor is larger than this GPU's WebGPU binding limit \(Binding size \(150994944\).*\); run on the CPU with --backend wasm/);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  // A shader that fails to compile on the device tfjs runs on (as one of fxc's own kernels could).
  const [small] = fixtureCases((c) => c.id === "engines_bn_tiny_variance");
  const device = (tf.findBackend("webgpu") as unknown as { device: { createShaderModule(d: { code: string }): unknown } } | null)?.device;
  assert.ok(device !== undefined, "the webgpu backend is initialized");
  device.createShaderModule({ code: "fn main( {" });
  await assert.rejects(runCase(small!, { layout: "nhwc", backend: "webgpu", engine: "tfjs" }), /^BackendError: a WebGPU shader failed to compile on the webgpu backend \(Error while parsing WGSL: .*\); run on the CPU with --backend wasm/);
  // The device itself is fine: the next run gives torchvision's numbers.
  const again = await runCase(small!, { layout: "nhwc", backend: "webgpu", engine: "tfjs" });
  for (const [key, error] of Object.entries(again.errors)) assert.ok(error <= small!.tolerance, `${key}: ${error}`);
});

webgpuTest("fxc extract --backend webgpu names the backend, its adapter and whose kernels ran, and writes torchvision's features with either kernel set", async () => {
  for (const kernels of ["tfjs", "fxc"] as const) {
    const dir = await tempDir("webgpu-cli");
    const out = join(dir, "f.safetensors");
    const r = await fxc(["extract", "resnet18", "--return", "maxpool,layer1.0", "--layout", "nchw", "--weights", RESNET18_WEIGHTS, "--input", join(RESNET18_CASE, "input.npy"), "--out", out, "--backend", "webgpu", "--webgpu-kernels", kernels]);
    assert.equal(r.code, 0, r.stderr);
    const named = kernels === "fxc" ? ", fxc's WGSL kernels" : "";
    assert.match(withoutDawnDiagnostics(r.stderr), new RegExp(`^fxc: engine tfjs, backend webgpu on \\S.*${named} \\(not onnxruntime: backend webgpu runs the tfjs engine\\)$`, "m"));
    const [got, want] = [await openWeights(out), await openWeights(join(RESNET18_CASE, "expected.safetensors"))];
    try {
      for (const key of ["maxpool", "layer1.0"]) assert.ok(relativeError(await got.readFloat32(key), await want.readFloat32(key)) <= 1e-4, `${kernels}'s kernels: ${key}`);
    } finally {
      await Promise.all([got.close(), want.close()]);
    }
  }
  const refused = await fxc(["extract", "resnet18", "--return", "maxpool", "--weights", RESNET18_WEIGHTS, "--input", join(RESNET18_CASE, "input.npy"), "--out", join(await tempDir("webgpu-cli"), "f.safetensors"), "--webgpu-kernels", "mine"]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /webgpu-kernels.*mine/);
});


webgpuTest("no WebGPU adapter: --backend webgpu is one line naming the problem and the backend to use instead, exit 1", async () => {
  // No Vulkan driver at all: Dawn finds no adapter.
  const r = await fxc(["extract", "resnet18", "--return", "maxpool", "--layout", "nchw", "--weights", RESNET18_WEIGHTS, "--input", join(RESNET18_CASE, "input.npy"), "--out", join(await tempDir("webgpu-cli"), "f.safetensors"), "--backend", "webgpu"], {
    env: { VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" },
  });
  // Not assertOneLineError: it sets aside lines that begin "fxc: backend " as progress, and this one does.
  assert.equal(r.code, 1, r.stderr);
  const lines = withoutDawnDiagnostics(r.stderr).trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^fxc: backend 'webgpu' is not available: Dawn found no WebGPU adapter .*; use --backend wasm \(options\.backend: "wasm"\) to run on the CPU$/);
});

test("without a WebGPU adapter the webgpu cases skip saying how to install lavapipe, and fail under CI=true", async () => {
  // This file in a child process with no Vulkan driver, running only the placeholder test; a test
  // runner of its own (NODE_TEST_CONTEXT would make it report to this one instead of printing).
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = (ci: string) =>
    runProcess(process.execPath, ["--conditions=fxc-source", "--import", "tsx", "--test", "--test-reporter=tap", "--test-name-pattern=the numeric fixture subset on webgpu", fileURLToPath(import.meta.url)], {
      ...env,
      CI: ci,
      VK_ICD_FILENAMES: "/nonexistent/icd.json",
      VK_DRIVER_FILES: "/nonexistent/icd.json",
    });
  const local = await run("");
  assert.equal(local.code, 0, local.stdout);
  assert.match(local.stdout, /^ok \d+ - the numeric fixture subset on webgpu # SKIP webgpu is not available \(Dawn found no WebGPU adapter .*\); to run it, install Mesa 25's lavapipe as root with \.ci\/lavapipe/m);
  const ci = await run("true");
  assert.equal(ci.code, 1, ci.stdout);
  assert.match(ci.stdout, /^not ok \d+ - the numeric fixture subset on webgpu$/m);
  assert.match(ci.stdout, /CI must install Mesa 25's lavapipe/);
});
