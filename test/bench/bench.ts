/**
 * `npm run bench`: fxc against torchvision as a user runs it, in one run, on the same tasks.
 *
 * torchvision: /usr/bin/python3's torch, on the BLAS it loads (printed; no ratio against the
 * reference BLAS), at `torch.set_num_threads(os.cpu_count())` and at one thread; "at its best
 * thread count" is the faster of the two, and every ratio is against it. fxc: each engine
 * (engines.ts) in a process of its own, its default engine first. Both sides load the same
 * checkpoint from a file, warm up with one run at the full batch (the first call, whose latency
 * is printed), then time `--runs` / `--torch-runs` runs; figures are medians. Peak RSS is each
 * process's own.
 *
 * Tasks (`--tasks`, comma-separated; all by default):
 *   gemm              what the machine's fp32 matrix products reach (gemm.ts): ONNX Runtime's MatMul
 *                     and torch.mm on ViT-B/16's MLP products, GFLOP/s; the model tasks print theirs
 *                     beside images/s (the work per image from torch's profiler), and a speed target
 *                     that is not met says what it needs against the fastest rate the run measured
 *   resnet50          resnet50 layer1..layer4, batch 8, 224x224
 *   resnet50-layer1   resnet50 layer1 only (the pruning ratio: its time over layer1..layer4's)
 *   vit_b_16          vit_b_16's encoder output (`encoder`, which is node encoder.ln), batch 8
 *   folder            `--photos` 4032x3024 JPEGs (made at bench time in a temporary folder)
 *                     through resnet50's preset to average-pooled layer4 descriptors, end to end:
 *                     `fxc extract` against a torchvision loop (PIL, the preset, batch 8, all threads)
 *   maskrcnn          maskrcnn_resnet50_fpn (createDetector) on one seeded 800x1216 image, eval, batch 1,
 *                     random weights with detections (torchvision_bench.py `detector-weights`) on both
 *                     sides; rows: the default engine, onnxruntime, tensorflow (wasm and cpu when named:
 *                     minutes per image single-threaded)
 *   preprocess        decoding (sharp) and preprocessing (Pillow's resize in WebAssembly SIMD) one such JPEG, `--images` times, 1 and 4 in flight
 * Then issue #10's targets, one line each.
 *
 * Options: --backends default,onnxruntime,tensorflow,wasm,wasm-workers,cpu (engine rows; cpu only
 *          when named: minutes per batch)   --runs N (fxc, default 3)   --torch-runs N (default 3;
 *          0 skips torch)   --models resnet50,vit_b_16   --tasks ...   --photos N (default 64)
 *          --extract-workers N (fxc extract --workers in the folder task; default 1)
 *          --images N (preprocessing, default 8; 0 skips it)
 */
import { availableParallelism, tmpdir } from "node:os";
import { link, mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compile } from "../../compiler/api.js";
import { cacheCompiled } from "../../compiler/cli/cache.js";
import { getModel } from "../../models/zoo/registry.js";
import { writeSafetensors } from "../../runtime/weights/safetensors.js";
import { cropForPreset, preprocess } from "../../runtime/images/preprocess.js";
import { decodeImage } from "../../runtime/images/decode.js";
import { resolvePreprocessing } from "../../compiler/tasks/loader.js";
import { seededWeights } from "../support/seeded.js";
import { classifyBlas, INSTALL_OPENBLAS, ratioRefusal, type Blas } from "./blas.js";
import { ENGINES, measureDetector, measureEngine, type EngineResult, type EngineRow } from "./engines.js";
import { buildCli, extractArguments, FOLDER_BATCH, fxcFolder, type FxcFolderRun } from "./folder.js";
import { photoLikeJpeg, writePhotos, PHOTO_HEIGHT, PHOTO_WIDTH } from "./photos.js";
import { fastest, judgeTargets, median, speedup, targetLine, type Timing } from "./targets.js";
import { GEMM_SHAPE, gemmFlops, gflopsPerSecond, measureOrtGemm, measurePeaks } from "./gemm.js";
import { measureTorch, measureTorchDetect, measureTorchGemm, OPENBLAS_OVERRIDES, torchBlas, torchConfigs, torchDetectorWeights, torchFolder, torchWeights, type TorchConfig, type TorchFolderRun, type TorchResult } from "./torch.js";
import { maskrcnn_resnet50_fpn } from "../../models/index.js";

