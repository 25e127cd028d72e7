import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyBlas, ratioRefusal, type TorchBlasReport } from "../bench/blas.js";
import { judgeTargets, median, targetLine, type TargetFigures, type Timing } from "../bench/targets.js";
import { torchConfigs } from "../bench/torch.js";

/**
 * The bench's judgement, on made-up figures: which BLAS torch runs on, when a ratio may be printed,
 * and how each of issue #10's targets reads. Nothing here is timed.
 */

function report(libraries: readonly string[], more: Partial<TorchBlasReport> = {}): TorchBlasReport {
  return { libraries, blas_info: "generic", mkl: false, openblas: {}, torch: "1.13.0", torchvision: "0.14.1", env: {}, ...more };
}

const GOMP = "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0";

test("Debian's reference BLAS is recognized and no ratio is printed against it; the refusal names the fix", () => {
  const blas = classifyBlas(report([GOMP, "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0", "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0"]));
  assert.equal(blas.kind, "reference");
  assert.match(ratioRefusal(blas) ?? "", /apt-get install libopenblas0-pthread/);
});

test("OpenBLAS behind the libblas.so.3 alternative, MKL linked into pip's torch: ratios are printed", () => {
  const openblas = classifyBlas(
    report([GOMP, "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so"], { openblas: { core: "Zen", threads: 2 } }),
  );
  assert.equal(openblas.kind, "openblas");
  assert.match(openblas.description, /core Zen, 2 threads/);
  assert.equal(ratioRefusal(openblas), undefined);
  const mkl = classifyBlas(report([GOMP], { mkl: true, blas_info: "mkl" }));
  assert.equal(mkl.kind, "mkl");
  assert.equal(ratioRefusal(mkl), undefined);
  assert.equal(classifyBlas(report([GOMP])).kind, "unknown");
});

test("median: the middle value, or the mean of the two middle ones", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
});

const timing = (seconds: number, maxRssMB = 500): Timing => ({ seconds: [seconds, seconds * 1.1, seconds * 0.9], maxRssMB });

function figures(more: Partial<TargetFigures> = {}): TargetFigures {
  return {
    fewestRuns: 3,
    defaultEngine: "wasm",
    tasks: {
      // fxc 2x faster than torch on resnet50, 1.2x on vit; layer1 a quarter of the whole.
      resnet50: { fxc: timing(1, 400), torch: timing(2, 600) },
      "resnet50-layer1": { fxc: timing(0.25), torch: timing(0.5) },
      vit_b_16: { fxc: timing(10, 900), torch: timing(12, 800) },
      folder: { fxc: timing(20), torch: timing(40) },
    },
    firstCallMissing: [],
    ...more,
  };
}

function lines(f: TargetFigures): string[] {
  return judgeTargets(f).map(([what, verdict]) => targetLine(what, verdict, f.fewestRuns));
}

