import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { Conv2d, Dropout, F, Module, type Tensor } from "../../models/nn/index.js";
import { ENGINES_UNDER_TEST, relativeError } from "../support/fixtures.js";
import { seededWeights } from "../support/seeded.js";

/** Ops of torchvision's tracer contract that user models write (issue #12): float(), Dropout(p=1), -1 on the batch dim. */

class FloatThenConv extends Module {
  conv = new Conv2d(3, 4, 1);
  forward(x: Tensor): Tensor {
    return this.conv.call(x.float());
  }
}

class DropEverything extends Module {
  drop = new Dropout(1);
  forward(x: Tensor): Tensor {
    return this.drop.call(x);
  }
}

/** Nearest 2x upsampling written as torch code often writes it: -1 for the batch in reshape and expand. */
class ExpandUpsample extends Module {
  forward(x: Tensor): Tensor {
    return x.reshape(-1, 3, 4, 1, 4, 1).expand(-1, 3, 4, 2, 4, 2).reshape(-1, 3, 8, 8);
  }
}

class FlattenByReshape extends Module {
  forward(x: Tensor): Tensor {
    return x.reshape(-1, 48);
  }
}

const input = (): tf.Tensor4D => tf.tensor4d(Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => Math.sin(i)), [2, 4, 4, 3]);

async function runOn(model: Module, engine: (typeof ENGINES_UNDER_TEST)[number], options: { returnNodes: readonly string[]; mode?: "train" | "eval" }): Promise<tf.Tensor> {
  const fx = createFeatureExtractor(model, { size: 4, suppressDiffWarning: true, ...options });
  const extractor = await fx.load(seededWeights(model, 1), { engine });
  const x = input();
  const out = Object.values(await extractor.run(x))[0] as tf.Tensor;
  x.dispose();
  extractor.dispose();
  return out;
}

test("x.float() is a node, as in torchvision, and changes nothing", async () => {
  assert.deepEqual(getGraphNodeNames(new FloatThenConv(), { size: 4 }).eval, ["x", "float", "conv"]);
  for (const engine of ENGINES_UNDER_TEST) {
    const out = await runOn(new FloatThenConv(), engine, { returnNodes: ["conv"] });
    assert.deepEqual(out.shape, [2, 4, 4, 4]);
    out.dispose();
  }
});

test("Dropout(p=1) in train mode gives zeros, as torch does", async () => {
  const out = await runOn(new DropEverything(), "tfjs", { returnNodes: ["drop"], mode: "train" });
  assert.deepEqual([...(await out.data())], new Array(2 * 4 * 4 * 3).fill(0));
  out.dispose();
});

test("reshape and expand take -1 on the batch dim, on every engine", async () => {
  const x = input();
  // [N, H, W, C] → each pixel repeated 2x2: what the traced torch code computes, in NHWC.
  const upsampled = tf.reshape(tf.tile(tf.reshape(x, [2, 4, 1, 4, 1, 3]), [1, 1, 2, 1, 2, 1]), [2, 8, 8, 3]);
  // torch's flatten of [N, C, H, W].
  const flat = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [2, 48]);
  for (const engine of ENGINES_UNDER_TEST) {
    const up = await runOn(new ExpandUpsample(), engine, { returnNodes: ["reshape_1"] });
    assert.deepEqual(up.shape, [2, 8, 8, 3]);
    assert.deepEqual(await up.data(), await upsampled.data(), engine);
    const f = await runOn(new FlattenByReshape(), engine, { returnNodes: ["reshape"] });
    assert.deepEqual(await f.data(), await flat.data(), engine);
    tf.dispose([up, f]);
  }
  tf.dispose([x, upsampled, flat]);
});

class FoldsBatch extends Module {
  forward(x: Tensor): Tensor {
    return x.reshape(-1, 16);
  }
}

test("a -1 that would fold the batch with other elements is refused in one line", () => {
  assert.throws(
    () => getGraphNodeNames(new FoldsBatch(), { size: 4 }),
    (e: Error) => /folds the batch into a dim with other elements \(48 per sample, 16 in the given dims\); keep the batch its own dim/.test(e.message) && !e.message.includes("\n"),
  );
});

/** A model that takes no image: torchvision's test feeds it torch.ones(10, 10). */
class TakesAMatrix extends Module {
  forward(x: Tensor): Tensor {
    return x.mean(1).sub(1);
  }
}

test("an input of any rank and shape: inputShape in torch's order, fixed or with a free batch first", async () => {
  assert.deepEqual(getGraphNodeNames(new TakesAMatrix(), { inputShape: [10, 10], suppressDiffWarning: true }).eval, ["x", "mean", "sub"]);
  for (const engine of ENGINES_UNDER_TEST) {
    const fx = createFeatureExtractor(new TakesAMatrix(), { inputShape: ["N", 10], returnNodes: ["mean", "sub"], suppressDiffWarning: true });
    const extractor = await fx.load(seededWeights(new TakesAMatrix(), 1), { engine });
    const x = tf.tensor2d([...Array(30).keys()], [3, 10]);
    const { mean, sub } = (await extractor.run(x)) as Record<string, tf.Tensor>;
    assert.deepEqual([...(await mean!.data())], [4.5, 14.5, 24.5], engine);
    assert.deepEqual([...(await sub!.data())], [3.5, 13.5, 23.5], engine);
    await assert.rejects(extractor.run(tf.ones([3, 9])), /input shape \[3, 9\] does not match the compiled \[N, 10\]; give that shape/);
    tf.dispose([x, mean!, sub!]);
    extractor.dispose();
  }
  assert.throws(() => getGraphNodeNames(new TakesAMatrix(), { inputShape: [10, "N"] }), /input shape \[10, N\] has "N" at dim 1; give positive whole sizes, with "N" \(the free batch\) only first/);
});

