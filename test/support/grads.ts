import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFeatureExtractor } from "../../compiler/api.js";
import { getModel, resnetFpnBackbone, type Module } from "../../models/index.js";
import { openWeights, tf, type BackendName } from "../../runtime/index.js";
import { FIXTURES, relativeError } from "./fixtures.js";
import { seededInput, seededWeights } from "./seeded.js";

/**
 * Gradients through compiled extractors against torch autograd (test/fixtures/grads/make_grads.py):
 * loss = sum over the returned features of (feature * W), W seeded per key; the gradients of the
 * input and of chosen parameters (strided subsets), and in train mode the running statistics
 * after the forward, within 1e-4 of the largest magnitude; the loss itself within 1e-3.
 */

export interface GradRun {
  readonly file: string;
  readonly mode: "train" | "eval";
  readonly strides: Readonly<Record<string, number>>;
  readonly shapes: Readonly<Record<string, readonly number[]>>;
}
export interface GradCase {
  readonly input: readonly [number, number, number, number];
  readonly returnNodes: readonly string[];
  readonly params: readonly string[];
  readonly frozen: readonly string[];
  readonly running: readonly string[];
  readonly weightSeed: number;
  readonly inputSeed: number;
  readonly runs: readonly GradRun[];
}

const GRADS = join(FIXTURES, "grads");
export const GRAD_CASES = JSON.parse(readFileSync(join(GRADS, "cases.json"), "utf8")) as Record<string, GradCase>;
/** FPN_WIDTH in families/detection.py. */
const FPN_WIDTH = 4;
const BUILD: Readonly<Record<string, () => Module>> = {
  resnet18: () => getModel("resnet18"),
  mobilenet_v3_small: () => getModel("mobilenet_v3_small"),
  vit_b_16: () => getModel("vit_b_16"),
  resnet18_fpn: () => resnetFpnBackbone({ backboneName: "resnet18", outChannels: FPN_WIDTH }),
};

function strided(values: Float32Array, stride: number): Float32Array {
  const out = new Float32Array(Math.ceil(values.length / stride));
  for (let i = 0; i < out.length; i++) out[i] = values[i * stride]!;
  return out;
}

/** One fixture run: the extractor's gradients on the tfjs engine (on `backend`, by default the usual choice) against torch autograd's. */
export async function checkGradients(id: string, run: GradRun, options: { readonly backend?: BackendName } = {}): Promise<void> {
  const c = GRAD_CASES[id]!;
  const model = BUILD[id]!();
  const [, , h, w] = c.input;
  const fx = createFeatureExtractor(model, { returnNodes: [...c.returnNodes], size: [h, w], layout: "nchw", mode: run.mode });
  // ViT's 86M parameters as variables would make every forward transpose each linear weight again: a list selects the few compared.
  const trainable = id === "vit_b_16" ? [...c.params] : "all";
  const extractor = await fx.load(seededWeights(model, c.weightSeed), { engine: "tfjs", trainable, ...(options.backend === undefined ? {} : { backend: options.backend }) });
  const want = await openWeights(join(GRADS, run.file));
  try {
    if (options.backend !== undefined) assert.equal(extractor.backend, options.backend);
    const variables = extractor.trainableVariables;
    for (const key of c.frozen) assert.equal(variables[key], undefined, `${key} is frozen by trainable_layers`);
    const x = tf.variable(tf.tensor(seededInput(c.input, c.inputSeed), [...c.input]));
    const chosen = c.params.map((key) => {
      assert.ok(variables[key] !== undefined, `${key} is trainable`);
      return variables[key];
    });
    const { value, grads } = tf.variableGrads(() => {
      const features = extractor.forward(x as tf.Variable<tf.Rank.R4>);
      const terms = Object.entries(run.shapes).map(([key, shape]) => {
        const f = features[key] as tf.Tensor;
        assert.deepEqual(f.shape, shape, key);
        return tf.sum(tf.mul(f, tf.tensor(seededInput(shape, c.inputSeed, `loss.${key}`), [...shape])));
      });
      return tf.addN(terms) as tf.Scalar;
    }, [x, ...chosen]);
    const errors: Record<string, number> = {};
    // The loss is one sum of many terms of both signs: its float32 rounding is far above 1e-4 of its own size, so it is checked loosely; the gradients are the test.
    const loss = relativeError((await value.data()) as Float32Array, await want.readFloat32("loss"));
    assert.ok(loss <= 1e-3, `loss differs from torch's by ${loss} of its size`);
    errors["input"] = relativeError(strided((await grads[x.name]!.data()) as Float32Array, run.strides["input"]!), await want.readFloat32("grad.input"));
    for (const [i, key] of c.params.entries()) {
      errors[key] = relativeError(strided((await grads[chosen[i]!.name]!.data()) as Float32Array, run.strides[key]!), await want.readFloat32(`grad.${key}`));
    }
    if (run.mode === "train") {
      for (const key of c.running) errors[`running ${key}`] = relativeError((await extractor.runningStats[key]!.data()) as Float32Array, await want.readFloat32(`running.${key}`));
    }
    const bad = Object.entries(errors).filter(([, e]) => !(e <= 1e-4));
    assert.deepEqual(bad, [], `relative errors over 1e-4: ${JSON.stringify(errors)}`);
    tf.dispose([value, x, ...Object.values(grads)]);
  } finally {
    await want.close();
    extractor.dispose();
  }
}
