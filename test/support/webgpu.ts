import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { tf } from "../../runtime/index.js";
import { registerWebgpu } from "../../runtime/webgpu/adapter.js";
import { relativeError } from "./fixtures.js";

/** How CI gets a WebGPU adapter without a GPU, said wherever one is missing. */
export const INSTALL_LAVAPIPE =
  "install Mesa 25's lavapipe as root with .ci/lavapipe (bookworm-backports' mesa-vulkan-drivers) and npm ci (the optional packages webgpu and @tensorflow/tfjs-backend-webgpu)";

const forced = await registerWebgpu(true);
/** Why the webgpu backend cannot run here (no Dawn, no adapter; a CPU emulation counts), or undefined when it can. */
export const WEBGPU_MISSING: string | undefined = "why" in forced ? forced.why : undefined;

/** A test that needs a WebGPU adapter: it fails under CI=true without one (CI must install lavapipe), and skips elsewhere. */
export function webgpuTest(name: string, body: (t: TestContext) => Promise<void>): void {
  if (WEBGPU_MISSING === undefined) test(name, body);
  else if (process.env.CI === "true") test(name, () => assert.fail(`webgpu is not available (${WEBGPU_MISSING}); CI must ${INSTALL_LAVAPIPE}`));
  else test(name, { skip: `webgpu is not available (${WEBGPU_MISSING}); to run it, ${INSTALL_LAVAPIPE}` }, () => {});
}

/** The pipelines tfjs's webgpu backend has compiled so far, by shader key (fxc's kernels' keys start with `fxc`). */
export function pipelineKeys(): string[] {
  return Object.keys((tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache);
}

/** The relative error of a kernel's result against a reference's (as the fixtures measure it). */
export async function errorAgainst(got: tf.Tensor, want: tf.Tensor): Promise<number> {
  assert.deepEqual(got.shape, want.shape);
  return relativeError((await got.data()) as Float32Array, (await want.data()) as Float32Array);
}

/** The programs tfjs's webgpu backend dispatches while `run` runs, by the first part of their shader keys (`fxcGemm`, `binary`, ...). */
export function programsRun(run: () => void): string[] {
  const backend = tf.backend() as unknown as { runWebGPUProgram: (...args: unknown[]) => unknown };
  const original = backend.runWebGPUProgram;
  const kinds: string[] = [];
  backend.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
    kinds.push((args[0] as { shaderKey: string }).shaderKey.split("_")[0]!);
    return original.apply(this, args);
  };
  try {
    run();
  } finally {
    backend.runWebGPUProgram = original;
  }
  return kinds;
}

/** dawn.node writes its own diagnostics to stderr (the Vulkan loader's warnings, lavapipe's reduced limits): not fxc's lines. */
export function withoutDawnDiagnostics(stderr: string): string {
  return stderr
    .split("\n")
    .filter((l) => !/^Warning: /.test(l) && !/^\s+at \S+ \(.*\.(cpp|h):\d+\)$/.test(l))
    .join("\n");
}
