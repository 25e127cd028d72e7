import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { compile, createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { importCompiled } from "../../compiler/cli/cache.js";
import { Conv2d, F, Module, type Tensor } from "../../models/nn/index.js";
import type { CompiledModule } from "../../runtime/extractor.js";
import { memorySource } from "../../runtime/index.js";
import { seededWeights } from "../support/seeded.js";

/** Ops with their own runtime kernel (issue #12, point 3): F.defineOp in a model, registerOp for a compiled module. */

/** softplus(x) - shift: a numeric rule the test checks against tfjs's own softplus. */
const shiftedSoftplus = F.defineOp<{ readonly shift: number }>({
  name: "shifted_softplus",
  shape: ([x]) => x!,
  tfjs: ([x], { shift }) => tf.sub(tf.softplus(x!), shift),
});

/** Two inputs and a rank change: [N, C, H, W] and [N, C] to [N, C]. */
const gatedMean = F.defineOp({
  name: "gated_mean",
  shape: ([x]) => x!.slice(0, 2),
  tfjs: ([x, gate]) => tf.mul(tf.mean(x!, [2, 3]), gate!),
});

class UsesUserOps extends Module {
  conv = new Conv2d(3, 2, 1);
  forward(x: Tensor): Tensor {
    const y = this.conv.call(x);
    const soft = shiftedSoftplus(y, { shift: Math.log(2) });
    return gatedMean([soft, soft.mean([2, 3])]).relu();
  }
}

const input = (): tf.Tensor4D => tf.tensor4d(Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => Math.sin(i)), [2, 4, 4, 3]);
const returnNodes = ["conv", "shifted_softplus", "gated_mean", "relu"];

/** The values each user op's definition gives, from the conv output (NHWC as the extractor returns it). The caller's features are disposed here. */
async function assertEqualsDefinition(features: Record<string, tf.Tensor>, what: string): Promise<void> {
  const conv = tf.transpose(features.conv!, [0, 3, 1, 2]);
  const soft = tf.sub(tf.softplus(conv), Math.log(2));
  const gated = tf.mul(tf.mean(soft, [2, 3]), tf.mean(soft, [2, 3]));
  // A user op's kernel works in torch's order; its 4-D result comes back in the extractor's layout (NHWC here), as a built-in op's.
  const softNhwc = tf.transpose(soft, [0, 2, 3, 1]);
  assert.deepEqual(features.shifted_softplus!.shape, [2, 4, 4, 2], what);
  assert.deepEqual([...(await features.shifted_softplus!.data())], [...(await softNhwc.data())], what);
  assert.deepEqual([...(await features.gated_mean!.data())], [...(await gated.data())], what);
  tf.dispose([conv, soft, softNhwc, gated, ...Object.values(features)]);
}

test("F.defineOp: one node named after the op, shape from its rule, run by its kernel in createFeatureExtractor; onnxruntime falls back to tfjs and says why", async () => {
  assert.deepEqual(getGraphNodeNames(new UsesUserOps(), { size: 4, suppressDiffWarning: true }).eval, ["x", "conv", "shifted_softplus", "mean", "gated_mean", "relu"]);
  const model = new UsesUserOps();
  const fx = createFeatureExtractor(model, { size: 4, returnNodes, suppressDiffWarning: true });
  const extractor = await fx.load(seededWeights(model, 3));
  assert.equal(extractor.engine, "tfjs");
  assert.match(extractor.fallback ?? "", /^engine onnxruntime cannot run user op 'shifted_softplus' \(its kernel is a tfjs function registered with registerOp\); use engine tfjs/);
  const x = input();
  const features = (await extractor.run(x)) as Record<string, tf.Tensor>;
  await assertEqualsDefinition(features, "createFeatureExtractor");
  extractor.dispose();
  await assert.rejects(fx.load(seededWeights(model, 3), { engine: "onnxruntime" }), (e: Error) => /^engine onnxruntime cannot run user op 'shifted_softplus'/.test(e.message) && !e.message.includes("\n"));
});

test("a compiled module calls the user op through customOp, imports nothing new, and without a registered kernel fails at load naming the op and registerOp", async () => {
  const model = new UsesUserOps();
  const source = await compile(model, { name: "UsesUserOps", size: 4, returnNodes, suppressDiffWarning: true });
  assert.match(source, /ops\.customOp<4>\(\[conv_nchw\], \{\s+name: "shifted_softplus",\s+attrs: \{ shift: 0\.69314718\d+ \},\s+outFormat: "channelsLast",\s+\}\)/);
  assert.match(source, /customOps: \["shifted_softplus", "gated_mean"\]/);
  assert.match(source, /\} from "@fxc\/runtime";/);
  const compiled = await importCompiled<CompiledModule>(source);
  const extractor = await compiled.load(seededWeights(model, 3));
  const features = (await extractor.run(input())) as Record<string, tf.Tensor>;
  await assertEqualsDefinition(features, "compiled module");
  extractor.dispose();

  // The same module as another process has it, where nothing registered the kernel.
  const elsewhere = await importCompiled<CompiledModule>(source.replaceAll('"gated_mean"', '"gated_mean_elsewhere"'));
  await assert.rejects(
    elsewhere.load(seededWeights(model, 3)),
    (e: Error) =>
      e.message === `the module calls user op 'gated_mean_elsewhere', which has no kernel here; call registerOp("gated_mean_elsewhere", (inputs, attrs) => tensor) from "@fxc/runtime" before load`,
  );
});

