import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { trace, TraceError } from "../../compiler/trace/tracer.js";
import { BATCH, type Dim } from "../../compiler/graph/value.js";
import type { Graph } from "../../compiler/graph/graph.js";
import { parameterCount } from "../../compiler/cli/commands/models.js";
import { getModel, getModelEntry, listModels } from "../../models/zoo/registry.js";
import type { Preset } from "../../models/zoo/entry.js";
import type { Module } from "../../models/nn/module.js";
import { relativePositionIndex } from "../../models/zoo/maxvit.js";
import { relativeCoordsTable } from "../../models/zoo/swin.js";
import { FIXTURES } from "../support/fixtures.js";

/**
 * Every zoo model against facts taken from torchvision 0.14.1 by test/fixtures/make_model_facts.py
 * (one spec per family group in test/fixtures/facts/): state_dict keys, shapes and dtypes in
 * torchvision's order (its checkpoints load unchanged), parameter counts, what the DEFAULT weights
 * document (num_params, min_size, preset), the input sizes each forward accepts, every node's shape
 * at odd sizes, builder options that change graphs or state dicts, and the index tables the
 * transformers compute.
 */

interface Facts {
  stateDict: [key: string, shape: number[], dtype: string][];
  parameters: number;
  /** Square sizes: the smallest each mode accepts, or the one size a fixed-size model takes. */
  minEval?: number;
  minTrain?: number;
  fixedSize?: number;
  shapes: { size: [number, number]; nodes: [string, number[]][] }[];
}
interface ModelFacts extends Facts {
  metaParams: number;
  minSize: number;
  preset: Preset;
}
interface VariantFacts extends Facts {
  model: string;
  ts: Record<string, unknown>;
  names: { train: string[]; eval: string[] };
}
interface TableFacts {
  table: "relativePositionIndex" | "relativeCoordsTable";
  args: [number, number];
  dtype: string;
  shape: number[];
  values: number[];
}
interface FactsFile {
  models: Record<string, ModelFacts>;
  variants: Record<string, VariantFacts>;
  tables?: TableFacts[];
}

const folder = join(FIXTURES, "facts");
const groups = readdirSync(folder)
  .filter((f) => f.endsWith(".json.gz"))
  .map((file) => ({ file, facts: JSON.parse(gunzipSync(readFileSync(join(folder, file))).toString("utf8")) as FactsFile }));
const allModels = groups.flatMap((g) => Object.entries(g.facts.models));
const allVariants = groups.flatMap((g) => Object.entries(g.facts.variants));

type Mode = "train" | "eval";

const traceAt = (model: Module, size: number | readonly [number, number], mode: Mode, batch: Dim = BATCH): Graph => {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  return trace(model.train(mode === "train"), { inputShape: [batch, 3, h, w] });
};

/** Asserts that the model traces and gives the graph, so that a test need not trace it again. */
function assertTraces(model: Module, size: number, mode: Mode, message: string): Graph {
  let graph: Graph | undefined;
  assert.doesNotThrow(() => {
    graph = traceAt(model, size, mode);
  }, message);
  return graph!;
}

/** The graphs a test has traced (batch BATCH), by mode and square size. */
type Traced = Map<`${Mode} ${number}`, Graph>;

function checkStateDict(model: Module, expected: Facts["stateDict"], what: string): void {
  const dtypes = new Map(model.namedBuffers().map(([k, b]) => [k, b.options.dtype ?? "float32"]));
  const ours = model.stateDictShapes().map(([k, s]) => [k, [...s], dtypes.get(k) ?? "float32"]);
  assert.deepEqual(ours, expected, `${what}: state_dict keys, shapes and dtypes in torchvision's order`);
}

/** A refused size is a one-line shape error that says why. */
function assertRefused(model: Module, size: number, mode: Mode, why: RegExp, what: string): void {
  assert.throws(
    () => traceAt(model, size, mode),
    (e: unknown) => {
      assert.ok(e instanceof TraceError && e.isShapeError, `${what} at ${size} px in ${mode} mode: a shape error, got ${String(e)}`);
      assert.doesNotMatch(e.message, /\n/, "one line");
      assert.match(e.message, why, "says why");
      return true;
    },
  );
}

/** The size just below the smallest accepted one fails with one line that says why; the smallest traces. */
function checkSmallestSize(model: Module, smallest: number, mode: Mode, what: string, traced: Traced): void {
  traced.set(`${mode} ${smallest}`, assertTraces(model, smallest, mode, `${what} traces in ${mode} mode at ${smallest} px`));
  if (smallest > 1) assertRefused(model, smallest - 1, mode, /smaller than the \d+x\d+ (convolution|pooling) window/, what);
}

/** A fixed-size model traces at its size in both modes and refuses one pixel less or more. */
function checkFixedSize(model: Module, size: number, what: string, traced: Traced): void {
  for (const mode of ["eval", "train"] as const) {
    traced.set(`${mode} ${size}`, assertTraces(model, size, mode, `${what} traces in ${mode} mode at ${size} px`));
    for (const wrong of [size - 1, size + 1]) assertRefused(model, wrong, mode, new RegExp(`Expected ${size} but got ${wrong}`), what);
  }
}