/** Two inputs, named as torch.fx names placeholders: after forward's parameters. */
class ImageAndOffset extends Module {
  conv = new Conv2d(3, 2, 1);
  forward(image: Tensor, offset: Tensor): Tensor {
    return this.conv.call(image).mean([2, 3]).add(offset);
  }
}

/** Two rank-2 inputs of which one has a fixed batch: [N, 3] rows scaled by a [1, 3] table, averaged. */
class RowsTimesTable extends Module {
  forward(rows: Tensor, table: Tensor): Tensor {
    return rows.mul(table).mean(1);
  }
}

test("several inputs: inputShapes gives one shape per argument of forward; run takes an array; both engines run them, onnxruntime by default, equal to tfjs", async () => {
  const inputShapes = [["N", 3, 4, 4], ["N", 2]] as const;
  assert.deepEqual(getGraphNodeNames(new ImageAndOffset(), { inputShapes, suppressDiffWarning: true }).eval, ["image", "offset", "conv", "mean", "add"]);
  const model = new ImageAndOffset();
  const fx = createFeatureExtractor(model, { inputShapes, returnNodes: ["mean", "add"], suppressDiffWarning: true });
  const byDefault = await fx.load(seededWeights(model, 1));
  assert.equal(byDefault.engine, "onnxruntime", byDefault.fallback);
  byDefault.dispose();
  const results: Record<string, number[][]> = {};
  for (const engine of ENGINES_UNDER_TEST) {
    const extractor = await fx.load(seededWeights(model, 1), { engine });
    // Two batch sizes: the onnxruntime engine runs every batch on one graph of two inputs.
    for (const batch of [2, 1]) {
      const image = tf.slice(input(), 0, batch);
      const offset = tf.slice(tf.tensor2d([[1, 2], [3, 4]]), 0, batch);
      const { mean, add } = (await extractor.run([image, offset] as never)) as Record<string, tf.Tensor>;
      const sum = tf.add(mean!, offset);
      assert.deepEqual(await add!.data(), await sum.data(), engine);
      assert.deepEqual(add!.shape, [batch, 2], engine);
      (results[engine] ??= []).push([...(await add!.data())]);
      tf.dispose([image, offset, mean!, add!, sum]);
    }
    await assert.rejects(extractor.run(input() as never), /the model takes 2 inputs, one per argument of forward; pass them as an array of 2 tensors/, engine);
    extractor.dispose();
  }
  assert.ok(relativeError(Float32Array.from(results.onnxruntime!.flat()), Float32Array.from(results.tfjs!.flat())) < 1e-6, "onnxruntime equals tfjs");

  // Rank-2 inputs, one with a fixed batch: a graph per shape on onnxruntime.
  const rows = new RowsTimesTable();
  const tableFx = createFeatureExtractor(rows, { inputShapes: [["N", 3], [1, 3]], returnNodes: ["mean"], suppressDiffWarning: true });
  for (const engine of ENGINES_UNDER_TEST) {
    const extractor = await tableFx.load(seededWeights(rows, 1), { engine });
    assert.equal(extractor.engine, engine);
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const table = tf.tensor2d([[1, 10, 100]]);
    const { mean } = (await extractor.run([x, table] as never)) as Record<string, tf.Tensor>;
    assert.deepEqual([...(await mean!.data())], [107, 218], engine);
    tf.dispose([x, table, mean!]);
    extractor.dispose();
  }
});

/** A function of the user's kept as one node (torch.fx's wrap); its body compiles like a leaf's. */
const shiftedRelu = F.wrap((x: Tensor) => F.relu(x.add(4)), "shifted_relu");
const batchAsNumber = F.wrap(function batch_as_number(n: unknown): number {
  return Number(n);
});

class UsesWrapped extends Module {
  conv = new Conv2d(3, 2, 1);
  forward(x: Tensor): Tensor {
    const [n] = x.shape;
    batchAsNumber(n);
    return shiftedRelu(this.conv.call(x));
  }
}

test("F.wrap keeps a function as one node named after it, compiles its body on every engine, and refuses a needed body it cannot trace", async () => {
  assert.deepEqual(getGraphNodeNames(new UsesWrapped(), { size: 4, suppressDiffWarning: true }).eval, ["x", "getattr", "getitem", "batch_as_number", "conv", "shifted_relu"]);
  const model = new UsesWrapped();
  for (const engine of ENGINES_UNDER_TEST) {
    const fx = createFeatureExtractor(model, { size: 4, returnNodes: ["conv", "shifted_relu"], suppressDiffWarning: true });
    const extractor = await fx.load(seededWeights(model, 2), { engine });
    const x = input();
    const { conv, shifted_relu } = (await extractor.run(x)) as Record<string, tf.Tensor>;
    const expected = tf.relu(tf.add(conv!, 4));
    assert.deepEqual(await shifted_relu!.data(), await expected.data(), engine);
    tf.dispose([x, conv!, shifted_relu!, expected]);
    extractor.dispose();
  }
  assert.throws(
    () => createFeatureExtractor(model, { size: 4, returnNodes: ["batch_as_number"], suppressDiffWarning: true }),
    (e: Error) => /batch_as_number: the wrapped function 'batch_as_number' is needed by an output, but its body could not be traced \(node 'input_0' \(a traced int\) is used as a plain number/.test(e.message) && !e.message.includes("\n"),
  );
  assert.equal(batchAsNumber(3), 3, "on plain values it just runs");
});
