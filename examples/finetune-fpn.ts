/**
 * Fine-tunes torchvision's resnet18 FPN backbone and a small head on its features with a tfjs
 * optimizer, offline, and prints the loss going down:
 *
 *   npx tsx examples/finetune-fpn.ts [--steps 30]
 *
 * The task is made up so that it needs no files: 64x64 noise images holding a bright square in
 * their left or right half, and the head says which. Weights are initialized here from a fixed seed; with torchvision's checkpoint you would load that instead (see docs/training.md).
 * In your app the imports are "fxc", "fxc/models" and "@fxc/runtime".
 */
import { createFeatureExtractor } from "../compiler/index.js";
import { resnetFpnBackbone } from "../models/index.js";
import { memorySource, tf, type MemoryTensor } from "@fxc/runtime";

const SIZE = 64;
const BATCH = 8;
const FPN_CHANNELS = 16;

/** Weights of variance 1/fan-in (activations keep their scale through the frozen batch norms), batch norm as torch starts it, from a fixed seed. */
function initialWeights(shapes: readonly (readonly [string, readonly number[]])[]): Map<string, MemoryTensor> {
  return new Map(
    shapes.map(([key, shape], i) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const data = key.endsWith("running_var") || (shape.length === 1 && key.endsWith("weight"))
        ? new Float32Array(size).fill(1)
        : shape.length === 1
          ? new Float32Array(size)
          : (tf.randomNormal([size], 0, Math.sqrt(1 / fanIn), "float32", i).dataSync() as Float32Array);
      return [key, { shape, data }];
    }),
  );
}

/** Noise with a bright 16x16 square in the left (label 0) or right (label 1) half, NCHW. */
function batchOf(step: number): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  return tf.tidy(() => {
    const labels = Array.from({ length: BATCH }, (_, i) => (i + step) % 2);
    const masks = labels.map((label, i) => {
      const top = 8 + ((i * 7 + step * 3) % 32);
      const left = (label === 0 ? 0 : 32) + ((i * 5 + step) % 16);
      return tf.pad(tf.ones([16, 16]), [[top, SIZE - 16 - top], [left, SIZE - 16 - left]]);
    });
    const squares = tf.tile(tf.reshape(tf.stack(masks), [BATCH, 1, SIZE, SIZE]), [1, 3, 1, 1]);
    const noise = tf.randomNormal([BATCH, 3, SIZE, SIZE], 0, 0.5, "float32", step);
    return { images: tf.add(noise, tf.mul(squares, 2)) as tf.Tensor4D, labels: tf.tensor1d(labels, "int32") };
  });
}

export async function finetune(steps: number, onStep: (step: number, loss: number) => void): Promise<number[]> {
  // torchvision's resnet_fpn_backbone: FrozenBatchNorm2d, trainable_layers=3 (conv1 and layer1 stay frozen).
  const backbone = resnetFpnBackbone({ backboneName: "resnet18", outChannels: FPN_CHANNELS });
  const fx = createFeatureExtractor(backbone, { returnNodes: ["fpn"], size: SIZE, layout: "nchw", mode: "train" });
  // "all": every parameter the backbone does not freeze, as tf.Variables named by their state_dict keys.
  const extractor = await fx.load(memorySource(initialWeights(backbone.stateDictShapes())), { trainable: "all" });
  // The head: each FPN level average-pooled, concatenated, then one linear layer to two classes.
  const levels = Object.keys(fx.returnNodes).length;
  const headWeight = tf.variable(tf.randomNormal([levels * FPN_CHANNELS, 2], 0, 0.1, "float32", 1), true, "head.weight");
  const headBias = tf.variable(tf.zeros([2]), true, "head.bias");
  const variables = [...Object.values(extractor.trainableVariables), headWeight, headBias];
  const optimizer = tf.train.adam(3e-4);
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const { images, labels } = batchOf(step);
      const loss = optimizer.minimize(
        () => {
          const features = extractor.forward(images);
          const pooled = tf.concat(Object.values(features).map((f) => tf.mean(f as tf.Tensor4D, [2, 3])), 1);
          const logits = tf.add(tf.matMul(pooled, headWeight), headBias);
          return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 2), logits) as tf.Scalar;
        },
        true,
        variables,
      )!;
      losses.push(loss.dataSync()[0]!);
      onStep(step, losses[step]!);
      tf.dispose([images, labels, loss]);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([headWeight, headBias]);
    extractor.dispose();
  }
  return losses;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf("--steps");
  const steps = at > 0 ? Number(process.argv[at + 1]) : 30;
  const losses = await finetune(steps, (step, loss) => console.log(`step ${String(step + 1).padStart(3)}  loss ${loss.toFixed(4)}`));
  console.log(`loss ${losses[0]!.toFixed(4)} -> ${losses[losses.length - 1]!.toFixed(4)}`);
}
