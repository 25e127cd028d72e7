import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createFeatureExtractor } from "../../compiler/api.js";
import { getModel } from "../../models/zoo/registry.js";
import type { Module } from "../../models/nn/module.js";
import { createExtractor, memorySource, tf, type Extractor, type Tensor, type Tensor4D, type WebgpuKernelChoice } from "../../runtime/index.js";
import { VIT_SWIN_FACTORIES } from "../support/factories.js";
import { relativeError, RESNET18_CASE, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { seededInput, seededWeights } from "../support/seeded.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { tempDir } from "../support/temp.js";
import { pipelineKeys, webgpuTest } from "../support/webgpu.js";
import { REPLAY_SHAPES } from "../../runtime/webgpu/replay.js";

/**
 * The `replay` load option (runtime/webgpu/replay.ts) on webgpu (lavapipe in CI): a recorded
 * forward replayed on new inputs gives the ordinary forward's features bit for bit, on a ResNet
 * and a ViT with both kernel sets; replays write nothing the caller holds, hold GPU memory
 * steady, record each input shape once and free their buffers with the extractor; a forward that
 * reads back to the CPU or draws random numbers is not recorded and still runs correctly.
 */

type Features = Record<string, Tensor>;

interface ModelSpec {
  readonly name: string;
  readonly build: () => Module;
  readonly model: string | (() => Module);
  readonly returnNodes: Record<string, string>;
}

const SIZE = 32;
const MODELS: readonly ModelSpec[] = [
  { name: "resnet18", build: () => getModel("resnet18", {}), model: "resnet18", returnNodes: { maxpool: "stem", layer1: "layer1", layer3: "layer3", avgpool: "pooled", fc: "logits" } },
  {
    name: "vit_tiny",
    build: VIT_SWIN_FACTORIES.vit_tiny!,
    model: "vit_tiny",
    returnNodes: { conv_proj: "patches", "encoder.layers.encoder_layer_0": "block0", "encoder.ln": "encoded", getitem_5: "class_token" },
  },
];

async function load(spec: ModelSpec, webgpuKernels: WebgpuKernelChoice, replay: boolean): Promise<Extractor<Features>> {
  const model = spec.build();
  const fx = createFeatureExtractor(model, { returnNodes: spec.returnNodes, size: SIZE, suppressDiffWarning: true });
  return fx.load(seededWeights(model, 3), { backend: "webgpu", engine: "tfjs", webgpuKernels, replay });
}

function input(seed: number, batch = 1, size = SIZE): Tensor4D {
  return tf.tensor4d(seededInput([batch, size, size, 3], seed), [batch, size, size, 3]);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Every feature's values, by key. */
async function valuesOf(features: Features): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [key, t] of Object.entries(features)) out[key] = (await t.data()) as Float32Array;
  return out;
}

