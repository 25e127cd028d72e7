import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openWeights } from "../../runtime/index.js";
import { assertOneLineError, fxc, ROOT } from "../support/cli.js";
import { RESNET18_CASE, RESNET18_WEIGHTS, relativeError } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

/** `--engine`: onnxruntime, tfjs, or auto (the default), which falls back to tfjs and says why. */

const INPUT = join(RESNET18_CASE, "input.npy");
const extract = (out: string, ...more: string[]): string[] => ["extract", "resnet18", "--return", "maxpool,layer1.0", "--layout", "nchw", "--weights", RESNET18_WEIGHTS, "--input", INPUT, "--out", out, ...more];
/** Makes onnxruntime-node look uninstalled in the child process. */
const WITHOUT_ONNXRUNTIME = { NODE_OPTIONS: `--import ${join(ROOT, "test/support/no-onnxruntime/register.mjs")}` };

async function features(file: string): Promise<Record<string, Float32Array>> {
  const f = await openWeights(file);
  try {
    return Object.fromEntries(await Promise.all(f.keys().map(async (k) => [k, await f.readFloat32(k)] as const)));
  } finally {
    await f.close();
  }
}

test("--engine onnxruntime and --engine tfjs say which ran and write the same features", async () => {
  const dir = await tempDir();
  const ort = await fxc(extract(join(dir, "ort.safetensors"), "--engine", "onnxruntime"));
  assert.equal(ort.code, 0, ort.stderr);
  assert.match(ort.stderr, /^fxc: engine onnxruntime\n/);
  const tfjs = await fxc(extract(join(dir, "tfjs.safetensors"), "--engine", "tfjs"));
  assert.equal(tfjs.code, 0, tfjs.stderr);
  assert.match(tfjs.stderr, /^fxc: engine tfjs, backend \w+\n/);
  const [a, b] = [await features(join(dir, "ort.safetensors")), await features(join(dir, "tfjs.safetensors"))];
  assert.deepEqual(Object.keys(a).sort(), ["layer1.0", "maxpool"]);
  for (const key of Object.keys(a)) assert.ok(relativeError(a[key]!, b[key]!) < 1e-5, key);
});

test("--engine onnxruntime when onnxruntime-node is not installed: one line naming it and the fix, exit 1", async () => {
  const dir = await tempDir();
  const r = await fxc(extract(join(dir, "f.safetensors"), "--engine", "onnxruntime"), { env: WITHOUT_ONNXRUNTIME });
  assertOneLineError(r, /^fxc: engine onnxruntime is not available \(.*\); install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1\.30 \(skip: no CUDA download\), or pass --engine tfjs/, { code: 1 });
});

test("the default engine falls back to tfjs when onnxruntime-node is not installed, and says so", async () => {
  const dir = await tempDir();
  const r = await fxc(extract(join(dir, "f.safetensors")), { env: WITHOUT_ONNXRUNTIME });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^fxc: engine tfjs, backend \w+ \(not onnxruntime: engine onnxruntime is not available/);
});

test("train mode on --engine onnxruntime: one line saying it runs eval mode only, exit 1; the default falls back to tfjs", async () => {
  const dir = await tempDir();
  const refused = await fxc(extract(join(dir, "f.safetensors"), "--engine", "onnxruntime", "--mode", "train"));
  assertOneLineError(refused, /^fxc: engine onnxruntime runs eval mode only .*; compile with --mode eval, or use --engine tfjs for train mode$/, { code: 1 });
  const auto = await fxc(extract(join(dir, "f.safetensors"), "--mode", "train"));
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /^fxc: engine tfjs, backend \w+ \(not onnxruntime: engine onnxruntime runs eval mode only/);
});

test("an unknown --engine is a usage error (exit 2)", async () => {
  const r = await fxc(extract("/tmp/never.safetensors", "--engine", "torch"));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /engine/);
});
