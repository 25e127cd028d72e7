import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { Module } from "../../models/nn/module.js";
import { getModel } from "../../models/zoo/registry.js";
import { createFeatureExtractor } from "../../compiler/api.js";
import type { ReturnNodes } from "../../compiler/passes/returnNodes.js";
import { EngineError, openWeights, tf, type BackendName, type EngineName, type Tensor, type WebgpuKernelChoice } from "../../runtime/index.js";
import { readNpy } from "../../runtime/io/npy.js";
import { seededInput, seededWeights } from "./seeded.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
/** The pictures the images tests read. */
export const IMAGES = join(FIXTURES, "images");
/** Six pictures to index. */
export const GALLERY = join(IMAGES, "gallery");
/** An edited copy of the gallery's sunset.png, which is its nearest neighbour. */
export const EDITED = join(IMAGES, "query", "sunset-edited.png");
/** The resnet18_pth case's folder: a checkpoint, an input and torchvision's outputs. */
export const RESNET18_CASE = join(FIXTURES, "cases", "resnet18_pth");
/** The resnet18_pth case's checkpoint: resnet18's stem and layer1.0, as torch.save writes it. */
export const RESNET18_WEIGHTS = join(RESNET18_CASE, "weights.pth");

/** One entry of fixtures/cases.json, written by fixtures/make_fixtures.py. */
export interface FixtureCase {
  readonly id: string;
  readonly ts: { readonly model?: string; readonly options?: Record<string, unknown>; readonly factory?: string };
  readonly input: readonly number[];
  /** The input is seeded (test/support/seeded.ts) rather than stored in input.npy. */
  readonly inputSeed?: number;
  readonly returnNodes: ReturnNodes;
  readonly mode: "train" | "eval";
  /** "seeded:<seed>" or a weights file in the case's folder. */
  readonly weights: string;
  readonly layouts: readonly ("nhwc" | "nchw")[];
  readonly tolerance: number;
  readonly outputs: Readonly<Record<string, readonly number[]>>;
  /**
   * Output key -> step s: expected.safetensors holds only every s-th row and column of that
   * [N, C, H, W] output (out[..., ::s, ::s], for outputs too large to store whole); fxc's output is
   * strided the same way before the comparison, so the bound is against the subsample's largest magnitude.
   */
  readonly strided?: Readonly<Record<string, number>>;
  readonly note: string;
}

export function fixtureCases(filter: (c: FixtureCase) => boolean = () => true): FixtureCase[] {
  const all = JSON.parse(readFileSync(join(FIXTURES, "cases.json"), "utf8")) as FixtureCase[];
  return all.filter(filter);
}

/** torchvision's node names for every classification model, from fixtures/make_nodes.py. */
export function torchvisionNodeNames(): Record<string, { train: string[]; eval: string[] }> {
  return JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "nodes.json.gz"))).toString("utf8")) as Record<string, { train: string[]; eval: string[] }>;
}

export type Factories = Readonly<Record<string, () => Module>>;

export function buildCaseModel(c: FixtureCase, factories: Factories = {}): Module {
  if (c.ts.factory !== undefined) {
    const make = factories[c.ts.factory];
    if (make === undefined) throw new Error(`case ${c.id}: no factory '${c.ts.factory}' given to the test`);
    return make();
  }
  return getModel(c.ts.model!, c.ts.options ?? {});
}

export interface CaseResult {
  /** Per output key: max |got - expected| / max |expected|. */
  readonly errors: Record<string, number>;
  readonly shapes: Record<string, number[]>;
  readonly backend: BackendName;
  readonly engine: EngineName;
  readonly webgpuKernels: WebgpuKernelChoice | undefined;
}

/**
 * Runs a fixture case through createFeatureExtractor (the interpreter, which runs exactly
 * what generated code runs) and compares every output with torchvision's.
 */