for (const spec of MODELS) {
  for (const kernels of ["tfjs", "fxc"] as const) {
    webgpuTest(`${spec.name}, ${kernels}'s kernels: replayed features equal the ordinary forward's bit for bit over several inputs`, async () => {
      const ordinary = await load(spec, kernels, false);
      const replayed = await load(spec, kernels, true);
      try {
        assert.equal(replayed.replay, true);
        assert.equal(ordinary.replay, false);
        let bitwise = 0;
        for (const seed of [11, 12, 13, 14]) {
          const x = input(seed);
          const want = await ordinary.run(x);
          const again = await ordinary.run(x);
          const got = await replayed.run(x);
          assert.deepEqual(Object.keys(got), Object.keys(want));
          const [g, w, a] = [await valuesOf(got), await valuesOf(want), await valuesOf(again)];
          for (const key of Object.keys(w)) {
            assert.deepEqual(got[key]!.shape, want[key]!.shape, key);
            // tfjs's split-K matmul sums with atomics, in any order: where the ordinary forward does not repeat itself bit for bit, neither can a replay.
            if (sameBits(w[key]!, a[key]!)) {
              assert.ok(sameBits(g[key]!, w[key]!), `seed ${seed}, ${key}: replay differs from the ordinary forward`);
              bitwise++;
            } else assert.ok(relativeError(g[key]!, w[key]!) <= 1e-5, `seed ${seed}, ${key}: ${relativeError(g[key]!, w[key]!)}`);
          }
          tf.dispose([x, ...Object.values(got), ...Object.values(want), ...Object.values(again)]);
        }
        // At least two features per input (the stem and layer1, the patches and block0) go through no split-K matmul.
        assert.ok(bitwise >= 4 * 2, `${bitwise} features compared bit for bit`);
        if (spec.name === "resnet18" && kernels === "fxc") {
          // fxc's split-K (layer3 and layer4 at 2x2 and 1x1 pixels) adds its slices in a fixed order: every feature repeats, and its replay with it.
          assert.equal(bitwise, 4 * Object.keys(spec.returnNodes).length, "every feature compared bit for bit");
          assert.ok(pipelineKeys().some((k) => /^fxcGemm_4608_512_.*_split\d+_/.test(k)) && pipelineKeys().some((k) => k.startsWith("fxcGemmSum_")), "layer4 split K");
        }
        assert.deepEqual(replayed.replayStatus?.().recorded, [`float32[1,${SIZE},${SIZE},3]`]);
        assert.deepEqual(replayed.replayStatus?.().refused, {});
      } finally {
        ordinary.dispose();
        replayed.dispose();
      }
    });
  }
}

webgpuTest("replays overwrite no tensor the caller holds, keep GPU memory steady, record each shape once and free it all on dispose", async () => {
  const spec = MODELS[0]!;
  const extractor = await load(spec, "fxc", true);
  const x1 = input(21);
  const first = await extractor.run(x1);
  const firstValues = await valuesOf(first);
  // A tensor of the caller's made between calls, on buffers tfjs's pool hands out.
  const mine = tf.mul(first.layer1!, 2);
  const mineValues = (await mine.data()) as Float32Array;
  const x2 = input(22);
  const second = await extractor.run(x2);
  assert.notDeepEqual((await second.logits!.data()) as Float32Array, firstValues.logits, "another input gives other features");
  assert.deepEqual((await mine.data()) as Float32Array, mineValues, "the caller's tensor is untouched by the replay");
  const held = await valuesOf(first);
  for (const key of Object.keys(held)) assert.deepEqual(held[key], firstValues[key], `the capture's ${key}, still held, is untouched`);
  tf.dispose([mine, ...Object.values(first), ...Object.values(second)]);

  // Disposing outputs and running again; memory does not grow over 10 replays.
  const again = await extractor.run(x1);
  assert.deepEqual(await valuesOf(again), firstValues);
  tf.dispose(Object.values(again));
  const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
  const tensorsBefore = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) tf.dispose(Object.values(await extractor.run(x2)));
  const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
  assert.equal(after.numBytesInGPU, before.numBytesInGPU, "GPU bytes in use after 10 replays");
  assert.equal(tf.memory().numTensors, tensorsBefore);

  // A second input shape gets its own recording.
  const batch2 = input(23, 2);
  const two = await extractor.run(batch2);
  assert.deepEqual(two.logits!.shape, [2, 1000]);
  tf.dispose(Object.values(two));
  const status = extractor.replayStatus!();
  assert.deepEqual(status.recorded, [`float32[1,${SIZE},${SIZE},3]`, `float32[2,${SIZE},${SIZE},3]`]);
  assert.ok(status.bytes > 0);

  // Dispose frees the recordings' buffers: tfjs's allocated bytes drop by exactly theirs.
  const allocated = (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU: number }).numBytesAllocatedInGPU;
  extractor.dispose();
  const freed = allocated - (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU: number }).numBytesAllocatedInGPU;
  assert.equal(freed, status.bytes);
  tf.dispose([x1, x2, batch2]);
});