/** Every node's shape at each recorded size, as torchvision's forward gives it (batch 1). */
function checkShapes(model: Module, shapes: Facts["shapes"], what: string): void {
  assert.ok(shapes.length > 0, `${what}: node shapes are recorded`);
  for (const { size, nodes } of shapes) {
    const graph = traceAt(model, size, "eval", 1);
    const ours = new Map(graph.nodes.flatMap((n) => (n.qualname !== undefined && n.value.kind === "tensor" ? [[n.qualname, n.value.shape]] : [])));
    for (const [name, shape] of nodes) assert.deepEqual(ours.get(name), shape, `${what}: shape of ${name} at ${size.join("x")}`);
  }
}

/** Checks the accepted sizes and the node shapes; gives the graphs traced at the accepted sizes. */
function checkSizesAndShapes(model: Module, f: Facts, what: string): Traced {
  const traced: Traced = new Map();
  if (f.minEval !== undefined) checkSmallestSize(model, f.minEval, "eval", what, traced);
  if (f.minTrain !== undefined) checkSmallestSize(model, f.minTrain, "train", what, traced);
  if (f.fixedSize !== undefined) checkFixedSize(model, f.fixedSize, what, traced);
  checkShapes(model, f.shapes, what);
  return traced;
}

/**
 * Models whose weights document a minimum size above the smallest one their forward accepts:
 * EfficientNet V2's 33 pixels, Swin's training size (its forward pads any size from 4 pixels).
 */
const DOCUMENTED_ABOVE_SMALLEST = /^(efficientnet_v2_|swin_)/;

test("every zoo model has facts from torchvision, in one spec", () => {
  assert.deepEqual(allModels.map(([name]) => name).sort(), [...listModels()].sort());
  assert.equal(new Set(allModels.map(([name]) => name)).size, allModels.length);
});

for (const [name, f] of allModels) {
  test(`${name}: state_dict, parameter counts, weights' documentation, accepted sizes and node shapes equal torchvision's`, () => {
    const entry = getModelEntry(name);
    const model = entry.build();
    checkStateDict(model, f.stateDict, name);
    assert.equal(parameterCount(name), f.parameters, "fxc models lists the default builder's parameter count");
    // torchvision's meta["num_params"] counts the model as built for its DEFAULT weights (googlenet drops its auxiliary heads).
    const forWeights = allVariants.find(([, v]) => v.model === name && v.ts.weights === "DEFAULT")?.[1];
    assert.equal((forWeights === undefined ? model : getModel(name, forWeights.ts)).parameterCount(), f.metaParams, "meta num_params");
    assert.equal(entry.minSize, f.minSize, "the zoo's minSize is the weights' meta min_size");
    assert.deepEqual(entry.preset, f.preset, "the zoo's preset is the weights' transforms()");
    assert.equal(entry.inputSize, f.preset.cropSize, "the zoo traces at the weights' crop size");
    if (f.fixedSize !== undefined) assert.equal(entry.fixedSize, true, "the zoo marks a model that takes one size");
    if (f.minEval !== undefined) {
      assert.notEqual(entry.fixedSize, true, "a model that takes a range of sizes is not marked fixed");
      if (DOCUMENTED_ABOVE_SMALLEST.test(name)) {
        assert.ok(f.minEval < entry.minSize, `the documented minimum ${entry.minSize} is above the smallest size ${f.minEval}`);
        assert.doesNotThrow(() => traceAt(model, entry.minSize, "eval"), `${name} traces at its documented minimum`);
      } else {
        // checkSmallestSize traces eval mode at this size.
        assert.equal(entry.minSize, f.minEval, "the zoo's minSize (torchvision's weights meta) is the smallest size the forward accepts");
      }
    }
    checkSizesAndShapes(model, f, name);
  });
}

for (const [id, v] of allVariants) {
  test(`${id}: ${v.model}(${JSON.stringify(v.ts)}) has torchvision's graphs, state_dict, sizes and shapes`, () => {
    const model = getModel(v.model, v.ts);
    checkStateDict(model, v.stateDict, id);
    assert.equal(model.parameterCount(), v.parameters);
    const traced = checkSizesAndShapes(model, v, id);
    // get_graph_node_names at a size both modes take, from the graphs traced above where they are at that size.
    const size = v.fixedSize ?? Math.max(v.minTrain!, v.minEval!);
    const graph = (mode: Mode): Graph => traced.get(`${mode} ${size}`) ?? traceAt(model, size, mode);
    assert.deepEqual({ train: graph("train").qualnames(), eval: graph("eval").qualnames() }, v.names);
  });
}

const TABLES: Record<TableFacts["table"], (height: number, width: number) => Float32Array> = { relativePositionIndex, relativeCoordsTable };

test("computed buffers (Swin's and MaxViT's relative position index, Swin v2's coordinates) equal torchvision's", () => {
  const tables = groups.flatMap((g) => g.facts.tables ?? []);
  assert.ok(tables.length >= 5);
  for (const t of tables) {
    const ours = TABLES[t.table](...t.args);
    const what = `${t.table}(${t.args.join(", ")})`;
    assert.equal(ours.length, t.values.length, what);
    assert.equal(ours.length, t.shape.reduce((a, b) => a * b, 1), what);
    const worst = Math.max(...t.values.map((v, i) => Math.abs(v - ours[i]!)));
    // Integer tables are exact; the float table is float32 arithmetic in either language.
    assert.ok(t.dtype === "int64" ? worst === 0 : worst <= 1e-6, `${what}: off by ${worst}`);
  }
});
