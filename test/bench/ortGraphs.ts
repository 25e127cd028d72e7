/**
 * fxc's ONNX graph against other ONNX graphs of the same extractor, on the same ONNX Runtime with
 * the session options the onnxruntime engine uses: node counts by op type before and after ORT's
 * optimizations, img/s (median of the timed runs after a warm-up at the full batch, the graphs in
 * turn), and with --profile the time ORT spends per op type. Each --export is one more graph,
 * labelled by its file name: torch.onnx.export of torchvision's create_feature_extractor
 * (test/bench/ortExport.py writes it and the weights file both sides load), or resnet50 with its
 * 3x3 convolutions as Winograd products (test/bench/winogradExport.py).
 *
 *   /usr/bin/python3 test/bench/ortExport.py vit_b_16 encoder.ln vit_b_16.pth vit.onnx
 *   node --conditions=fxc-source --import tsx test/bench/ortGraphs.ts \
 *     --model vit_b_16 --return encoder.ln --weights vit_b_16.pth|seeded [--export vit.onnx ...] \
 *     [--batch 8] [--size 224] [--runs 3] [--threads 0] [--profile] [--out DIR]
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type * as Ort from "onnxruntime-node";
import { compile } from "../../compiler/api.js";
import { cacheCompiled } from "../../compiler/cli/cache.js";
import { buildGraph, onnxRuntime } from "../../runtime/onnx/engine.js";
import type { ExtractorModule } from "../../runtime/extractor.js";
import { prepareParams } from "../../runtime/params.js";
import { openWeights } from "../../runtime/weights/open.js";
import { withRenamedKeys } from "../../runtime/weights/rename.js";
import { opCounts } from "../support/onnxModel.js";
import { seededInput, seededWeights } from "../support/seeded.js";
import { getModel } from "../../models/zoo/registry.js";

const { values: args } = parseArgs({
  options: {
    model: { type: "string" },
    return: { type: "string" },
    weights: { type: "string" },
    export: { type: "string", multiple: true },
    batch: { type: "string", default: "8" },
    size: { type: "string", default: "224" },
    runs: { type: "string", default: "3" },
    threads: { type: "string", default: "0" },
    profile: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
if (args.model === undefined || args.return === undefined || args.weights === undefined) {
  throw new Error("usage: ortGraphs.ts --model NAME --return NODE[,NODE] --weights FILE [--export OTHER.onnx ...] [--batch 8] [--runs 3] [--profile]");
}
const batch = Number(args.batch);
const size = Number(args.size);
const runs = Number(args.runs);
const out = args.out ?? mkdtempSync(join(tmpdir(), "fxc-ortgraphs-"));
mkdirSync(out, { recursive: true });

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Measured {
  readonly label: string;
  readonly before: Map<string, number>;
  readonly after: Map<string, number>;
  readonly imagesPerSecond: number;
  readonly seconds: readonly number[];
  /** InferenceSession.create: parsing, optimizing (constant folding included) and prepacking. */
  readonly createSeconds: number;
  readonly profile?: Map<string, number>;
}

/** Per op type, the milliseconds ORT's profile attributes to node events (the warm-up and the timed runs). */
function profileByOp(file: string): Map<string, number> {
  const events = JSON.parse(readFileSync(file, "utf8")) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || e.args?.op_name === undefined) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur / 1000);
  }
  return byOp;
}

interface Contender {
  readonly label: string;
  readonly model: Uint8Array;
  readonly inputName: string;
  readonly shape: readonly number[];
}

/**
 * Both graphs in sessions made as runtime/onnx/engine.ts makes its own, each warmed up at the
 * full batch, then timed in turn (one run of each per round), so that a machine whose load
 * changes slows both alike and the ratio stays meaningful.
 */