test("defineOp refuses a bad name, fxc's own op names, and a shape rule that returns no shape", () => {
  assert.throws(() => F.defineOp({ name: "my-op", shape: ([x]) => x!, tfjs: ([x]) => x! }), /defineOp needs a name of letters, digits and '_'/);
  const relu = F.defineOp({ name: "relu", shape: ([x]) => x!, tfjs: ([x]) => x! });
  class UsesOwnName extends Module {
    forward(x: Tensor): Tensor {
      return relu(x);
    }
  }
  assert.throws(() => getGraphNodeNames(new UsesOwnName(), { size: 4, suppressDiffWarning: true }), /defineOp name 'relu' is one of fxc's own ops; give your op another name/);
  const broken = F.defineOp({ name: "broken_shape", shape: () => [2.5], tfjs: ([x]) => x! });
  class UsesBroken extends Module {
    forward(x: Tensor): Tensor {
      return broken(x);
    }
  }
  assert.throws(() => getGraphNodeNames(new UsesBroken(), { size: 4, suppressDiffWarning: true }), /broken_shape's shape rule returned \[2\.5\], not a shape; return a list of sizes \(null for the batch\)/);
});

/** x * scale in torch's order: a 4-D user op whose result feeds a convolution and is returned. */
const scaled = F.defineOp<{ readonly scale: number }>({
  name: "scaled",
  shape: ([x]) => x!,
  tfjs: ([x], { scale }) => tf.mul(x!, scale),
});

/** The same op's result marked as not image-like (F.torchOrder), as Swin's [B, H, W, C] values are. */
class ScaledThenConv extends Module {
  conv = new Conv2d(3, 2, 1);
  forward(x: Tensor): [Tensor, Tensor, Tensor] {
    const s = scaled(x, { scale: 2 });
    const kept = F.torchOrder(scaled(x, { scale: 3 }));
    return [s, this.conv.call(s), kept];
  }
}

test("a user op's 4-D result follows the layout contract of built-in ops: NHWC or NCHW as the extractor's layout, torch's order when marked F.torchOrder", async () => {
  const nchw = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => Math.cos(i)), [2, 3, 4, 5]);
  const nhwc = tf.transpose(nchw, [0, 2, 3, 1]);
  const model = new ScaledThenConv();
  const returnNodes = { scaled: "scaled", conv: "conv", scaled_1: "kept" };
  const results: Record<string, Record<string, tf.Tensor>> = {};
  for (const layout of ["nhwc", "nchw"] as const) {
    const fx = createFeatureExtractor(model, { size: [4, 5], layout, returnNodes, suppressDiffWarning: true });
    const extractor = await fx.load(seededWeights(model, 5), { engine: "tfjs" });
    results[layout] = (await extractor.run(layout === "nhwc" ? nhwc : nchw)) as Record<string, tf.Tensor>;
    extractor.dispose();
  }
  const { nhwc: a, nchw: b } = results as { nhwc: Record<string, tf.Tensor>; nchw: Record<string, tf.Tensor> };
  assert.deepEqual(a.scaled!.shape, [2, 4, 5, 3], "NHWC, as the input");
  assert.deepEqual([...(await a.scaled!.data())], [...(await tf.mul(nhwc, 2).data())]);
  assert.deepEqual(b.scaled!.shape, [2, 3, 4, 5], "NCHW, as the input");
  assert.deepEqual([...(await b.scaled!.data())], [...(await tf.mul(nchw, 2).data())]);
  const convNchw = tf.transpose(a.conv!, [0, 3, 1, 2]);
  assert.deepEqual([...(await b.conv!.data())], [...(await convNchw.data())], "the convolution after it reads it in either layout");
  for (const kept of [a.kept!, b.kept!]) {
    assert.deepEqual(kept.shape, [2, 3, 4, 5], "torch's order in both layouts");
    assert.deepEqual([...(await kept.data())], [...(await tf.mul(nchw, 3).data())]);
  }
  tf.dispose([nchw, nhwc, convNchw, ...Object.values(a), ...Object.values(b)]);
});

test("a user op whose kernel returns another rank than its shape rule's 4-D is one line naming the op", async () => {
  const flattening = F.defineOp({ name: "flattening_by_mistake", shape: ([x]) => x!, tfjs: ([x]) => tf.reshape(x!, [-1]) });
  class UsesFlattening extends Module {
    forward(x: Tensor): Tensor {
      return flattening(x);
    }
  }
  const extractor = await createFeatureExtractor(new UsesFlattening(), { size: 4, returnNodes: ["flattening_by_mistake"], suppressDiffWarning: true }).load(memorySource(new Map()), { engine: "tfjs" });
  const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
  await assert.rejects(extractor.run(x), (e: Error) => e.message === "user op 'flattening_by_mistake' returned a 1-D tensor where its shape rule said 4-D; make its tfjs kernel and its shape function agree");
  x.dispose();
  extractor.dispose();
});