webgpuTest("a forward that reads back to the CPU, draws random numbers or throws is not recorded, and gives its ordinary features from then on", async () => {
  const readsBack = (x: Tensor4D): Features => {
    // A program that reads a value back from the GPU as it runs (Node's webgpu has no readSync: it reads asynchronously).
    const peak = tf.max(x);
    void peak.data().then(() => peak.dispose());
    return { kept: tf.relu(x) };
  };
  const dropsOut = (x: Tensor4D): Features => ({ dropped: tf.dropout(x, 0.5) });
  let calls = 0;
  const throwsOnce = (x: Tensor4D): Features => {
    const kept = tf.relu(x);
    if (calls++ === 0) throw new Error("the first call fails");
    return { kept };
  };
  for (const [forward, why] of [
    [readsBack, /reads a tensor back/],
    [dropsOut, /random numbers/],
    [throwsOnce, /^the forward threw \(the first call fails\)$/],
  ] as const) {
    const extractor = await createExtractor<Features, Tensor4D>({ checkpoint: {}, parameters: [], forward: (x) => forward(x) }, memorySource({}), { backend: "webgpu", engine: "tfjs", replay: true });
    const x = input(31, 1, 8);
    if (forward === throwsOnce) await assert.rejects(extractor.run(x), /^Error: the first call fails$/);
    for (let i = 0; i < 2; i++) {
      const got = await extractor.run(x);
      const want = forward === dropsOut ? undefined : { kept: tf.relu(x) };
      if (want !== undefined) assert.deepEqual(await valuesOf(got), await valuesOf(want));
      else {
        // Dropout zeroes some values and scales the others by 2: a new draw each call.
        const [g, v] = [(await got.dropped!.data()) as Float32Array, (await x.data()) as Float32Array];
        assert.ok(g.every((value, j) => value === 0 || Math.abs(value - 2 * v[j]!) < 1e-6));
      }
      tf.dispose([...Object.values(got), ...(want === undefined ? [] : Object.values(want))]);
    }
    const status = extractor.replayStatus!();
    assert.deepEqual(status.recorded, []);
    assert.match(status.refused["float32[1,8,8,3]"] ?? "", why);
    extractor.dispose();
    x.dispose();
  }
});

webgpuTest("fxc extract --replay runs replayed and says so; --replay=maybe is refused in one line", async () => {
  const out = join(await tempDir("webgpu-replay"), "features.safetensors");
  const args = ["extract", "resnet18", "--return", "maxpool,layer1.0", "--layout", "nchw", "--weights", RESNET18_WEIGHTS, "--input", join(RESNET18_CASE, "input.npy"), "--backend", "webgpu"];
  const ran = await fxc([...args, "--out", out, "--replay"]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stderr, /engine tfjs, backend webgpu .*, replayed/);
});

test("--replay is a switch, as every switch is: a value other than true or false is refused in one line, before anything loads", async () => {
  for (const [flag, value] of [
    ["replay", "maybe"],
    ["replay", "1"],
    ["quiet", "yes"],
  ] as const) {
    const refused = await fxc(["extract", "resnet18", "--return", "maxpool", "--weights", RESNET18_WEIGHTS, "--input", join(RESNET18_CASE, "input.npy"), "--out", "x.safetensors", `--${flag}=${value}`]);
    assertOneLineError(refused, new RegExp(`^fxc: --${flag} is a switch and takes no value \\("${value}"\\); give --${flag} or --no-${flag}$`), { code: 2 });
  }
});

test("the replay load option is a boolean: another value is refused in one line before any backend starts", async () => {
  const options = { engine: "tfjs", replay: "yes" as unknown as boolean } as const;
  await assert.rejects(createExtractor({ checkpoint: {}, parameters: [], forward: (x: Tensor4D) => x }, memorySource({}), options), /^BackendError: replay "yes" is not a boolean; give replay: true to record and replay forwards on webgpu, or leave it out$/);
});

