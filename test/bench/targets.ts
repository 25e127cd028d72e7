/**
 * Issue #10's targets, judged from one bench run's medians. The bench prints a line per target;
 * nothing here times anything, so the tests can check the judgement on made-up figures.
 */

/** One side of a comparison: timed runs after a warm-up, and the process's peak RSS. */
export interface Timing {
  /** Seconds of each timed run (a batch for the model tasks, the whole folder for the folder task). */
  readonly seconds: readonly number[];
  readonly maxRssMB: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The faster of several timings (torch's thread counts), by median. */
export function fastest<T extends { readonly timing: Timing }>(candidates: readonly T[]): T | undefined {
  return candidates.reduce<T | undefined>((best, c) => (best === undefined || median(c.timing.seconds) < median(best.timing.seconds) ? c : best), undefined);
}

/** How many times faster `subject` is than `baseline`: the ratio of their median times for the same work. */
export function speedup(subject: Timing, baseline: Timing): number {
  return median(baseline.seconds) / median(subject.seconds);
}

/** `bound`: empty where the figure says it all. `median`: the figure is a median of timed runs (marked indicative when there are fewer than 3). */
export type Verdict =
  | { readonly judged: true; readonly met: boolean; readonly figure: string; readonly bound: string; readonly median: boolean; readonly note?: string }
  | { readonly judged: false; readonly why: string };

export interface TargetFigures {
  /** The fewest timed runs behind any median: under 3 the verdicts are marked indicative. */
  readonly fewestRuns: number;
  /** Why no speed ratio against torch may be judged (reference BLAS, no torchvision), if so. */
  readonly noRatio?: string;
  /** What fxc's default engine resolved to ("wasm", "onnxruntime", ...). */
  readonly defaultEngine?: string;
  /** fxc's default engine and torchvision at its best thread count, per task; the work of one timed run (a batch), where torch's profiler counted it. */
  readonly tasks: Readonly<Record<string, { readonly fxc?: Timing; readonly torch?: Timing; readonly flopsPerRun?: number }>>;
  /**
   * The fastest fp32 rate the run measured on this machine, in GFLOP/s, and what ran at it: the
   * matrix products of test/bench/gemm.ts on ONNX Runtime or torch, or any model task's row.
   */
  readonly fastest?: { readonly gflops: number; readonly what: string };
  /** The machine's fp32 peak at all cores (test/bench/peak.c: fused multiply-adds alone), where measured. */
  readonly peak?: number;
  /** Engines that could run here but failed, so that their first call has no figure. */
  readonly firstCallMissing: readonly string[];
}

/** The model tasks whose speed the issue bounds, with their labels. */
const SPEED_TASKS: readonly (readonly [string, string])[] = [
  ["resnet50", "resnet50 layer1..layer4, batch 8"],
  ["vit_b_16", "vit_b_16 encoder output, batch 8"],
];
const SPEEDUP_BOUND = 1.5;
const PRUNING_BOUND = 0.3;

const times = (x: number): string => `${x.toFixed(2)}x`;
const notRun: Verdict = { judged: false, why: "task not run (see --tasks and --models)" };
const failed = (what: string): Verdict => ({ judged: false, why: `${what} has no figure: it failed or was skipped` });

/** fxc's and torch's timings of a task, or why the task cannot be judged. */
function sides(figures: TargetFigures, task: string): { readonly fxc: Timing; readonly torch: Timing } | Verdict {
  const entry = figures.tasks[task];
  if (entry === undefined) return notRun;
  if (entry.fxc === undefined) return failed("fxc's default engine");
  if (entry.torch === undefined) return failed("torchvision");
  return { fxc: entry.fxc, torch: entry.torch };
}

function atLeast(figure: number, bound: number, show: (x: number) => string): Verdict {
  return { judged: true, met: figure >= bound, figure: show(figure), bound: `>= ${show(bound)}`, median: true };
}

function atMost(figure: number, bound: number, show: (x: number) => string, median = true): Verdict {
  return { judged: true, met: figure <= bound, figure: show(figure), bound: `<= ${show(bound)}`, median };
}

function speedTarget(figures: TargetFigures, task: string): Verdict {
  if (figures.noRatio !== undefined) return { judged: false, why: figures.noRatio };
  const both = sides(figures, task);
  if ("judged" in both) return both;
  const verdict = atLeast(speedup(both.fxc, both.torch), SPEEDUP_BOUND, times);
  const work = figures.tasks[task]?.flopsPerRun;
  if (!verdict.judged || verdict.met || work === undefined || figures.fastest === undefined) return verdict;
  // What the bound asks of the machine, beside what its fastest matrix product reaches.
  const needed = (SPEEDUP_BOUND * work) / median(both.torch.seconds) / 1e9;
  const achieved = work / median(both.fxc.seconds) / 1e9;
  const { gflops: fastest, what } = figures.fastest;
  const note = `${SPEEDUP_BOUND}x needs ${needed.toFixed(0)} GFLOP/s; fxc ran ${achieved.toFixed(0)}, and the fastest fp32 rate this run measured on the machine is ${fastest.toFixed(0)} (${what})${needed > fastest ? ": above it, so only less work (not faster kernels) could meet it" : ""}${figures.peak === undefined ? "" : `; the machine's fp32 peak is ${figures.peak.toFixed(0)} (fused multiply-adds alone), so it needs ${((100 * needed) / figures.peak).toFixed(0)}% of the peak where fxc used ${((100 * achieved) / figures.peak).toFixed(0)}%`}`;
  return { ...verdict, note };
}

function rssTarget(figures: TargetFigures, task: string): Verdict {
  const both = sides(figures, task);
  const mb = (x: number): string => `${x.toFixed(0)} MB`;
  return "judged" in both ? both : atMost(both.fxc.maxRssMB, both.torch.maxRssMB, mb, false);
}

/** Every target of the issue, in its order: [what, verdict]. */
export function judgeTargets(figures: TargetFigures): (readonly [string, Verdict])[] {
  const engine = `fxc's default engine${figures.defaultEngine ? ` (${figures.defaultEngine})` : ""}`;
  const out: (readonly [string, Verdict])[] = [];
  for (const [task, label] of SPEED_TASKS) {
    out.push([`${label}: ${engine} >= ${SPEEDUP_BOUND}x torchvision at its best thread count`, speedTarget(figures, task)]);
  }
  const [layer1, all] = [figures.tasks["resnet50-layer1"], figures.tasks["resnet50"]];
  let pruning: Verdict;
  if (layer1 === undefined || all === undefined) pruning = notRun;
  else if (layer1.fxc === undefined || all.fxc === undefined) pruning = failed("fxc's default engine");
  else pruning = atMost(median(layer1.fxc.seconds) / median(all.fxc.seconds), PRUNING_BOUND, times);
  out.push([`pruning pays: resnet50 layer1 only <= ${PRUNING_BOUND}x the time of layer1..layer4, ${engine}`, pruning]);
  for (const [task, label] of [...SPEED_TASKS, ["folder", "photo folder to pooled layer4"]] as const) {
    out.push([`peak RSS, ${label}: ${engine} <= torchvision's`, rssTarget(figures, task)]);
  }
  const missed = figures.firstCallMissing;
  const figure = missed.length === 0 ? "printed in every engine's row" : `missing for ${missed.join(", ")}`;
  out.push(["first call latency (load + first run) printed for each engine", { judged: true, met: missed.length === 0, figure, bound: "", median: false }]);
  out.push([
    `a folder of photos (4032x3024 JPEG) to pooled layer4 descriptors: fxc extract >= ${SPEEDUP_BOUND}x a torchvision loop`,
    speedTarget(figures, "folder"),
  ]);
  return out;
}

export function targetLine(what: string, verdict: Verdict, fewestRuns: number): string {
  if (!verdict.judged) return `target ${what}: not judged (${verdict.why})`;
  const indicative = verdict.median && fewestRuns < 3 ? `; indicative only: medians of ${fewestRuns} run${fewestRuns === 1 ? "" : "s"}, not 3` : "";
  const bound = verdict.bound === "" ? "" : ` vs ${verdict.bound}`;
  const note = verdict.note === undefined ? "" : `; ${verdict.note}`;
  return `target ${what}: ${verdict.met ? "met" : "not met"} (${verdict.figure}${bound}${indicative}${note})`;
}