async function measureAll(ort: typeof Ort, contenders: readonly Contender[]): Promise<Measured[]> {
  const threads = Number(args.threads);
  const sessions = [];
  for (const c of contenders) {
    const optimized = join(out, `${c.label}.optimized.onnx`);
    const created = performance.now();
    const session = await ort.InferenceSession.create(c.model, {
      graphOptimizationLevel: "all",
      executionProviders: ["cpu"],
      optimizedModelFilePath: optimized,
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      ...(args.profile ? { enableProfiling: true, profileFilePrefix: join(out, c.label) } : {}),
    });
    const feeds = { [c.inputName]: new ort.Tensor("float32", seededInput(c.shape, 1), [...c.shape]) };
    const createSeconds = (performance.now() - created) / 1000;
    await session.run(feeds); // warm-up at the full batch
    sessions.push({ c, session, feeds, optimized, createSeconds, seconds: [] as number[] });
  }
  for (let i = 0; i < runs; i++) {
    for (const s of sessions) {
      const start = performance.now();
      await s.session.run(s.feeds);
      s.seconds.push((performance.now() - start) / 1000);
    }
  }
  const results: Measured[] = [];
  for (const s of sessions) {
    let profile: Map<string, number> | undefined;
    if (args.profile) {
      s.session.endProfiling();
      const file = readdirSync(out).filter((f) => f.startsWith(`${s.c.label}_`) && f.endsWith(".json")).sort().at(-1)!;
      profile = profileByOp(join(out, file));
    }
    await s.session.release();
    results.push({ label: s.c.label, before: opCounts(s.c.model), after: opCounts(readFileSync(s.optimized)), imagesPerSecond: s.c.shape[0]! / median(s.seconds), seconds: s.seconds, createSeconds: s.createSeconds, profile });
  }
  return results;
}

function table(results: readonly Measured[], pick: (m: Measured) => Map<string, number> | undefined, digits = 0): void {
  const ops = [...new Set(results.flatMap((m) => [...(pick(m)?.keys() ?? [])]))].sort();
  console.log(["op".padEnd(34), ...results.map((m) => m.label.padStart(16))].join(""));
  for (const op of ops) console.log([op.padEnd(34), ...results.map((m) => (pick(m)?.get(op)?.toFixed(digits) ?? "-").padStart(16))].join(""));
  console.log(["total".padEnd(34), ...results.map((m) => [...(pick(m)?.values() ?? [])].reduce((a, b) => a + b, 0).toFixed(digits).padStart(16))].join(""));
}

const ort = await onnxRuntime();
const returnNodes = args.return.split(",");
// The module keeps its program private to load(); this copy exports it, for the graph alone.
const source = `${await compile(args.model, { returnNodes, size })}\nexport const program = { checkpoint, parameters, inputShape, forward };\n`;
const module = ((await import(await cacheCompiled(source))) as { program: ExtractorModule<unknown> }).program;
// "seeded": fxc's seeded weights (no file, no torch), for the graph's shape alone.
const file = args.weights === "seeded" ? seededWeights(getModel(args.model), 1) : await openWeights(args.weights);
const host = await prepareParams(withRenamedKeys(file, module.keyRenames ?? []), module.checkpoint, module.parameters);
await file.close();
// A benchmark of one image input: a module of several inputs (a list of shapes) is not one. Its
// batch is free, and its height and width where it takes any size.
const inputShape = ((module.inputShape ?? [null, size, size, 3]) as readonly (number | null)[]).map((d, i) => d ?? (i === 0 ? batch : size));
const { graph, input, tensors } = buildGraph(module.forward as never, host, inputShape);
const fxcModel = graph.serialize([input], tensors, "ortGraphs");
writeFileSync(join(out, "fxc.onnx"), fxcModel);

const contenders: Contender[] = [{ label: "fxc", model: fxcModel, inputName: input.name, shape: inputShape }];
// Each --export is labelled by its file name: ortExport.py's (torch's own export) or another rewrite of the same extractor (winogradExport.py).
for (const file of args.export ?? []) contenders.push({ label: basename(file, ".onnx"), model: readFileSync(file), inputName: "input", shape: [batch, 3, size, size] });
const results = await measureAll(ort, contenders);

console.log(`\n${args.model} -> ${returnNodes.join(",")}, batch ${batch}, ${size}x${size}; graphs and optimized graphs in ${out}`);
console.log("\nnodes by op type, as built:");
table(results, (m) => m.before);
console.log("\nnodes by op type, after ORT's optimizations (level all):");
table(results, (m) => m.after);
if (args.profile) {
  console.log("\nms per op type over the warm-up and timed runs (ORT profile):");
  table(results, (m) => m.profile, 1);
}
console.log(`\nimg/s (median of ${runs} timed runs after a warm-up at the full batch, the graphs in turn; threads ${Number(args.threads) || "ORT default"}):`);
for (const m of results) console.log(`${m.label.padEnd(14)} ${m.imagesPerSecond.toFixed(2)} img/s  runs ${m.seconds.map((s) => s.toFixed(2)).join(" ")} s  session created in ${m.createSeconds.toFixed(2)} s`);
for (const other of results.slice(1)) console.log(`fxc / ${other.label}: ${(results[0]!.imagesPerSecond / other.imagesPerSecond).toFixed(2)}x`);
