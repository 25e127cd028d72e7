/**
 * `npm run bench:gpu`: the GPU checks of issue #11 in one run, for a machine with a GPU (CI has none).
 *
 *   1. The numeric fixture subset on the webgpu backend (test/e2e/numeric-webgpu.test.ts) and fxc's
 *      own WGSL kernels against tfjs's (test/e2e/webgpu-*.test.ts), with CI=true so that a missing
 *      adapter fails rather than skips.
 *   2. Per model: torch (test/bench/gpu_torch.py: torchvision's create_feature_extractor on CUDA,
 *      fp32, TF32 off) writes seeded weights, an input and its features, and times batches; fxc
 *      loads the same .pth on `--backend webgpu`, checks its features against torch's (bound 1e-4
 *      of the largest magnitude), measures load to first result (compiling the program and the
 *      shaders included), and times the same batches.
 *   3. One table: images/s of both and their ratio, with the adapter, torch's device and the checks.
 *   4. A line per target of issue #11 (test/bench/gpuTargets.ts): met or not, by fxc's best fp32
 *      column and by the default's, so that one run says which defaults to take; not judged on a
 *      --tiny run, a CPU emulation or a torch without CUDA.
 *
 * Models: resnet50 → layer1..layer4 and vit_b_16 → encoder (encoder.ln), 224×224, batches 1, 8, 32.
 * `--tiny` runs the same steps small enough for lavapipe (Vulkan on the CPU) and a CPU torch, so
 * that the script is known to work where there is no GPU: resnet50 at 64×64, vit_b_16 at 32×32,
 * batches 1 and 2, 2 runs.
 *
 * Options: --tiny   --batches 1,8,32   --runs N (default 10)   --models resnet50,vit_b_16
 *          --python PATH (torch's Python; default $FXC_TORCH_PYTHON, else the first of /usr/bin/python3 and python3 that has torch)
 *          --skip-tests (step 1)   --no-fxc-kernels (leave out the columns of fxc's own WGSL kernels,
 *          runtime/webgpu/ops: webgpuKernels "fxc"; by default both kernel sets are timed)
 *          --no-replay (leave out the two columns of the last kernel set timed loaded with replay:
 *          recorded once per input shape and replayed, runtime/webgpu/replay.ts; timed by default, so
 *          that one run on a lent GPU measures every option the default may later take)
 *          --f16 (two more columns: webgpuKernels "fxc-f16", fxc's kernels with the matrix products in
 *          half precision; opt-in, never a default, so left out unless asked for; its features are
 *          checked against F16_FIXTURE_BOUND, not 1e-4, and a GPU without shader-f16 is noted, not failed)
 * Exit 1 when a check fails (a numeric case, or a feature over the bound).
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createFeatureExtractor } from "../../compiler/api.js";
import { chooseBackend, tf, type Tensor, type Tensor4D, type WebgpuKernelChoice } from "../../runtime/index.js";
import { readNpy } from "../../runtime/io/npy.js";
import { webgpuAdapter } from "../../runtime/webgpu/adapter.js";
import { F16_FIXTURE_BOUND, relativeError } from "../support/fixtures.js";
import { failure, lastJson, NODE_WITH_SOURCES, ROOT, runProcess } from "./child.js";
import { judgeGpuTargets, type GpuModelFigures, type GpuSide } from "./gpuTargets.js";
import { targetLine } from "./targets.js";

const BOUND = 1e-4;

interface GpuTask {
  readonly model: string;
  readonly returnNodes: readonly string[];
  readonly size: number;
  /** Builder options, as fxc's zoo names them and as torchvision's get_model does. */
  readonly fxcOptions: Record<string, unknown>;
  readonly torchOptions: Record<string, unknown>;
  readonly label: string;
}

function tasks(tiny: boolean): GpuTask[] {
  return [
    { model: "resnet50", returnNodes: ["layer1", "layer2", "layer3", "layer4"], size: tiny ? 64 : 224, fxcOptions: {}, torchOptions: {}, label: "resnet50 → layer1..layer4" },
    {
      model: "vit_b_16",
      returnNodes: ["encoder"],
      size: tiny ? 32 : 224,
      fxcOptions: tiny ? { imageSize: 32 } : {},
      torchOptions: tiny ? { image_size: 32 } : {},
      label: "vit_b_16 → encoder (encoder.ln)",
    },
  ];
}