export async function runCase(
  c: FixtureCase,
  options: {
    layout: "nhwc" | "nchw";
    backend?: BackendName;
    engine?: EngineName;
    factories?: Factories;
    webgpuKernels?: WebgpuKernelChoice;
    /** Run only the input's first `images` (a smaller batch), checked against the same images of torchvision's outputs (every output batch-first). */
    images?: number;
  },
): Promise<CaseResult> {
  const model = buildCaseModel(c, options.factories);
  const [, , h, w] = c.input as [number, number, number, number];
  // Zoo models go by name, as users give them, so that their zoo entry applies (e.g. checkpoint key renames).
  const fx = createFeatureExtractor(c.ts.model ?? model, {
    modelOptions: c.ts.options,
    returnNodes: c.returnNodes,
    size: [h, w],
    layout: options.layout,
    mode: c.mode,
    suppressDiffWarning: true,
  });
  const weights = c.weights.startsWith("seeded:") ? seededWeights(model, Number(c.weights.slice(7))) : join(FIXTURES, "cases", c.id, c.weights);
  const extractor = await fx.load(weights, { backend: options.backend ?? "auto", engine: options.engine ?? "tfjs", ...(options.webgpuKernels === undefined ? {} : { webgpuKernels: options.webgpuKernels }) });
  try {
    const whole = await caseInput(c);
    const nchw = options.images === undefined ? whole : tf.slice(whole, 0, options.images);
    const x = options.layout === "nhwc" ? tf.transpose(nchw, [0, 2, 3, 1]) : nchw;
    const out = await extractor.run(x);
    tf.dispose([whole, nchw, x]);
    // Image-like outputs come back NHWC in that layout; compare in torch's order.
    const torchOrder = Object.fromEntries(
      fx.program.outputs.map((o): [string, Tensor] => {
        const t = out[o.key]!;
        return [o.key, options.layout === "nhwc" && o.format === "channelsLast" ? tf.transpose(t, [0, 3, 1, 2]) : t];
      }),
    );
    try {
      const shapes = Object.fromEntries(Object.entries(torchOrder).map(([key, t]) => [key, [...t.shape]]));
      return { errors: await caseErrors(c, torchOrder, options.images), shapes, backend: extractor.backend, engine: extractor.engine, webgpuKernels: extractor.webgpuKernels };
    } finally {
      tf.dispose([...Object.values(out), ...Object.values(torchOrder)]);
    }
  } finally {
    extractor.dispose();
  }
}

/** The case's input, NCHW as torch takes it: seeded, or read from the case's input.npy. */
export async function caseInput(c: FixtureCase): Promise<tf.Tensor4D> {
  const input = c.inputSeed === undefined ? await readNpy(join(FIXTURES, "cases", c.id, "input.npy")) : { data: seededInput(c.input, c.inputSeed), shape: c.input };
  return tf.tensor4d(input.data, input.shape as [number, number, number, number]);
}

/**
 * Per output key, relativeError against torchvision's output in the case's expected.safetensors;
 * give outputs in torch's order, of the input's first `images` where given (every output batch-first).
 */
export async function caseErrors(c: FixtureCase, outputs: Readonly<Record<string, Tensor>>, images?: number): Promise<Record<string, number>> {
  const expected = await openWeights(join(FIXTURES, "cases", c.id, "expected.safetensors"));
  try {
    const errors: Record<string, number> = {};
    for (const [key, t] of Object.entries(outputs)) {
      const step = c.strided?.[key];
      const got = (await t.data()) as Float32Array;
      const want = await expected.readFloat32(key);
      const wantImages = images === undefined ? want : want.subarray(0, (want.length / c.input[0]!) * images);
      errors[key] = relativeError(step === undefined ? got : strideRowsAndColumns(got, t.shape, step), wantImages);
    }
    return errors;
  } finally {
    await expected.close();
  }
}

/** Every `step`-th row and column of an [N, C, H, W] tensor's data, as numpy's a[..., ::step, ::step]. */
export function strideRowsAndColumns(data: Float32Array, shape: readonly number[], step: number): Float32Array {
  if (shape.length !== 4) throw new Error(`a strided fixture output must be [N, C, H, W], not [${shape.join(", ")}]`);
  const [n, c, h, w] = shape as [number, number, number, number];
  const rows = Math.ceil(h / step);
  const columns = Math.ceil(w / step);
  const out = new Float32Array(n * c * rows * columns);
  let i = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < h; y += step) {
      for (let x = 0; x < w; x += step) out[i++] = data[(plane * h + y) * w + x]!;
    }
  }
  return out;
}

