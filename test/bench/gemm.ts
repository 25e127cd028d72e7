/**
 * What the machine reaches on the work the model tasks are made of: the fp32 matrix products of
 * ViT-B/16's MLP at the bench's batch ([8 x 197 tokens, 768] by [768, 3072], then by [3072, 768]),
 * on ONNX Runtime (gemmChild.ts, as fxc's engine runs it) and on torch (torchvision_bench.py
 * `gemm`, at each thread count), in GFLOP/s (2 per multiply-add). A model task's GFLOP/s beside
 * this says how much of the machine it uses; a speed target that needs more than anything the run
 * measured on the machine cannot be met by faster kernels, only by less work.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failure, lastJson, NODE_WITH_SOURCES, ROOT, runProcess } from "./child.js";
import { median, type Timing } from "./targets.js";

/** What gemmChild.ts is given: the product's sizes and the timed runs. */
export interface GemmJob {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly runs: number;
}

/** ViT-B/16's MLP at batch 8: 1576 tokens of 768 features by a [768, 3072] weight, then by a [3072, 768] one. */
export const GEMM_SHAPE = { m: 8 * 197, k: 768, n: 3072 } as const;

/** The two products' work: two floating-point operations per multiply-add. */
export function gemmFlops(job: Pick<GemmJob, "m" | "k" | "n">): number {
  return 2 * 2 * job.m * job.k * job.n;
}

/** GFLOP/s of `flops` done in the median of `timing`'s runs. */
export function gflopsPerSecond(flops: number, timing: Timing): number {
  return flops / median(timing.seconds) / 1e9;
}

/** ONNX Runtime's MatMul, timed in a process of its own; a string says why it could not be. */
export async function measureOrtGemm(job: GemmJob): Promise<Timing | string> {
  const done = await runProcess(NODE_WITH_SOURCES[0]!, [...NODE_WITH_SOURCES.slice(1), join(ROOT, "test/bench/gemmChild.ts"), JSON.stringify(job)]);
  return done.code === 0 ? lastJson<Timing>(done) : failure(done);
}

/**
 * The machine's fp32 peak at each of `threadCounts` (test/bench/peak.c: nothing but fused
 * multiply-adds), compiled once and measured at each count in turn (each has the cores to itself),
 * the median of `runs`; a string says why there is no figure (not x86-64, no C compiler). It is
 * not a rate any kernel reaches, so it is printed apart from the fastest measured one.
 */
export async function measurePeaks(threadCounts: readonly number[], runs: number): Promise<(readonly [number, number | string])[]> {
  const everywhere = (why: string): (readonly [number, string])[] => threadCounts.map((threads) => [threads, why] as const);
  if (process.arch !== "x64") return everywhere(`not measured: peak.c is written for x86-64's AVX2, this is ${process.arch}`);
  const dir = mkdtempSync(join(tmpdir(), "fxc-peak-"));
  try {
    const binary = join(dir, "peak");
    const built = await runProcess("cc", ["-O2", "-mavx2", "-mfma", "-pthread", join(ROOT, "test/bench/peak.c"), "-o", binary]).catch((e: Error) => e);
    if (built instanceof Error) return everywhere(`not measured: no C compiler (cc: ${built.message})`);
    if (built.code !== 0) return everywhere(`not measured: cc ${failure(built)}`);
    const peaks: (readonly [number, number | string])[] = [];
    for (const threads of threadCounts) peaks.push([threads, await peakAt(binary, threads, runs)]);
    return peaks;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The compiled peak.c's median GFLOP/s over `runs` at `threads`, or why it failed. */
async function peakAt(binary: string, threads: number, runs: number): Promise<number | string> {
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const done = await runProcess(binary, [String(threads), "1"]);
    if (done.code !== 0) return `not measured: peak ${failure(done)}`;
    rates.push(lastJson<{ gflops: number }>(done).gflops);
  }
  return median(rates);
}