interface ModelTask {
  readonly id: string;
  readonly model: string;
  readonly returnNodes: readonly string[];
  readonly batch: number;
  readonly size: number;
  readonly label: string;
}

const MODEL_TASKS: readonly ModelTask[] = [
  { id: "resnet50", model: "resnet50", returnNodes: ["layer1", "layer2", "layer3", "layer4"], batch: 8, size: 224, label: "resnet50 layer1..layer4" },
  { id: "resnet50-layer1", model: "resnet50", returnNodes: ["layer1"], batch: 8, size: 224, label: "resnet50 layer1 only" },
  { id: "vit_b_16", model: "vit_b_16", returnNodes: ["encoder"], batch: 8, size: 224, label: "vit_b_16 encoder output (encoder.ln)" },
];
const TASKS = ["gemm", ...MODEL_TASKS.map((t) => t.id), "maskrcnn", "folder", "preprocess"];

/** The detection task: issue #13's maskrcnn_resnet50_fpn at 800x1216 (torchvision keeps that size: min 800, max 1333). */
const DETECTION_TASK = { id: "maskrcnn", model: "maskrcnn_resnet50_fpn", height: 800, width: 1216 } as const;

class BenchUsageError extends Error {}

interface Settings {
  readonly engines: readonly EngineRow[];
  /** The engine rows `--backends` names, if given. */
  readonly namedEngines?: readonly string[];
  readonly runs: number;
  readonly torchRuns: number;
  readonly tasks: readonly string[];
  readonly models?: readonly string[];
  readonly photos: number;
  readonly extractWorkers: number;
  readonly images: number;
}

function wholeNumber(value: string, flag: string, least: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < least) throw new BenchUsageError(`bad ${flag} ${value}; give a whole number of at least ${least}`);
  return n;
}

function list(value: string | undefined, flag: string, known: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").filter(Boolean);
  const unknown = items.filter((i) => !known.includes(i));
  if (unknown.length > 0) throw new BenchUsageError(`unknown ${flag} ${unknown.join(", ")}; use ${known.join(", ")}`);
  return items;
}

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      backends: { type: "string" },
      runs: { type: "string", default: "3" },
      "torch-runs": { type: "string", default: "3" },
      models: { type: "string" },
      tasks: { type: "string" },
      photos: { type: "string", default: "64" },
      "extract-workers": { type: "string", default: "1" },
      images: { type: "string", default: "8" },
    },
  });
  const engineIds = list(values.backends, "--backends", ENGINES.map((e) => e.id));
  return {
    // The default engine is always measured: the targets judge it.
    engines: ENGINES.filter((e) => e.id === "default" || (engineIds === undefined ? e.byDefault : engineIds.includes(e.id))),
    namedEngines: engineIds,
    runs: wholeNumber(values.runs, "--runs", 1),
    torchRuns: wholeNumber(values["torch-runs"], "--torch-runs", 0),
    tasks: list(values.tasks, "--tasks", TASKS) ?? TASKS,
    models: list(values.models, "--models", [...new Set(MODEL_TASKS.map((t) => t.model))]),
    photos: wholeNumber(values.photos, "--photos", 1),
    extractWorkers: wholeNumber(values["extract-workers"], "--extract-workers", 1),
    images: wholeNumber(values.images, "--images", 0),
  };
}