/**
 * webgpuKernels "fxc-f16"'s bound against torchvision (max |fxc-f16 - torch| / max |torch|, per
 * output) where fp32's is 1e-4: about 10 of f16's unit roundoffs (2^-11, 4.9e-4). Each product's
 * operands are rounded to f16, so every layer adds errors of a few roundoffs of its output's
 * scale, which later layers carry without growing them much. Measured on lavapipe
 * (test/e2e/webgpu-f16.test.ts prints them): 2.2e-4 to 1.0e-3 for resnet18_seeded and
 * mobilenet_v3_small_seeded, 5.9e-4 to 2.1e-3 for vit_tiny_pth (its attention output the largest).
 */
export const F16_FIXTURE_BOUND = 5e-3;

/** max |a - b| / max |b|: the project's measure of agreement with torchvision. */
export function relativeError(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Number.POSITIVE_INFINITY;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
  }
  if (Number.isNaN(maxDiff)) return Number.POSITIVE_INFINITY;
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Every engine runs every case: a kernel one engine gets wrong fails its own tests. */
export const ENGINES_UNDER_TEST: readonly EngineName[] = ["tfjs", "onnxruntime"];

/**
 * One test per case, layout and engine: output shapes equal torchvision's, values within the
 * case's tolerance. A train-mode case on onnxruntime checks the engine refuses it in one line
 * (train mode is tfjs-only). `only` picks cases by id (each must be there); with `backend`,
 * they run on that tfjs backend (nhwc, tfjs engine), which must be the one that ran.
 */
export function testFixtureCases(
  cases: readonly FixtureCase[],
  factories: Factories = {},
  options: { only?: readonly string[]; backend?: BackendName; webgpuKernels?: WebgpuKernelChoice } = {},
): void {
  const { only, backend, webgpuKernels } = options;
  for (const id of only ?? []) assert.ok(cases.some((c) => c.id === id), `no fixture case '${id}'`);
  for (const c of only === undefined ? cases : cases.filter((x) => only.includes(x.id))) {
    for (const [layout, engine] of (backend === undefined ? c.layouts : (["nhwc"] as const)).flatMap((l) => (backend === undefined ? ENGINES_UNDER_TEST : (["tfjs"] as const)).map((e) => [l, e] as const))) {
      const where = backend === undefined ? `${layout}, ${engine}` : `${layout}, ${backend}${webgpuKernels === undefined ? "" : `, ${webgpuKernels}'s kernels`}`;
      if (engine === "onnxruntime" && c.mode === "train") {
        test(`${c.id} [${where}] is refused in one line: train mode runs on tfjs only`, async () => {
          await assert.rejects(runCase(c, { layout, factories, engine }), (e: unknown) => e instanceof EngineError && /eval mode only/.test(e.message) && !e.message.includes("\n"));
        });
        continue;
      }
      test(`${c.id} [${where}] equals torchvision (${c.note})`, async (t) => {
        const result = await runCase(c, { layout, factories, backend, engine, ...(webgpuKernels === undefined ? {} : { webgpuKernels }) });
        if (backend !== undefined) assert.equal(result.backend, backend, "the backend asked for ran");
        if (webgpuKernels !== undefined) assert.equal(result.webgpuKernels, webgpuKernels, "the kernels asked for ran");
        assert.equal(result.engine, engine, "the engine asked for ran");
        assert.deepEqual(result.shapes, c.outputs, "output shapes in torch's order");
        for (const [key, error] of Object.entries(result.errors)) {
          assert.ok(error <= c.tolerance, `${key}: relative error ${error.toExponential(2)} > ${c.tolerance}`);
        }
        t.diagnostic(`max relative error ${Math.max(...Object.values(result.errors)).toExponential(2)}`);
      });
    }
  }
}