interface TorchSide {
  readonly device: string;
  readonly cuda: boolean;
  readonly torch: string;
  readonly rates: Record<string, number>;
}

interface FxcSide {
  readonly loadToFirstSeconds: number;
  readonly errors: Record<string, number>;
  readonly rates: Record<string, number>;
}

/**
 * --python, else $FXC_TORCH_PYTHON, else the first Python that imports torch and torchvision:
 * Debian's /usr/bin/python3 here (the python3 first on PATH has no torch), the python3 on PATH on
 * a GPU machine (a virtual environment, where /usr/bin/python3 may have none).
 */
function torchPython(given: string | undefined): string {
  if (given !== undefined) return given;
  if (process.env.FXC_TORCH_PYTHON) return process.env.FXC_TORCH_PYTHON;
  const candidates = ["/usr/bin/python3", "python3"];
  return candidates.find((python) => spawnSync(python, ["-c", "import torch, torchvision"], { stdio: "ignore" }).status === 0) ?? candidates[0]!;
}

/** The webgpu numeric cases, as CI runs them: a summary line, and whether all passed. */
async function numericChecks(): Promise<{ readonly line: string; readonly ok: boolean }> {
  const files = ["numeric-webgpu.test.ts", ...readdirSync(join(ROOT, "test/e2e")).filter((f) => /^webgpu-.*\.test\.ts$/.test(f)).sort()].map((f) => join(ROOT, "test/e2e", f));
  const done = await runProcess(NODE_WITH_SOURCES[0]!, [...NODE_WITH_SOURCES.slice(1), "--test", "--test-reporter=tap", ...files], { ...process.env, CI: "true" });
  const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(done.stdout)?.[1] ?? Number.NaN);
  const [pass, fail] = [count("pass"), count("fail")];
  const failed = [...done.stdout.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]!);
  const line = `${pass} passed, ${fail} failed${failed.length ? ` (${failed.join("; ")})` : ""}`;
  return { line, ok: done.code === 0 && fail === 0 };
}

async function torchSide(python: string, dir: string, task: GpuTask, batches: readonly number[], runs: number): Promise<TorchSide> {
  const args = [join(ROOT, "test/bench/gpu_torch.py"), dir, task.model, task.returnNodes.join(","), String(task.size), batches.join(","), String(runs), JSON.stringify(task.torchOptions)];
  const done = await runProcess(python, args);
  if (done.code !== 0) throw new Error(`torch (${python}) on ${task.model}: ${failure(done)}`);
  return lastJson<TorchSide>(done);
}

/** Waits for every output by reading back one number that depends on all of them. */
async function settle(outputs: Record<string, Tensor>): Promise<void> {
  const total = tf.tidy(() => tf.addN(Object.values(outputs).map((t) => tf.sum(t))));
  await total.data();
  tf.dispose([total, ...Object.values(outputs)]);
}

async function fxcSide(dir: string, task: GpuTask, batches: readonly number[], runs: number, kernels: WebgpuKernelChoice, replay = false): Promise<FxcSide> {
  const started = performance.now();
  const fx = createFeatureExtractor(task.model, { returnNodes: [...task.returnNodes], size: task.size, modelOptions: task.fxcOptions, suppressDiffWarning: true });
  const extractor = await fx.load(join(dir, `${task.model}.pth`), { backend: "webgpu", engine: "tfjs", webgpuKernels: kernels, replay });
  try {
    const input = await readNpy(join(dir, `${task.model}-input.npy`));
    const nchw = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    const x = tf.transpose(nchw, [0, 2, 3, 1]) as Tensor4D;
    const out = await extractor.run(x);
    const errors: Record<string, number> = {};
    for (const o of fx.program.outputs) {
      const t = o.format === "channelsLast" ? tf.transpose(out[o.key]!, [0, 3, 1, 2]) : out[o.key]!;
      const got = (await t.data()) as Float32Array;
      errors[o.key] = relativeError(got, (await readNpy(join(dir, `${task.model}-${o.key}.npy`))).data);
      if (t !== out[o.key]) t.dispose();
    }
    // Load to first result: building the program, the weights, the shaders, one forward, read back and checked.
    const loadToFirstSeconds = (performance.now() - started) / 1000;
    tf.dispose([nchw, x, ...Object.values(out)]);
    const rates: Record<string, number> = {};
    for (const batch of batches) {
      const xb = tf.randomNormal([batch, task.size, task.size, 3]) as Tensor4D;
      for (let i = 0; i < 2; i++) await settle(await extractor.run(xb));
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) await settle(await extractor.run(xb));
      rates[batch] = (batch * runs) / ((performance.now() - t0) / 1000);
      xb.dispose();
    }
    return { loadToFirstSeconds, errors, rates };
  } finally {
    extractor.dispose();
  }
}

