import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile, createFeatureExtractor, type FeatureExtractor } from "../../compiler/api.js";
import { interpret } from "../../compiler/interpret/interpreter.js";
import { resnet18 } from "../../models/zoo/resnet.js";
import { getModel } from "../../models/zoo/registry.js";
import { InputShapeError, openWeights, tf, type EngineName, type Tensor, type TensorSource } from "../../runtime/index.js";
import { createDetector } from "../../compiler/detection/index.js";
import { TinyMaskRCNN } from "../fixtures/detection/tinyDetectors.js";
import { DETECTION_WEIGHTS, pictureNames, pictureTensor, tinyDetectorConfig } from "../support/detection.js";
import { sizeFreeGraph } from "../../runtime/onnx/engine.js";
import { prepareParams } from "../../runtime/params.js";
import { buildCaseModel, caseErrors, caseInput, ENGINES_UNDER_TEST, fixtureCases, FIXTURES, type Factories, type FixtureCase } from "../support/fixtures.js";
import { Resnet50WithFPN, VIT_SWIN_FACTORIES } from "../support/factories.js";
import { seededWeights } from "../support/seeded.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { tempDir } from "../support/temp.js";

/**
 * A fully convolutional extractor compiled once takes any height and width the network takes:
 * compiled at one size, it gives torchvision's numbers at the fixture cases' other sizes, on every
 * engine; a model whose constants fix the size (ViT) keeps it, and a size below the network's
 * smallest is refused in one line.
 */

const FACTORIES: Factories = { ...VIT_SWIN_FACTORIES, resnet18_with_fpn: () => new Resnet50WithFPN(resnet18, 4) };

const caseById = (id: string): FixtureCase => fixtureCases((c) => c.id === id)[0]!;

/** Runs a case's input through an extractor compiled elsewhere, and returns the relative error per output (torch order) and the shapes. */
async function runAt(fx: FeatureExtractor, c: FixtureCase, engine: EngineName): Promise<{ errors: Record<string, number>; shapes: Record<string, number[]> }> {
  const weights = c.weights.startsWith("seeded:") ? seededWeights(buildCaseModel(c, FACTORIES), Number(c.weights.slice(7))) : join(FIXTURES, "cases", c.id, c.weights);
  const extractor = await fx.load(weights, { engine, backend: "auto" });
  try {
    const nchw = await caseInput(c);
    const x = tf.transpose(nchw, [0, 2, 3, 1]);
    const out = await extractor.run(x);
    // Image-like outputs come back NHWC; Swin's [B, H, W, C] as torch has them.
    const channelsLast = new Set(fx.program.outputs.filter((o) => o.format === "channelsLast").map((o) => o.key));
    const torchOrder = Object.fromEntries(Object.entries(out).map(([key, t]): [string, Tensor] => [key, channelsLast.has(key) ? tf.transpose(t, [0, 3, 1, 2]) : t]));
    try {
      return { errors: await caseErrors(c, torchOrder), shapes: Object.fromEntries(Object.entries(torchOrder).map(([k, t]) => [k, [...t.shape]])) };
    } finally {
      tf.dispose([nchw, x, ...Object.values(out), ...Object.values(torchOrder)]);
    }
  } finally {
    extractor.dispose();
  }
}

async function assertTorchvision(fx: FeatureExtractor, c: FixtureCase, engine: EngineName): Promise<void> {
  const { errors, shapes } = await runAt(fx, c, engine);
  assert.deepEqual(shapes, c.outputs, "output shapes in torch's order");
  for (const [key, error] of Object.entries(errors)) assert.ok(error <= c.tolerance, `${key}: relative error ${error.toExponential(2)} > ${c.tolerance}`);
}

const fpn = (): FeatureExtractor => createFeatureExtractor(FACTORIES.resnet18_with_fpn!(), { returnNodes: ["fpn"], size: 224, suppressDiffWarning: true });

test("resnet18 + FPN compiled once at 224x224 takes any size: the FPN's top-down sizes are read at run time (interpolateLike)", () => {
  const { program } = fpn();
  assert.deepEqual(program.freeSize, { compiled: [224, 224], minimum: [1, 1] });
  assert.ok(program.instructions.some((i) => i.op === "interpolateLike"));
  assert.ok(!program.instructions.some((i) => i.op === "interpolate"), "no interpolate to a size fixed at 224");
  assert.deepEqual(
    program.outputs.map((o) => o.symbolicShape),
    [4, 8, 16, 32, 64].map((s) => ["N", 4, `⌈H/${s}⌉`, `⌈W/${s}⌉`]),
  );
});