/** Columns padded to their widest cell; from `firstNumber` on, right-aligned. */
function printTable(table: readonly (readonly string[])[], firstNumber: number): void {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) console.log(r.map((c, i) => (i >= firstNumber ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  "));
}

/** torch as found: its BLAS, or why it is not measured. */
type TorchState = { readonly blas: Blas; readonly refusal?: string } | { readonly missing: string };

/** Everything measured, for the targets. */
interface Measured {
  defaultEngine?: string;
  readonly tasks: Record<string, { fxc?: Timing; torch?: Timing; flopsPerRun?: number }>;
  fewestRuns: number;
  /** The fastest fp32 rate measured so far, and what ran at it. */
  fastest?: { gflops: number; what: string };
  /** The machine's fp32 peak at all cores (peak.c), where it could be measured. */
  peak?: number;
  readonly firstCallMissing: string[];
}

/** `3.40x` against torch's best; the refusal's short form when there may be none. */
function versus(subject: Timing, best: Timing | undefined, torch: TorchState): string {
  if ("missing" in torch) return "n/a";
  if (torch.refusal !== undefined) return "refused (reference BLAS)";
  return best === undefined ? "n/a" : `${speedup(subject, best).toFixed(2)}x`;
}

class Bench {
  private readonly weights = new Map<string, Promise<string>>();

  constructor(
    private readonly s: Settings,
    private readonly torch: TorchState,
    private readonly dir: string,
    private readonly measured: Measured,
  ) {}

  /** One checkpoint file per model, both sides load it: torch's own .pth, or fxc's seeded weights without torch. */
  private weightsFile(model: string): Promise<string> {
    let file = this.weights.get(model);
    if (file === undefined) {
      file = (async () => {
        if (!("missing" in this.torch)) {
          const out = join(this.dir, `${model}.pth`);
          await torchWeights(model, out);
          return out;
        }
        const out = join(this.dir, `${model}.safetensors`);
        const seeded = seededWeights(getModel(model), 1);
        await writeSafetensors(out, await Promise.all(seeded.keys().map(async (key) => ({ key, shape: [...seeded.info(key)!.shape], data: await seeded.readFloat32(key) }))));
        return out;
      })();
      this.weights.set(model, file);
    }
    return file;
  }

  /** torch at each of its configurations (torchConfigs): a row each, or one saying why there is none; and the fastest. */
  private async torchRows<R extends TorchResult>(measure: (config: TorchConfig) => Promise<R | string>): Promise<{ rows: { label: string; result: R | string; runs: number }[]; best: { label: string; timing: R } | undefined }> {
    if ("missing" in this.torch) return { rows: [{ label: "torchvision", result: this.torch.missing, runs: 0 }], best: undefined };
    if (this.s.torchRuns === 0) return { rows: [{ label: "torchvision", result: "skipped (--torch-runs 0)", runs: 0 }], best: undefined };
    const rows: { label: string; result: R | string; runs: number }[] = [];
    const results: { label: string; timing: R }[] = [];
    for (const config of torchConfigs(availableParallelism())) {
      const result = await measure(config);
      // Where the environment's OpenBLAS overrides are unset, say which kernels OpenBLAS picked then.
      const core = typeof result !== "string" && config.env !== process.env ? result.blas.openblas.core : undefined;
      const label = core === undefined ? config.label : `${config.label} (OpenBLAS core ${core})`;
      if (typeof result !== "string") results.push({ label, timing: result });
      rows.push({ label, result, runs: this.s.torchRuns });
    }
    return { rows, best: fastest(results) };
  }

  /**
   * One table row per measured side (label, the task's own `columns` from its median seconds, runs,
   * first call, peak RSS, ratio against torch's best), and a line for each side that was not measured.
   */
  private printRows<R extends EngineResult | TorchResult>(
    rows: readonly { label: string; result: R | string; runs: number }[],
    best: Timing | undefined,
    headers: readonly string[],
    columns: (medianSeconds: number, result: R) => string[],
  ): void {
    const table: string[][] = [["engine", ...headers.slice(0, 2), "runs", "first call s", "max RSS MB", ...headers.slice(2), "vs torchvision best"]];
    const notes: string[] = [];
    for (const { label, result, runs } of rows) {
      if (typeof result === "string") {
        notes.push(`  ${label}: ${result}`);
        continue;
      }
      const [rate, seconds, ...extra] = columns(median(result.seconds), result);
      const ratio = versus(result, best, this.torch) + (best === result ? " (best)" : "");
      table.push([label, rate!, seconds!, String(runs), result.firstCallSeconds.toFixed(1), result.maxRssMB.toFixed(0), ...extra, ratio]);
    }
    printTable(table, 1);
    if (notes.length > 0) console.log(`not measured:\n${notes.join("\n")}`);
  }

  /** Measures every engine and torch config on the task, prints its table; returns fxc's results by engine id. */
  async modelTask(task: ModelTask): Promise<Map<string, { label: string; result: EngineResult }>> {
    console.log(`\n${task.label}, batch ${task.batch}, ${task.size}x${task.size}: warm-up at the full batch, then medians of the timed runs`);
    const weights = await this.weightsFile(task.model);
    const moduleUrl = await cacheCompiled(await compile(task.model, { returnNodes: [...task.returnNodes], size: task.size }));
    const rows: { label: string; result: EngineResult | TorchResult | string; runs: number }[] = [];
    const engines = new Map<string, { label: string; result: EngineResult }>();
    let resolvedDefault: string | undefined;
    for (const engine of this.s.engines) {
      if (engine.workers === undefined && engine.id === resolvedDefault) continue; // measured as the default row
      const why = await engine.unavailable();
      if (why !== undefined) {
        rows.push({ label: engine.label, result: why, runs: 0 });
        continue;
      }
      const result = await measureEngine({ moduleUrl, weights, options: engine.options, workers: engine.workers, batch: task.batch, size: task.size, runs: this.s.runs });
      const label = engine.id === "default" && typeof result !== "string" ? `${engine.label} (${result.resolved})` : engine.label;
      if (typeof result === "string") this.measured.firstCallMissing.push(`${engine.label} on ${task.label}`);
      else {
        if (engine.id === "default") resolvedDefault = this.measured.defaultEngine = result.resolved;
        engines.set(engine.id, { label, result });
      }
      rows.push({ label, result, runs: this.s.runs });
    }
    const torch = await this.torchRows((config) => measureTorch({ ...task, weights, runs: this.s.torchRuns }, config));
    rows.push(...torch.rows);
    const best = torch.best;
    // The work of a batch, as torch's profiler counted it: each row's rate in GFLOP/s beside its images/s.
    const flopsPerRun = best === undefined ? undefined : best.timing.flopsPerImage * task.batch;
    const gflops = (seconds: number): string => (flopsPerRun === undefined ? "n/a" : (flopsPerRun / seconds / 1e9).toFixed(0));
    if (flopsPerRun !== undefined) {
      for (const { label, result } of rows) if (typeof result !== "string") this.sawRate(gflopsPerSecond(flopsPerRun, result), `${label}, ${task.label}`);
    }
    this.printRows(rows, best?.timing, ["images/s", "s/run", "GFLOP/s"], (seconds) => [(task.batch / seconds).toFixed(2), seconds.toFixed(3), gflops(seconds)]);
    if (flopsPerRun !== undefined) console.log(`work: ${(flopsPerRun / task.batch / 1e9).toFixed(2)} GFLOP per image (torch's profiler: convolutions and matrix products, 2 per multiply-add)`);
    const defaultResult = engines.get("default")?.result;
    this.measured.tasks[task.id] = { fxc: defaultResult, torch: best?.timing, ...(flopsPerRun === undefined ? {} : { flopsPerRun }) };
    if (defaultResult !== undefined) this.measured.fewestRuns = Math.min(this.measured.fewestRuns, this.s.runs);
    if (best !== undefined) this.measured.fewestRuns = Math.min(this.measured.fewestRuns, this.s.torchRuns);
    return engines;
  }

  /**
   * What the machine's fp32 matrix products reach (gemm.ts): ONNX Runtime's MatMul and torch.mm at
   * each of torch's thread counts, GFLOP/s from medians; with the model rows' rates, the fastest
   * is what the speed targets are set beside.
   */
  async gemmTask(): Promise<void> {
    const { m, k, n } = GEMM_SHAPE;
    const runs = Math.max(this.s.runs, 5);
    console.log(`
fp32 matrix products [${m}, ${k}] x [${k}, ${n}] x [${n}, ${k}] (ViT-B/16's MLP at batch 8), what the machine reaches: ${runs} timed runs after one, medians`);
    const flops = gemmFlops(GEMM_SHAPE);
    const table: string[][] = [["matrix products", "GFLOP/s", "s/run"]];
    const row = (label: string, timing: Timing | string): void => {
      if (typeof timing === "string") {
        table.push([label, timing, ""]);
        return;
      }
      const rate = gflopsPerSecond(flops, timing);
      this.sawRate(rate, label);
      table.push([label, rate.toFixed(0), median(timing.seconds).toFixed(4)]);
    };
    row("ONNX Runtime, two MatMul (CPU EP, one thread per core)", await measureOrtGemm({ ...GEMM_SHAPE, runs }));
    if (!("missing" in this.torch) && this.s.torchRuns > 0) {
      for (const config of torchConfigs(availableParallelism())) row(`torch.mm, ${config.label.replace("torchvision, ", "")}`, await measureTorchGemm({ ...GEMM_SHAPE, runs }, config));
    }
    printTable(table, 1);
    // The ceiling no kernel reaches: fused multiply-adds alone, at one thread and at every core.
    const peaks = await measurePeaks([1, availableParallelism()], 3);
    for (const [threads, peak] of peaks) console.log(`fp32 peak, ${threads} thread${threads === 1 ? "" : "s"} (test/bench/peak.c, fused multiply-adds only, median of 3): ${typeof peak === "number" ? `${peak.toFixed(0)} GFLOP/s` : peak}`);
    const all = peaks.at(-1)![1];
    if (typeof all === "number") this.measured.peak = all;
  }

  /** Keeps the fastest fp32 rate seen in this run (the speed targets are set beside it). */
  private sawRate(gflops: number, what: string): void {
    if (this.measured.fastest === undefined || gflops > this.measured.fastest.gflops) this.measured.fastest = { gflops, what };
  }

  /** maskrcnn_resnet50_fpn on one 800x1216 image: each engine's detector and torchvision's model, the same weights and image. */
  async detectionTask(namedEngines: readonly string[] | undefined): Promise<void> {
    const task = DETECTION_TASK;
    console.log(`\n${task.model}, 1 image ${task.height}x${task.width}, eval (transform, backbone+FPN, RPN, RoI heads, masks pasted): warm-up, then medians of the timed runs`);
    let weights: string;
    if (!("missing" in this.torch)) {
      weights = join(this.dir, `${task.model}.pth`);
      await torchDetectorWeights(task.model, weights);
    } else {
      weights = join(this.dir, `${task.model}.safetensors`);
      const seeded = seededWeights(maskrcnn_resnet50_fpn({ onWarning: () => {} }), 1);
      await writeSafetensors(weights, await Promise.all(seeded.keys().map(async (key) => ({ key, shape: [...seeded.info(key)!.shape], data: await seeded.readFloat32(key) }))));
    }
    const rows: { label: string; result: (EngineResult & { detections: number }) | (TorchResult & { detections: number }) | string; runs: number }[] = [];
    let resolvedDefault: string | undefined;
    // Pools are for batches of images; single-threaded wasm and cpu take minutes per image, so only when named.
    const engines = this.s.engines.filter((e) => e.workers === undefined && (e.id === "default" || !["wasm", "cpu"].includes(e.id) || namedEngines?.includes(e.id)));
    for (const engine of engines) {
      if (engine.id === resolvedDefault) continue;
      const why = await engine.unavailable();
      if (why !== undefined) {
        rows.push({ label: engine.label, result: why, runs: 0 });
        continue;
      }
      const result = await measureDetector({ model: task.model, weights, options: engine.options, height: task.height, width: task.width, runs: this.s.runs });
      const label = engine.id === "default" && typeof result !== "string" ? `${engine.label} (${result.resolved})` : engine.label;
      if (engine.id === "default" && typeof result !== "string") resolvedDefault = result.resolved;
      rows.push({ label, result, runs: this.s.runs });
    }
    const torch = await this.torchRows((config) => measureTorchDetect({ ...task, weights, runs: this.s.torchRuns }, config));
    rows.push(...torch.rows);
    const best = torch.best;
    this.printRows(rows, best?.timing, ["images/s", "s/image", "detections"], (seconds, result) => [(1 / seconds).toFixed(2), seconds.toFixed(2), String(result.detections)]);
  }

  async folderTask(): Promise<void> {
    const count = this.s.photos;
    const photos = join(this.dir, "photos");
    const warmUp = join(this.dir, "warm-up");
    await mkdir(photos);
    await mkdir(warmUp);
    console.log(`\n${count} photo-like ${PHOTO_WIDTH}x${PHOTO_HEIGHT} JPEGs -> resnet50 preset -> layer4, average-pooled; end to end (process start to exit)`);
    const written = await writePhotos(photos, count);
    await link(written[0]!, join(warmUp, "photo.jpg"));
    const weights = await this.weightsFile("resnet50");
    const threads = availableParallelism();
    const hasTorch = !("missing" in this.torch) && this.s.torchRuns > 0;
    console.log("building dist/ (npm run build): the folder task runs the CLI as installed");
    const buildFailure = await buildCli();
    // Warm-up on one photo: fxc's compile cache, the page cache of both sides' libraries.
    const fxcWarm = buildFailure !== undefined ? buildFailure : await fxcFolder(warmUp, weights, this.s.extractWorkers, join(this.dir, "warm.safetensors"), this.dir);
    if (hasTorch) await torchFolder(warmUp, weights, FOLDER_BATCH, threads, join(this.dir, "warm.pt"));
    const fxcRuns: FxcFolderRun[] = [];
    const torchRuns: TorchFolderRun[] = [];
    let fxcFailure = typeof fxcWarm === "string" ? fxcWarm : undefined;
    let torchFailure = "missing" in this.torch ? this.torch.missing : this.s.torchRuns === 0 ? "skipped (--torch-runs 0)" : undefined;
    // Alternated, so that a busy spell on the machine falls on both sides alike.
    for (let i = 0; i < Math.max(this.s.runs, hasTorch ? this.s.torchRuns : 0); i++) {
      if (fxcFailure === undefined && i < this.s.runs) {
        const run = await fxcFolder(photos, weights, this.s.extractWorkers, join(this.dir, "features.safetensors"), this.dir);
        if (typeof run === "string") fxcFailure = run;
        else fxcRuns.push(run);
      }
      if (hasTorch && torchFailure === undefined && i < this.s.torchRuns) {
        const run = await torchFolder(photos, weights, FOLDER_BATCH, threads, join(this.dir, "features.pt"));
        if (typeof run === "string") torchFailure = run;
        else torchRuns.push(run);
      }
    }
    const timing = (runs: readonly (FxcFolderRun | TorchFolderRun)[]): Timing | undefined =>
      runs.length === 0 ? undefined : { seconds: runs.map((r) => r.wallSeconds), maxRssMB: Math.max(...runs.map((r) => r.maxRssMB)) };
    const fxc = timing(fxcRuns);
    const torch = timing(torchRuns);
    const engine = fxcRuns[0]?.engine ?? "?";
    // Loading: from the process's start to its first image (starting the runtime, importing, the model, its weights).
    const table: string[][] = [["side", "images/s", "s total", "s loading", "runs", "max RSS MB", "vs torchvision"]];
    const fxcLabel = `fxc ${extractArguments("W", this.s.extractWorkers).join(" ")} (engine ${engine})`;
    const notes: string[] = [];
    if (fxc === undefined) notes.push(`  ${fxcLabel}: ${fxcFailure ?? "not measured"}`);
    else {
      const loading = median(fxcRuns.map((r) => r.wallSeconds - r.imagesSeconds));
      table.push([fxcLabel, (count / median(fxc.seconds)).toFixed(2), median(fxc.seconds).toFixed(1), Number.isNaN(loading) ? "?" : loading.toFixed(1), String(fxcRuns.length), fxc.maxRssMB.toFixed(0), versus(fxc, torch, this.torch)]);
    }
    const torchLabel = `torchvision loop: PIL, ResNet50_Weights.DEFAULT.transforms(), batch ${FOLDER_BATCH}, set_num_threads(${threads})`;
    if (torch === undefined) notes.push(`  ${torchLabel}: ${torchFailure ?? "not measured"}`);
    else {
      const loading = median(torchRuns.map((r) => r.wallSeconds - r.imagesSeconds));
      table.push([torchLabel, (count / median(torch.seconds)).toFixed(2), median(torch.seconds).toFixed(1), loading.toFixed(1), String(torchRuns.length), torch.maxRssMB.toFixed(0), versus(torch, torch, this.torch)]);
    }
    printTable(table, 1);
    if (notes.length > 0) console.log(`not measured:\n${notes.join("\n")}`);
    this.measured.tasks["folder"] = { fxc, torch };
    if (fxc !== undefined) this.measured.fewestRuns = Math.min(this.measured.fewestRuns, fxcRuns.length);
    if (torch !== undefined) this.measured.fewestRuns = Math.min(this.measured.fewestRuns, torchRuns.length);
  }
}

/** Decode + preprocess `count` copies of `jpeg`, `inFlight` at a time: images/s. */
async function measurePreprocess(jpeg: Uint8Array, model: string, count: number, inFlight: number): Promise<number> {
  const preset = resolvePreprocessing(model);
  await preprocess(jpeg, preset); // warm-up
  const start = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await preprocess(jpeg, preset);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return count / ((performance.now() - start) / 1000);
}

/** The median time of `count` runs of `step` after one warm-up, in milliseconds. */
async function medianMilliseconds(count: number, step: () => Promise<unknown>): Promise<number> {
  await step();
  const seconds: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await step();
    seconds.push((performance.now() - start) / 1000);
  }
  return median(seconds) * 1000;
}

/** The presets the preprocessing task runs: the zoo model whose preset it is, and what it does. */
const PREPROCESS_PRESETS = [
  ["resnet50", "resnet50 preset (bilinear 232/224)"],
  ["swin_t", "swin_t preset (bicubic 232/224)"],
] as const;

async function benchPreprocessing(count: number): Promise<void> {
  console.log(`\npreprocessing in this process (decoded by sharp, resized as Pillow does, in WebAssembly SIMD), ${count} image${count === 1 ? "" : "s"} per row`);
  const jpeg = await photoLikeJpeg();
  const table: string[][] = [["preprocessing (decode, resize, crop, normalize)", "in flight", "images/s"]];
  for (const [model, what] of PREPROCESS_PRESETS) {
    for (const inFlight of [1, 4]) {
      table.push([`${PHOTO_WIDTH}x${PHOTO_HEIGHT} JPEG, ${what}`, String(inFlight), (await measurePreprocess(jpeg, model, count, inFlight)).toFixed(2)]);
    }
  }
  printTable(table, 1);
  // Its two steps apart, one image at a time on this thread: decoding, and Pillow's resize with the crop.
  const steps: string[][] = [["step, one image at a time", "ms (median)"]];
  steps.push([`decode a ${PHOTO_WIDTH}x${PHOTO_HEIGHT} JPEG (sharp)`, (await medianMilliseconds(count, () => decodeImage(jpeg))).toFixed(1)]);
  const decoded = await decodeImage(jpeg);
  for (const [model, what] of PREPROCESS_PRESETS) {
    const preset = resolvePreprocessing(model);
    steps.push([`resize and crop it, ${what}`, (await medianMilliseconds(count, () => cropForPreset(decoded, preset))).toFixed(1)]);
  }
  printTable(steps, 1);
}

async function findTorch(): Promise<TorchState> {
  const report = await torchBlas();
  if (typeof report === "string") {
    console.log(`torchvision: ${report}; no ratios`);
    return { missing: report };
  }
  const blas = classifyBlas(report);
  console.log(`torchvision ${report.torchvision}, torch ${report.torch} (/usr/bin/python3), BLAS: ${blas.description}`);
  const overrides = OPENBLAS_OVERRIDES.filter((name) => report.env[name] !== undefined);
  if (overrides.length > 0) {
    console.log(`${overrides.map((n) => `${n}=${report.env[n]}`).join(" ")} set (for older OpenBLAS builds): torch is also measured with ${OPENBLAS_OVERRIDES.join(" and ")} unset`);
  }
  const refusal = ratioRefusal(blas);
  if (refusal !== undefined) {
    console.log(`torch runs on the reference BLAS: its figures are printed, labelled, but no ratio is. No user runs it so; install OpenBLAS: sudo ${INSTALL_OPENBLAS}`);
  }
  return { blas, refusal };
}

async function main(): Promise<void> {
  const s = settings();
  const selected = (id: string): boolean => s.tasks.includes(id);
  console.log(`fxc bench: node ${process.version}, ${availableParallelism()} cores; fxc ${s.runs} timed run(s), torch ${s.torchRuns}, after a warm-up`);
  const torch = s.torchRuns > 0 || selected("folder") ? await findTorch() : ({ missing: "skipped (--torch-runs 0)" } as const);
  const dir = await mkdtemp(join(tmpdir(), "fxc-bench-"));
  const measured: Measured = { tasks: {}, fewestRuns: Infinity, firstCallMissing: [] };
  try {
    const bench = new Bench(s, torch, dir, measured);
    const results = new Map<string, Map<string, { label: string; result: EngineResult }>>();
    if (selected("gemm")) await bench.gemmTask();
    for (const task of MODEL_TASKS) {
      if (selected(task.id) && (s.models === undefined || s.models.includes(task.model))) results.set(task.id, await bench.modelTask(task));
    }
    const [all, layer1] = [results.get("resnet50"), results.get("resnet50-layer1")];
    if (all !== undefined && layer1 !== undefined) {
      console.log("\npruning: resnet50 layer1 only, as a share of the layer1..layer4 time");
      for (const [id, { label, result }] of layer1) {
        const whole = all.get(id)?.result;
        if (whole !== undefined) console.log(`  ${label}: ${(median(result.seconds) / median(whole.seconds)).toFixed(2)}`);
      }
      const [torchAll, torchLayer1] = [measured.tasks["resnet50"]?.torch, measured.tasks["resnet50-layer1"]?.torch];
      if (torchAll !== undefined && torchLayer1 !== undefined) console.log(`  torchvision at its best thread count: ${(median(torchLayer1.seconds) / median(torchAll.seconds)).toFixed(2)}`);
    }
    if (selected("maskrcnn")) await bench.detectionTask(s.namedEngines);
    if (selected("folder")) await bench.folderTask();
    if (selected("preprocess") && s.images > 0) await benchPreprocessing(s.images);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log("\nissue #10's targets");
  const noRatio = "missing" in torch ? `no torchvision: ${torch.missing}` : torch.refusal;
  const fewestRuns = Number.isFinite(measured.fewestRuns) ? measured.fewestRuns : 0;
  for (const [what, verdict] of judgeTargets({ ...measured, fewestRuns, noRatio })) console.log(targetLine(what, verdict, fewestRuns));
}

try {
  await main();
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  console.error(`bench: ${error.message}`);
  process.exitCode = 2;
}
