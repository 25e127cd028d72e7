import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BackendError, availableBackends, useBackend } from "../../runtime/index.js";
import { ROOT } from "../support/cli.js";

test("without a native package or a GPU, auto picks wasm; cpu can be asked for", async () => {
  // webgpu is available wherever Dawn finds an adapter, lavapipe's CPU emulation included; auto never picks that.
  assert.deepEqual((await availableBackends()).filter((b) => b !== "webgpu"), ["wasm", "cpu"]);
  assert.equal(await useBackend(), "wasm");
  assert.equal(await useBackend("cpu"), "cpu");
  assert.equal(await useBackend("wasm"), "wasm");
});

test("asking for a backend that is not there is a one-line error saying why", async () => {
  await assert.rejects(useBackend("tensorflow"), (e: Error) => e instanceof BackendError && /backend 'tensorflow' is not available: neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/.test(e.message));
  await assert.rejects(useBackend("webgl" as "cpu"), /unknown backend 'webgl'; use one of webgpu, tensorflow, wasm, cpu or auto/);
});

test("when the user installed @tensorflow/tfjs-node, auto picks the tensorflow backend first", () => {
  // A child process whose `@tensorflow/tfjs-node` resolves to a stand-in that registers "tensorflow".
  const script = `
    import { useBackend, createFeatureExtractor } from "${join(ROOT, "compiler/index.ts")}";
    import { tf } from "${join(ROOT, "runtime/index.ts")}";
    import { seededWeights } from "${join(ROOT, "test/support/seeded.ts")}";
    import { getModel } from "${join(ROOT, "models/index.ts")}";
    const model = getModel("resnet18");
    const fx = createFeatureExtractor(model, { returnNodes: ["maxpool"], size: 32 });
    const extractor = await fx.load(seededWeights(model, 1));
    const out = await extractor.run(tf.zeros([1, 32, 32, 3]));
    console.log(JSON.stringify({ backend: extractor.backend, shape: out.maxpool.shape }));
  `;
  const r = spawnSync(
    process.execPath,
    ["--conditions=fxc-source", "--import", "tsx", "--import", join(ROOT, "test/support/fake-tfjs-node/register.mjs"), "--input-type=module", "-e", script],
    { cwd: ROOT, encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { backend: "tensorflow", shape: [1, 8, 8, 64] });
});