for (const engine of ENGINES_UNDER_TEST) {
  test(`resnet18 + FPN compiled once at 224x224 equals torchvision at 224x224, 300x300 and 800x1216 [${engine}]`, async () => {
    const fx = fpn();
    for (const id of ["compose_resnet18_fpn_224x224", "compose_resnet18_fpn_300x300", "compose_resnet18_fpn_800x1216"]) await assertTorchvision(fx, caseById(id), engine);
  });

  // Swin pads its windows and shifts its masks by the size: its kernels compute both when they run.
  for (const id of ["resnet18_seeded", "mobilenet_v3_small_seeded", "convnext_tiny_seeded", "swin_t_seeded", "swin_v2_t_seeded", "swin_tiny_seeded"]) {
    test(`${id}'s model compiled at 224x224 equals torchvision at the case's ${caseById(id).input.slice(2).join("x")} [${engine}]`, async () => {
      const c = caseById(id);
      const fx = createFeatureExtractor(c.ts.model ?? buildCaseModel(c, FACTORIES), { returnNodes: c.returnNodes, size: 224, suppressDiffWarning: true });
      assert.equal(fx.program.freeSize?.compiled.join("x"), "224x224");
      await assertTorchvision(fx, c, engine);
    });
  }

  test(`a size below the network's smallest is refused in one line that names it [${engine}]`, async () => {
    const fx = createFeatureExtractor("convnext_tiny", { returnNodes: ["features.7"], suppressDiffWarning: true });
    assert.deepEqual(fx.program.freeSize?.minimum, [32, 32], "convnext's 4x4 stem and three 2x2 downsamplings");
    const extractor = await fx.load(seededWeights(getModel("convnext_tiny", {}), 1), { engine });
    const x = tf.zeros([1, 16, 40, 3]);
    try {
      await assert.rejects(extractor.run(x as tf.Tensor4D), (e: unknown) => e instanceof InputShapeError && /^input 16x40 is smaller than the 32x32 this network takes at least .*; give images of at least 32x32/.test(e.message) && !e.message.includes("\n"));
    } finally {
      x.dispose();
      extractor.dispose();
    }
  });
}

test("onnxruntime builds one graph for every size where its graphs at three sizes agree, with the height and width named", async () => {
  const { program } = fpn();
  const params = await prepareParams(seededWeights(new Resnet50WithFPN(resnet18, 4), 1), program.checkpoint, program.params);
  const free = sizeFreeGraph(interpret(program), params, [null, null, 3], [224, 224]);
  assert.ok(free !== undefined, "one graph");
  for (const shape of free.outputShapes) assert.deepEqual([shape[1], shape[2], shape[3]], [null, null, 4], "free height and width in the outputs");
});

test("ViT keeps its compiled size (its positional embedding fixes it), and refuses another in one line", async () => {
  const c = caseById("vit_b_16_seeded");
  const fx = createFeatureExtractor("vit_b_16", { modelOptions: c.ts.options, returnNodes: ["encoder"], size: 32, suppressDiffWarning: true });
  assert.equal(fx.program.freeSize, undefined);
  const extractor = await fx.load(seededWeights(getModel("vit_b_16", c.ts.options ?? {}), 1), { engine: "tfjs" });
  const x = tf.zeros([1, 48, 48, 3]);
  try {
    assert.throws(
      () => extractor.forward(x as tf.Tensor4D),
      (e: unknown) => e instanceof InputShapeError && /^input shape \[1, 48, 48, 3\] does not match the compiled \[N, 32, 32, 3\] \(NHWC\); resize the input, or compile for this size with --size$/.test(e.message),
    );
  } finally {
    x.dispose();
    extractor.dispose();
  }
});

test("fixedSize keeps a fully convolutional extractor at its compiled size", () => {
  const fx = createFeatureExtractor("resnet18", { returnNodes: ["layer4"], fixedSize: true, suppressDiffWarning: true });
  assert.equal(fx.program.freeSize, undefined);
});

