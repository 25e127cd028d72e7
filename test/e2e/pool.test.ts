import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { compile, createFeatureExtractor } from "../../compiler/api.js";
import { cacheCompiled } from "../../compiler/cli/cache.js";
import { BUG_ADVICE, describeFailure } from "../../compiler/cli/errors.js";
import { FxcError, createExtractorPool, tf, useBackend } from "../../runtime/index.js";
import { readNpy } from "../../runtime/io/npy.js";
import { RESNET18_CASE, RESNET18_WEIGHTS } from "../support/fixtures.js";

test("a pool of workers splits the batch and gives the single-thread values", async () => {
  await useBackend();
  const options = { returnNodes: ["maxpool", "layer1.0"], size: 32, layout: "nchw" } as const;
  const pool = await createExtractorPool(await cacheCompiled(await compile("resnet18", options)), RESNET18_WEIGHTS, { workers: 2 });
  const single = await createFeatureExtractor("resnet18", options).load(RESNET18_WEIGHTS);
  try {
    assert.equal(pool.workers, 2);
    assert.equal(pool.backend, "wasm");
    const input = await readNpy(join(RESNET18_CASE, "input.npy"));
    const one = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    const x = tf.concat([one, one, one]) as tf.Tensor4D; // 6 rows: 3 per worker
    const [a, b] = [await pool.run(x), await single.run(x)];
    for (const key of ["maxpool", "layer1.0"]) {
      assert.deepEqual(a[key]!.shape, b[key]!.shape);
      assert.deepEqual(Array.from(await a[key]!.data()), Array.from(await b[key]!.data()), key);
    }
    tf.dispose([one, x, ...Object.values(a), ...Object.values(b)]);
    // An empty batch is refused before it is split, as ops.input refuses it in one thread.
    const empty = tf.zeros([0, 3, 32, 32]) as tf.Tensor4D;
    await assert.rejects(pool.forward(empty), /^InputShapeError: input shape \[0, 3, 32, 32\] has an empty batch \(N = 0\); pass at least one image$/);
    empty.dispose();
  } finally {
    await pool.dispose();
    single.dispose();
  }
});

test("a pool that cannot load its weights fails with the loader's error, still an FxcError out of the worker", async () => {
  const url = await cacheCompiled(await compile("resnet18", { returnNodes: ["layer2"], size: 32 }));
  await assert.rejects(createExtractorPool(url, RESNET18_WEIGHTS, { workers: 2 }), (e: unknown) => {
    assert.ok(e instanceof FxcError, `${String(e)} is not an FxcError`);
    assert.equal(e.name, "WeightsError");
    assert.match(e.message, /has no tensor 'layer1\.1\.conv1\.weight'/);
    // So the CLI prints it as the fix it names, not as a bug to report.
    assert.ok(!describeFailure(e).includes(BUG_ADVICE));
    return true;
  });
});