test("each target of the issue is one line: met or not met, with its figure and its bound", () => {
  const out = lines(figures());
  assert.equal(out.length, 8);
  assert.match(out[0]!, /^target resnet50 layer1\.\.layer4, batch 8: fxc's default engine \(wasm\) >= 1\.5x torchvision .*: met \(2\.00x vs >= 1\.50x\)$/);
  assert.match(out[1]!, /^target vit_b_16 encoder output.*: not met \(1\.20x vs >= 1\.50x\)$/);
  assert.match(out[2]!, /^target pruning pays.*: met \(0\.25x vs <= 0\.30x\)$/);
  assert.match(out[3]!, /^target peak RSS, resnet50.*: met \(400 MB vs <= 600 MB\)$/);
  assert.match(out[4]!, /^target peak RSS, vit_b_16.*: not met \(900 MB vs <= 800 MB\)$/);
  assert.match(out[6]!, /^target first call latency.*: met/);
  assert.match(out[7]!, /^target a folder of photos.*: met \(2\.00x vs >= 1\.50x\)$/);
});

test("a speed target not met says what it needs in GFLOP/s beside the machine's matrix-product ceiling; one met does not", () => {
  // vit: torch 12 s a batch of 35 GFLOP x 8; 1.5x needs 35 GFLOP/s, fxc ran 28.
  const work = { flopsPerRun: 8 * 35e9 };
  const tasks = { ...figures().tasks, resnet50: { ...figures().tasks["resnet50"], ...work }, vit_b_16: { ...figures().tasks["vit_b_16"], ...work } };
  const above = lines(figures({ tasks, fastest: { gflops: 30, what: "torch.mm" } }));
  assert.match(above[1]!, /: not met \(1\.20x vs >= 1\.50x; 1\.5x needs 35 GFLOP\/s; fxc ran 28, and the fastest fp32 rate this run measured on the machine is 30 \(torch\.mm\): above it, so only less work \(not faster kernels\) could meet it\)$/);
  assert.match(above[0]!, /: met \(2\.00x vs >= 1\.50x\)$/, "a met target has no note");
  const below = lines(figures({ tasks, fastest: { gflops: 150, what: "a model" } }));
  assert.match(below[1]!, /on the machine is 150 \(a model\)\)$/, "under the fastest rate, no claim that faster kernels could not do it");
  assert.doesNotMatch(lines(figures())[1]!, /GFLOP/, "without the work or the ceiling, nothing is said");
  const withPeak = lines(figures({ tasks, fastest: { gflops: 30, what: "torch.mm" }, peak: 40 }));
  assert.match(withPeak[1]!, /could meet it; the machine's fp32 peak is 40 \(fused multiply-adds alone\), so it needs 88% of the peak where fxc used 70%\)$/);
});

test("against the reference BLAS the speed targets are not judged, and say why; the others still are", () => {
  const refusal = ratioRefusal(classifyBlas(report(["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"])));
  const out = lines(figures({ noRatio: refusal }));
  for (const i of [0, 1, 7]) assert.match(out[i]!, /: not judged \(torch runs on the reference BLAS.*apt-get install libopenblas0-pthread\)$/);
  assert.match(out[2]!, /: met \(0\.25x/);
  assert.match(out[3]!, /: met \(400 MB/);
});

test("fewer than 3 runs mark the medians indicative; a task not run and an engine that failed say so", () => {
  const tasks = { resnet50: { fxc: timing(1), torch: timing(2) }, vit_b_16: { torch: timing(2) } };
  const out = lines(figures({ fewestRuns: 1, tasks, firstCallMissing: ["fxc onnxruntime on resnet50"] }));
  assert.match(out[0]!, /met \(2\.00x vs >= 1\.50x; indicative only: medians of 1 run, not 3\)$/);
  assert.doesNotMatch(out[3]!, /indicative/, "peak RSS is no median");
  assert.match(out[1]!, /not judged \(fxc's default engine has no figure: it failed or was skipped\)/);
  assert.match(out[2]!, /pruning.*not judged \(task not run/);
  assert.match(out[7]!, /folder.*not judged \(task not run/);
  assert.match(out[6]!, /not met \(missing for fxc onnxruntime on resnet50/);
});

test("torch runs at all cores and at one; where OpenBLAS overrides are set, also with both unset", () => {
  const plain = { PATH: "/usr/bin" };
  assert.deepEqual(
    torchConfigs(2, plain).map((c) => [c.threads, c.label]),
    [
      [2, "torchvision, set_num_threads(2)"],
      [1, "torchvision, set_num_threads(1)"],
    ],
  );
  assert.equal(torchConfigs(1, plain).length, 1);
  const configs = torchConfigs(2, { ...plain, OPENBLAS_CORETYPE: "Haswell" });
  assert.equal(configs.length, 3);
  assert.equal(configs[0]!.env.OPENBLAS_CORETYPE, "Haswell", "the user's environment as it is");
  assert.deepEqual(configs[2]!.env, plain);
  assert.equal(configs[2]!.threads, 2);
});