/** Images per second, to three figures (lavapipe's are below 1). */
function rate(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tiny: { type: "boolean", default: false },
      batches: { type: "string" },
      runs: { type: "string" },
      models: { type: "string" },
      python: { type: "string" },
      "skip-tests": { type: "boolean", default: false },
      "fxc-kernels": { type: "boolean", default: true },
      replay: { type: "boolean", default: true },
      f16: { type: "boolean", default: false },
    },
    allowNegative: true,
  });
  const tiny = values.tiny ?? false;
  const batches = (values.batches ?? (tiny ? "1,2" : "1,8,32")).split(",").map(Number);
  const runs = Number(values.runs ?? (tiny ? 2 : 10));
  if (batches.some((b) => !Number.isInteger(b) || b < 1) || !Number.isInteger(runs) || runs < 1) throw new Error("bad --batches or --runs; give whole numbers of at least 1 (e.g. --batches 1,8,32 --runs 10)");
  const models = values.models?.split(",");
  const selected = tasks(tiny).filter((t) => models === undefined || models.includes(t.model));
  if (selected.length === 0) throw new Error(`no model in --models ${values.models}; use resnet50, vit_b_16 or both`);
  const python = torchPython(values.python);
  const fxcKernels = values["fxc-kernels"] ?? false;
  const replay = values.replay ?? true;
  const replayedKernels: WebgpuKernelChoice = fxcKernels ? "fxc" : "tfjs";
  const f16 = values.f16 ?? false;

  const backend = await chooseBackend("webgpu");
  console.error(`bench:gpu: webgpu on ${backend.adapter}`);
  const checks = values["skip-tests"] ? { line: "not run (--skip-tests)", ok: true } : await numericChecks();
  console.error(`bench:gpu: numeric checks ${checks.line}`);

  const rows: string[] = [];
  const notes: string[] = [];
  let ok = checks.ok;
  let torchDevice = "";
  let torchOnCuda = true;
  const judged: Record<string, GpuModelFigures> = {};
  for (const [index, task] of selected.entries()) {
    const dir = await mkdtemp(join(tmpdir(), "fxc-gpu-"));
    try {
      console.error(`bench:gpu: ${task.label}: torch`);
      const torch = await torchSide(python, dir, task, batches, runs);
      torchDevice = `torch ${torch.torch} on ${torch.device}${torch.cuda ? " (CUDA, fp32, TF32 off)" : " (no CUDA: the CPU)"}`;
      torchOnCuda &&= torch.cuda;
      console.error(`bench:gpu: ${task.label}: fxc webgpu`);
      const fxc = await fxcSide(dir, task, batches, runs, "tfjs");
      let own: FxcSide | undefined;
      if (fxcKernels) {
        console.error(`bench:gpu: ${task.label}: fxc webgpu, fxc's kernels`);
        own = await fxcSide(dir, task, batches, runs, "fxc");
      }
      let replayed: FxcSide | undefined;
      if (replay) {
        console.error(`bench:gpu: ${task.label}: fxc webgpu, ${replayedKernels}'s kernels, replayed`);
        replayed = await fxcSide(dir, task, batches, runs, replayedKernels, true);
      }
      let half: FxcSide | undefined;
      if (f16) {
        console.error(`bench:gpu: ${task.label}: fxc webgpu, fxc-f16's kernels`);
        try {
          half = await fxcSide(dir, task, batches, runs, "fxc-f16");
        } catch (e) {
          // A GPU without shader-f16 refuses the set in one line: a fact about the GPU, not a failed check.
          notes.push(`${task.label}, fxc-f16's kernels: not run (${e instanceof Error ? e.message : String(e)})`);
        }
      }
      // Each column with its bound; the defaults today are tfjs's kernels without replay, and half precision is opt-in (no target's).
      const columns = [
        { figures: fxc, label: "tfjs's kernels", bound: BOUND, isDefault: true, fp32: true },
        ...(own ? [{ figures: own, label: "fxc's kernels", bound: BOUND, isDefault: false, fp32: true }] : []),
        ...(replayed ? [{ figures: replayed, label: `${replayedKernels}'s kernels, replayed`, bound: BOUND, isDefault: false, fp32: true }] : []),
        ...(half ? [{ figures: half, label: "fxc-f16's kernels (half-precision products)", bound: F16_FIXTURE_BOUND, isDefault: false, fp32: false }] : []),
      ];
      for (const { figures, label, bound } of columns) {
        const worst = Math.max(...Object.values(figures.errors));
        if (!(worst <= bound)) ok = false;
        notes.push(`${task.label}, ${label}: features within ${worst.toExponential(1)} of torch's (bound ${bound}), load to first result ${figures.loadToFirstSeconds.toFixed(2)} s, ${task.size}×${task.size}`);
      }
      // Only the first load in the process compiles every shader it runs: the default's, on the first model.
      const sides = columns
        .filter((c) => c.fp32)
        .map(({ figures, label, isDefault }): GpuSide => ({ label, rates: figures.rates, loadToFirstSeconds: figures.loadToFirstSeconds, isDefault, cold: isDefault && index === 0 }));
      judged[task.model] = { torch: torch.rates, sides };
      // The table's optional column pairs, in the header's order; fxc-f16's stay as dashes where the GPU refused it.
      const optional = [...(fxcKernels ? [own] : []), ...(replay ? [replayed] : []), ...(f16 ? [half] : [])];
      for (const batch of batches) {
        const t = torch.rates[batch]!;
        const pair = (side: FxcSide | undefined): string => (side ? ` ${rate(side.rates[batch]!)} | ${(side.rates[batch]! / t).toFixed(2)}× |` : " – | – |");
        rows.push(`| ${task.label} | ${batch} | ${rate(t)} |${pair(fxc)}${optional.map(pair).join("")}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const date = new Date().toISOString().slice(0, 10);
  console.log(`fxc bench:gpu, ${date}${tiny ? ", --tiny (a smoke run: not a GPU's figures)" : ""}`);
  console.log(`adapter: ${backend.adapter}; ${torchDevice}`);
  console.log(`numeric checks on webgpu: ${checks.line}`);
  console.log("");
  const ownHeader = fxcKernels ? " fxc's kernels images/s | fxc's kernels / torch |" : "";
  const replayHeader = replay ? ` replayed (${replayedKernels}'s kernels) images/s | replayed / torch |` : "";
  const f16Header = f16 ? " fxc-f16 images/s | fxc-f16 / torch |" : "";
  console.log(`| model | batch | torch images/s | fxc webgpu images/s | fxc / torch |${ownHeader}${replayHeader}${f16Header}`);
  console.log(`| --- | --- | --- | --- | --- |${fxcKernels ? " --- | --- |" : ""}${replay ? " --- | --- |" : ""}${f16 ? " --- | --- |" : ""}`);
  for (const row of rows) console.log(row);
  console.log("");
  for (const note of notes) console.log(note);
  console.log("");
  const emulated = webgpuAdapter()?.emulated === true;
  const notJudged = tiny ? "a --tiny run: not a GPU's figures" : emulated ? "webgpu ran on a CPU emulation, not a GPU" : !torchOnCuda ? "torch ran without CUDA" : undefined;
  for (const [what, verdict] of judgeGpuTargets({ ...(notJudged === undefined ? {} : { notJudged }), models: judged })) console.log(targetLine(what, verdict, runs));
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench:gpu: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