test("the generated module says which dims are free: inputShape, inputSize and symbolic shapes in Features' docs", async () => {
  const source = await compile("resnet50", { returnNodes: ["layer1", "layer2", "layer3", "layer4"] });
  assert.match(source, /^\/\/ Generated by fxc .*: eval mode, input of any size from 1x1 \(checked at 224x224\), NHWC\.$/m);
  assert.match(source, /export const inputShape = \[null, null, null, 3\] as const;/);
  assert.match(source, /export const inputSize = \{ compiled: \[224, 224\], minimum: \[1, 1\] \} as const;/);
  assert.match(source, /`layer1\.2\.relu_2`: \[N, ⌈H\/4⌉, ⌈W\/4⌉, 256\] \(\[N, 56, 56, 256\] at 224x224\) NHWC; 256 channels, stride 4\./);
  assert.match(source, /`layer4\.2\.relu_2`: \[N, ⌈H\/32⌉, ⌈W\/32⌉, 2048\]/);
  assert.match(source, /ops\.input\(input, \{ layout: "nhwc", shape: \[3, null, null\], minimum: \[1, 1\] \}\)/);
  assert.match(source, /createExtractor\(\{ checkpoint, parameters, buffers, inputShape, inputSize, forward \}, weights, options\)/);
});

test("the detector compiles and loads its backbone once for every padded size: each backbone tensor is read once over three sizes", async () => {
  const config = tinyDetectorConfig();
  const file = await openWeights(DETECTION_WEIGHTS);
  const reads = new Map<string, number>();
  const counted: TensorSource = {
    path: file.path,
    format: file.format,
    keys: () => file.keys(),
    info: (key) => file.info(key),
    readFloat32: (key) => (reads.set(key, (reads.get(key) ?? 0) + 1), file.readFloat32(key)),
    close: () => file.close(),
  };
  const detector = await createDetector(TinyMaskRCNN(config)).load(counted, { engine: "tfjs" });
  try {
    const padded = new Set<string>();
    for (const picture of await Promise.all(pictureNames(config).map(pictureTensor))) {
      const [result] = await detector.detect([picture], { intermediates: true });
      padded.add(result!.intermediates!.batchShape.join("x"));
    }
    assert.ok(padded.size >= 3, `the pictures pad to several sizes (${[...padded].join(", ")})`);
    const backbone = [...reads].filter(([key]) => key.startsWith("backbone.") || key.startsWith("rpn."));
    assert.ok(backbone.length > 0);
    assert.deepEqual(backbone.filter(([, n]) => n !== 1), [], "every backbone and RPN head tensor read once");
  } finally {
    detector.dispose();
    await file.close();
  }
});

test("fxc compile --fixed-size and a config's fixedSize keep the compiled size, and the header's command says so", async () => {
  const dir = await tempDir("fixed-size");
  const free = await fxc(["compile", "resnet18", "--return", "layer1", "--size", "64", "--out", dir, "--name", "free"]);
  assert.equal(free.code, 0, free.stderr);
  assert.match(await readFile(join(dir, "free.ts"), "utf8"), /export const inputShape = \[null, null, null, 3\] as const;/);
  const fixed = await fxc(["compile", "resnet18", "--return", "layer1", "--size", "64", "--fixed-size", "--out", dir, "--name", "fixed"]);
  assert.equal(fixed.code, 0, fixed.stderr);
  const source = await readFile(join(dir, "fixed.ts"), "utf8");
  assert.match(source, /export const inputShape = \[null, 64, 64, 3\] as const;/);
  assert.match(source, /^\/\/ Do not edit\. Regenerate with: npx fxc compile resnet18 --return layer1 --out .* --name fixed --size 64 --fixed-size$/m);
  await writeFile(join(dir, "fxc.config.json"), JSON.stringify({ out: "built", extractors: [{ model: "resnet18", return: "layer1", size: 64, fixedSize: true }, { model: "resnet18", return: "layer1", name: "any" }] }));
  const built = await fxc(["build"], { cwd: dir });
  assert.equal(built.code, 0, built.stderr);
  assert.match(await readFile(join(dir, "built", "resnet18.ts"), "utf8"), /export const inputShape = \[null, 64, 64, 3\] as const;/);
  assert.match(await readFile(join(dir, "built", "any.ts"), "utf8"), /export const inputShape = \[null, null, null, 3\] as const;/);
  await writeFile(join(dir, "fxc.config.json"), JSON.stringify({ extractors: [{ model: "resnet18", return: "layer1", fixedSize: "yes" }] }));
  assertOneLineError(await fxc(["build"], { cwd: dir }), /^fxc: .*extractors\[0\]\.fixedSize.*must be true or false, got "yes"/);
});
