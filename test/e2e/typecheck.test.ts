import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { compile, type CompileOptions } from "../../compiler/api.js";
import { ROOT } from "../support/cli.js";

/**
 * Generated modules typecheck under strict settings, one return spec per family, and each
 * output is typed by its rank. A consumer per module loads it, runs it and reads every
 * output as its type; `@ts-expect-error` checks that an output read as another rank, and a
 * key that was not requested, are type errors (the directive is itself an error when they
 * are not). All of it, with the checked-in generated modules, is one tsc run.
 */
interface Module {
  readonly family: string;
  readonly model: string;
  readonly options: Omit<CompileOptions, "name">;
  /** The rank each output is typed with. */
  readonly ranks: Readonly<Record<string, 2 | 3 | 4>>;
  /** The features interface the module names. */
  readonly featuresType: string;
  /** A key that was not requested. */
  readonly notRequested: string;
  /** More statements of the consumer (`m` is the module, `f` its features). */
  readonly more?: string;
  /** What the source must say (documented shapes). */
  readonly source?: readonly RegExp[];
}

const MAXVIT_WINDOWS = "blocks.0.layers.0.layers.window_attention.partition_op.reshape_1";

const MODULES: Record<string, Module> = {
  r18: {
    family: "ResNet",
    model: "resnet18",
    options: { returnNodes: { layer1: "feat1", fc: "logits" }, layout: "nchw" },
    ranks: { feat1: 4, logits: 2 },
    featuresType: "R18Features",
    notRequested: "layer2",
    more: `const node: "fc" = m.returnNodes.logits;`,
  },
  alexnet: {
    family: "AlexNet",
    model: "alexnet",
    options: { returnNodes: { "features.12": "pool5", "classifier.6": "logits" }, layout: "nchw" },
    ranks: { pool5: 4, logits: 2 },
    featuresType: "AlexnetFeatures",
    notRequested: "features.11",
  },
  vgg16_bn: { family: "VGG", model: "vgg16_bn", options: { returnNodes: ["features"], size: 64 }, ranks: { features: 4 }, featuresType: "Vgg16BnFeatures", notRequested: "classifier" },
  squeezenet1_1: {
    family: "SqueezeNet",
    model: "squeezenet1_1",
    options: { returnNodes: { "features.12": "fire9" } },
    ranks: { fire9: 4 },
    featuresType: "Squeezenet11Features",
    notRequested: "features.12",
  },
  densenet121: {
    family: "DenseNet",
    model: "densenet121",
    options: { returnNodes: ["features.denseblock1.denselayer1.relu1"], size: 32 },
    ranks: { "features.denseblock1.denselayer1.relu1": 4 },
    featuresType: "Densenet121Features",
    notRequested: "features.denseblock1.denselayer1.relu2",
  },
  googlenet: {
    family: "GoogLeNet",
    model: "googlenet",
    options: { returnNodes: { "aux1.fc2": "aux1", inception4e: "c4" }, mode: "train", size: 96, suppressDiffWarning: true },
    ranks: { aux1: 2, c4: 4 },
    featuresType: "GooglenetFeatures",
    notRequested: "aux2",
  },
  inception_v3: {
    family: "Inception",
    model: "inception_v3",
    options: { returnNodes: { Mixed_7c: "c5" }, size: 75, suppressDiffWarning: true },
    ranks: { c5: 4 },
    featuresType: "InceptionV3Features",
    notRequested: "fc",
  },
  mobilenet_v3_large: {
    family: "MobileNet",
    model: "mobilenet_v3_large",
    options: { returnNodes: { "features.16": "c5", "classifier.3": "logits" } },
    ranks: { c5: 4, logits: 2 },
    featuresType: "MobilenetV3LargeFeatures",
    notRequested: "features.15",
  },
  mnasnet1_0: { family: "MNASNet", model: "mnasnet1_0", options: { returnNodes: ["layers.16"] }, ranks: { "layers.16": 4 }, featuresType: "Mnasnet10Features", notRequested: "layers.15" },
  shuffle: {
    family: "ShuffleNetV2",
    model: "shufflenet_v2_x0_5",
    options: { returnNodes: { "stage2.1.getitem_1": "half", "stage3.0.view_1": "shuffled", mean: "pooled" }, size: 64 },
    ranks: { half: 4, shuffled: 4, pooled: 2 },
    featuresType: "ShuffleFeatures",
    notRequested: "fc",
  },
  effnet: {
    family: "EfficientNet",
    model: "efficientnet_b0",
    options: { returnNodes: { "features.4.2.block.2": "excited", "classifier.1": "logits" }, size: 64 },
    ranks: { excited: 4, logits: 2 },
    featuresType: "EffnetFeatures",
    notRequested: "features",
  },
  regnety: {
    family: "RegNet",
    model: "regnet_y_400mf",
    options: { returnNodes: { "trunk_output.block2.block2-0.f.se": "excited", "trunk_output.block4": "last" }, size: 64 },
    ranks: { excited: 4, last: 4 },
    featuresType: "RegnetyFeatures",
    notRequested: "fc",
  },
  cnx: {
    family: "ConvNeXt",
    model: "convnext_tiny",
    options: { returnNodes: { "features.1.0.mul": "scaled", "features.2.0.layer_norm": "normed", "classifier.2": "logits" }, size: 64 },
    ranks: { scaled: 4, normed: 4, logits: 2 },
    featuresType: "CnxFeatures",
    notRequested: "features.7",
  },
  vit: {
    family: "ViT",
    model: "vit_b_16",
    options: { returnNodes: { encoder: "tokens", getitem_5: "cls", conv_proj: "patches" } },
    ranks: { tokens: 3, cls: 2, patches: 4 },
    featuresType: "VitFeatures",
    notRequested: "heads",
    more: `const node: "encoder.ln" = m.returnNodes.tokens;`,
  },
  swin: {
    family: "Swin",
    model: "swin_t",
    options: { returnNodes: { "features.7": "last", permute: "grid", head: "logits" }, layout: "nchw" },
    ranks: { last: 4, grid: 4, logits: 2 },
    featuresType: "SwinFeatures",
    notRequested: "stage1",
    // Swin's own maps stay [B, H, W, C] whatever the layout; the permuted map follows the layout.
    // Any size: Swin's stages are roughly a stride of the input's (⌈⌊H/4⌋/8⌉ for the last).
    source: [/\/\*\* `features\.7\.1\.add_1`: \[N, ~H\/32, ~W\/32, 768\] \(\[N, 7, 7, 768\] at 224x224\)\. \*\//, /\/\*\* `permute`: \[N, 768, ~H\/32, ~W\/32\] \(\[N, 768, 7, 7\] at 224x224\)\. \*\//],
  },
  swinv2: {
    family: "Swin v2",
    model: "swin_v2_t",
    options: { returnNodes: { "features.1": "first", "features.7": "last", head: "logits" } },
    ranks: { first: 4, last: 4, logits: 2 },
    featuresType: "Swinv2Features",
    notRequested: "features.3",
    source: [/\/\*\* `features\.7\.1\.add_1`: \[N, ~H\/32, ~W\/32, 768\] \(\[N, 8, 8, 768\] at 256x256\)\. \*\//],
  },
  maxvitT: {
    family: "MaxViT",
    model: "maxvit_t",
    options: { returnNodes: { [MAXVIT_WINDOWS]: "windows", "blocks.0": "block0", "blocks.0.layers.0.layers.window_attention.attn_layer.1.getitem_7": "bias" } },
    ranks: { windows: 4, block0: 4, bias: 2 },
    featuresType: "MaxvitTFeatures",
    notRequested: "block1",
    source: [
      /\/\*\* `blocks\.0\.layers\.0\.layers\.window_attention\.partition_op\.reshape_1`: \[N, 64, 49, 64\]\. \*\/\n\s+windows: Tensor4D;/,
      /\[N, 56, 56, 64\] NHWC; 64 channels, stride 4\. \*\/\n\s+block0: Tensor4D;/,
    ],
  },
};

/** `.key`, or `["key"]` where the key is not an identifier. */
const access = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);
const tensorType = (rank: number): string => `Tensor${rank}D`;

/** Loads and runs the module, reads each output as its rank's type, and checks what must not typecheck. */
function consumer(file: string, m: Module): string {
  const outputs = Object.entries(m.ranks);
  const reads = outputs.map(([k, rank], i) => `const out${i}: ${tensorType(rank)} = f${access(k)};`);
  const wrongRanks = outputs.map(([k, rank], i) => `// @ts-expect-error ${k} is ${rank}-D\n  const wrong${i}: ${tensorType(rank === 4 ? 2 : 4)} = f${access(k)};`);
  return `import { tf, type Preset, type Tensor2D, type Tensor3D, type Tensor4D } from "@fxc/runtime";
import * as m from "./${file}.js";

export async function run(weights: string): Promise<number[]> {
  const extractor = await m.load(weights, { backend: "wasm" });
  const x: Tensor4D = tf.zeros([1, ...m.inputShape.slice(1)] as [number, number, number, number]);
  const f: m.Features = await extractor.run(x);
  const named: m.${m.featuresType} = f;
  ${reads.join("\n  ")}
  ${wrongRanks.join("\n  ")}
  // @ts-expect-error ${m.notRequested} was not requested
  named${access(m.notRequested)};
  ${m.more ?? ""}
  // The weights' preprocessing, typed as the preset preprocess takes.
  const preset: Preset = m.preprocessing;
  const crop: number = preset.cropSize;
  extractor.dispose();
  return [${outputs.map((_, i) => `out${i}, wrong${i}`).join(", ")}].map((t) => t.rank + crop);
}
`;
}

/**
 * A consumer of the checked-in detector module (generated/maskrcnn_resnet50_fpn.ts): its load
 * options and Detection type as a user reads them. Mask R-CNN's masks are there without a check;
 * a field a detection does not have, and an option load does not take, are type errors.
 */
const DETECTOR_CONSUMER = `import type { ImageTensor } from "@fxc/runtime";
import { configuration, levels, load, type Detection } from "../../generated/maskrcnn_resnet50_fpn.js";

export async function detect(images: readonly ImageTensor[]): Promise<number> {
  const detector = await load("maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", { engine: "tfjs", scoreThreshold: 0.5, roiAlignThreads: 1 });
  const results: Detection[] = await detector.detect(images);
  const first = results[0];
  if (first === undefined) return 0;
  const pixels: Float32Array = first.masks.data;
  const labels: Int32Array = first.labels;
  const minSize: 800 = configuration.transform.minSize;
  const level: "0" | "1" | "2" | "3" | "pool" = levels[0];
  // @ts-expect-error a detection has no keypoints
  first.keypoints;
  // @ts-expect-error load takes no such option
  await load("x.pth", { minSize: 600 });
  detector.dispose();
  return pixels.length + labels.length + minSize + level.length;
}
`;

/** The settings a strict consumer project uses (`tsc --init` and more), in both module modes; skipLibCheck off, so the runtime's .d.ts are checked too. */
const STRICT = {
  target: "ES2022",
  strict: true,
  noUncheckedIndexedAccess: true,
  noPropertyAccessFromIndexSignature: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  skipLibCheck: false,
  noEmit: true,
  types: ["node"],
  typeRoots: ["../../node_modules/@types"],
} as const;
const MODULE_MODES = { nodenext: { module: "nodenext" }, bundler: { module: "preserve", moduleResolution: "bundler" } } as const;

/** A generated module with one parameter id misspelled: tsc must refuse it, there and only there. */
const TYPO = { file: "typo", from: "p.conv1_weight", to: "p.conv1_weigth" } as const;

const tsc = (project: string) => spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", project], { encoding: "utf8" });

test("every family's generated module typechecks under the strictest settings in both module modes, against the runtime's declarations; features typed by rank, parameters by id", async () => {
  assert.deepEqual(
    Object.values(MODULES).map((m) => m.family),
    ["ResNet", "AlexNet", "VGG", "SqueezeNet", "DenseNet", "GoogLeNet", "Inception", "MobileNet", "MNASNet", "ShuffleNetV2", "EfficientNet", "RegNet", "ConvNeXt", "ViT", "Swin", "Swin v2", "MaxViT"],
  );
  // Inside the package, so that tfjs resolves from the runtime's declarations as it would in a user's project.
  const dir = join(ROOT, ".cache", `typecheck-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    // The runtime as a user's tsc sees it: its .d.ts files, not its sources.
    await writeFile(
      join(dir, "tsconfig.decl.json"),
      JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, sourceMap: false, rootDir: "../..", outDir: "decl" }, include: ["../../runtime"], exclude: [] }),
    );
    const declarations = tsc(join(dir, "tsconfig.decl.json"));
    assert.equal(declarations.status, 0, declarations.stdout + declarations.stderr);
    for (const [file, m] of Object.entries(MODULES)) {
      const source = await compile(m.model, { ...m.options, name: file });
      for (const pattern of m.source ?? []) assert.match(source, pattern, `${file}: the documented shapes`);
      assert.doesNotMatch(source, / as Tensor\dD/, `${file}: no rank casts`);
      await writeFile(join(dir, `${file}.ts`), source);
      await writeFile(join(dir, `consumer-${file}.ts`), consumer(file, m));
      if (file === "r18") {
        assert.ok(source.includes(TYPO.from));
        await writeFile(join(dir, `${TYPO.file}.ts`), source.replace(TYPO.from, TYPO.to));
      }
    }
    await writeFile(join(dir, "consumer-detector.ts"), DETECTOR_CONSUMER);
    // tfjs-core's hash_util.d.ts names Long, a type from a package it does not depend on.
    await writeFile(join(dir, "long.d.ts"), "declare global {\n  type Long = unknown;\n}\nexport {};\n");
    for (const [mode, moduleOptions] of Object.entries(MODULE_MODES)) {
      const project = join(dir, `tsconfig.${mode}.json`);
      const paths = { "@fxc/runtime": ["./decl/runtime/index.d.ts"] };
      await writeFile(project, JSON.stringify({ compilerOptions: { ...STRICT, ...moduleOptions, paths }, include: ["*.ts", "../../generated/*.ts"] }));
      const r = tsc(project);
      const errors = (r.stdout + r.stderr).split("\n").filter((line) => /error TS\d+/.test(line));
      assert.equal(errors.length, 1, `${mode}: only the misspelled id is an error:\n${errors.join("\n")}`);
      assert.match(errors[0]!, new RegExp(`^.*${TYPO.file}\\.ts\\(\\d+,\\d+\\): error TS2551: Property 'conv1_weigth_bn' does not exist`), mode);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
