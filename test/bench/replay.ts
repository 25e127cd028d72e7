/**
 * The replay load option's figures at batch 1 (runtime/webgpu/replay.ts), on whatever adapter
 * webgpu finds (lavapipe where there is no GPU; `npm run bench:gpu -- --replay` compares with torch):
 *
 *   node --conditions=fxc-source --import tsx test/bench/replay.ts [vit_tiny|vit_b_16] [tfjs|fxc|fxc-f16]
 *
 * vit_tiny is the fixtures' ViT (width 16, 2 layers), vit_b_16 is built at 32×32; both return
 * the encoder, seeded weights. Prints, as medians of 5 after 3 warm-up calls: the time of `run`
 * (the GPU finished and the result read back) without and with replay, and the JS time until a
 * synchronous `forward` returns (its commands encoded and submitted, the GPU not waited for).
 */
import { createFeatureExtractor } from "../../compiler/api.js";
import { getModel } from "../../models/zoo/registry.js";
import { chooseBackend, tf, WEBGPU_KERNEL_CHOICES, type Tensor, type Tensor4D, type WebgpuKernelChoice } from "../../runtime/index.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { seededInput, seededWeights } from "../support/seeded.js";
import { median } from "./targets.js";

const model = process.argv[2] ?? "vit_tiny";
const kernels = (process.argv[3] ?? "tfjs") as WebgpuKernelChoice;
if (!["vit_tiny", "vit_b_16"].includes(model) || !WEBGPU_KERNEL_CHOICES.includes(kernels)) throw new Error(`usage: replay.ts [vit_tiny|vit_b_16] [${WEBGPU_KERNEL_CHOICES.join("|")}]`);
const backend = await chooseBackend("webgpu");
const module = model === "vit_tiny" ? VIT_SWIN_FACTORIES.vit_tiny!() : getModel("vit_b_16", { imageSize: 32 });
const fx = createFeatureExtractor(module, { returnNodes: { "encoder.ln": "encoder" }, size: 32, suppressDiffWarning: true });
const weights = seededWeights(module, 3);
const sides = {
  ordinary: await fx.load(weights, { backend: "webgpu", engine: "tfjs", webgpuKernels: kernels }),
  replayed: await fx.load(weights, { backend: "webgpu", engine: "tfjs", webgpuKernels: kernels, replay: true }),
};
const x = tf.tensor4d(seededInput([1, 32, 32, 3], 5), [1, 32, 32, 3]) as Tensor4D;
const settle = async (features: Record<string, Tensor>): Promise<void> => {
  await features.encoder!.data();
  tf.dispose(Object.values(features));
};
for (let i = 0; i < 3; i++) for (const extractor of Object.values(sides)) await settle(await extractor.run(x));
const runMs = { ordinary: [] as number[], replayed: [] as number[] };
const encodeMs = { ordinary: [] as number[], replayed: [] as number[] };
for (let i = 0; i < 5; i++) {
  // Alternated, so that a busy machine slows both alike.
  for (const [name, extractor] of Object.entries(sides) as [keyof typeof sides, (typeof sides)["ordinary"]][]) {
    let t0 = performance.now();
    await settle(await extractor.run(x));
    runMs[name].push(performance.now() - t0);
    t0 = performance.now();
    const features = extractor.forward(x);
    encodeMs[name].push(performance.now() - t0);
    await settle(features);
  }
}
const ms = (v: number[]): string => median(v).toFixed(1);
console.log(`${model}, ${kernels}'s kernels, batch 1, on ${backend.adapter}; replay: ${JSON.stringify(sides.replayed.replayStatus?.())}`);
console.log(`run:     ${ms(runMs.ordinary)} ms ordinary, ${ms(runMs.replayed)} ms replayed (medians of 5)`);
console.log(`encode:  ${ms(encodeMs.ordinary)} ms ordinary, ${ms(encodeMs.replayed)} ms replayed (forward's JS time, the GPU not waited for)`);
for (const extractor of Object.values(sides)) extractor.dispose();