webgpuTest("under gradients the forward runs ordinarily, so that gradients flow through it", async () => {
  const extractor = await createExtractor<Features, Tensor4D>({ checkpoint: {}, parameters: [], forward: (x) => ({ squared: tf.square(x) }) }, memorySource({}), { backend: "webgpu", engine: "tfjs", replay: true });
  const x = input(41, 1, 4);
  tf.dispose(Object.values(await extractor.run(x)));
  tf.dispose(Object.values(await extractor.run(x)));
  const grad = tf.grad((v: Tensor) => tf.sum(extractor.forward(v as Tensor4D).squared!))(x);
  const want = tf.mul(x, 2);
  assert.deepEqual(await grad.data(), await want.data());
  assert.deepEqual(extractor.replayStatus!().recorded, ["float32[1,4,4,3]"]);
  tf.dispose([x, grad, want]);
  extractor.dispose();
});

webgpuTest("a tensor two recordings read stays theirs until both are dropped, whatever order tfjs and the extractors free it in", async () => {
  const shared = tf.tensor1d([1, 2, 3]);
  const load = (): Promise<Extractor<Features, Tensor4D>> =>
    createExtractor<Features, Tensor4D>({ checkpoint: {}, parameters: [], forward: (x) => ({ out: tf.add(x, shared) }) }, memorySource({}), { backend: "webgpu", engine: "tfjs", replay: true });
  const [first, second] = [await load(), await load()];
  const x = input(51, 1, 2);
  const want = tf.add(x, shared);
  for (const extractor of [first, second]) for (let i = 0; i < 2; i++) tf.dispose(Object.values(await extractor.run(x)));
  first.dispose();
  shared.dispose();
  // Tensors of the shared one's size, on buffers tfjs's pool hands out, written with other values.
  const onGpu = tf.slice(tf.reshape(x, [12]), [0], [3]);
  const others = Array.from({ length: 4 }, () => tf.add(tf.tensor1d([9, 9, 9]), onGpu));
  others.push(onGpu);
  const got = await second.run(x);
  assert.deepEqual(await got.out!.data(), await want.data());
  tf.dispose([x, want, ...others, ...Object.values(got)]);
  second.dispose();
});

webgpuTest(`at most ${REPLAY_SHAPES} input shapes keep a recording: the least recently used is dropped`, async () => {
  const extractor = await createExtractor<Features, Tensor4D>({ checkpoint: {}, parameters: [], forward: (x) => ({ out: tf.relu(tf.mul(x, 3)) }) }, memorySource({}), { backend: "webgpu", engine: "tfjs", replay: true });
  const sizes = [2, 3, 4, 5, 6];
  const inputs = sizes.map((size, i) => input(60 + i, 1, size));
  for (const x of inputs.slice(0, 4)) tf.dispose(Object.values(await extractor.run(x)));
  // The first shape used again: the second is now the least recently used.
  tf.dispose(Object.values(await extractor.run(inputs[0]!)));
  const got = await extractor.run(inputs[4]!);
  const want = tf.relu(tf.mul(inputs[4]!, 3));
  assert.deepEqual(await got.out!.data(), await want.data());
  const shape = (size: number): string => `float32[1,${size},${size},3]`;
  assert.deepEqual(extractor.replayStatus!().recorded, [shape(4), shape(5), shape(2), shape(6)]);
  tf.dispose([...inputs, want, ...Object.values(got)]);
  extractor.dispose();
});

webgpuTest("a first call under tf.time runs ordinarily without refusing its shape: the next call records it", async () => {
  const extractor = await createExtractor<Features, Tensor4D>({ checkpoint: {}, parameters: [], forward: (x) => ({ out: tf.sigmoid(x) }) }, memorySource({}), { backend: "webgpu", engine: "tfjs", replay: true });
  const x = input(71, 1, 3);
  let timed: Features = {};
  await tf.time(() => {
    timed = extractor.forward(x);
  });
  assert.deepEqual(extractor.replayStatus!(), { recorded: [], refused: {}, bytes: 0 });
  const recorded = await extractor.run(x);
  assert.deepEqual(extractor.replayStatus!().recorded, ["float32[1,3,3,3]"]);
  assert.deepEqual(await recorded.out!.data(), await timed.out!.data());
  tf.dispose([x, ...Object.values(timed), ...Object.values(recorded)]);
  extractor.dispose();
});
