/**
 * Issue #11's GPU targets, judged from one `npm run bench:gpu` run's figures, so that one run on a
 * lent GPU says which targets are met and with which kernel set and replay option: the choice of
 * defaults follows from these lines. Nothing here times anything; the tests judge made-up figures.
 */
import type { Verdict } from "./targets.js";

/** One way fxc ran on webgpu (a column of the table): images/s per batch, and load to first result. */
export interface GpuSide {
  readonly label: string;
  readonly rates: Readonly<Record<number, number>>;
  readonly loadToFirstSeconds: number;
  /** Whether this is what `load(weights, { backend: "webgpu" })` runs with no other option. */
  readonly isDefault: boolean;
  /** Whether it loaded first in its process, no shader compiled before it: only such a load to first result is judged. */
  readonly cold: boolean;
}

/** One model: torch CUDA's images/s per batch, and fxc's fp32 sides (the opt-in half precision is no target's). */
export interface GpuModelFigures {
  readonly torch: Readonly<Record<number, number>>;
  readonly sides: readonly GpuSide[];
}

export interface GpuFigures {
  /** Why no target may be judged from this run (a --tiny run, a CPU emulation, torch without CUDA), if so. */
  readonly notJudged?: string;
  readonly models: Readonly<Record<string, GpuModelFigures>>;
}

/** [model, batch, bound on fxc / torch]: the speed targets. */
const RATE_TARGETS: readonly (readonly [string, number, number])[] = [
  ["resnet50", 32, 0.5],
  ["resnet50", 1, 0.5],
  ["vit_b_16", 32, 0.75],
  ["vit_b_16", 1, 0.25],
];
/** Seconds from load to resnet50's first result, shader compilation included. */
const LOAD_BOUND = 2;

const times = (x: number): string => `${x.toFixed(2)}x`;
const seconds = (x: number): string => `${x.toFixed(2)} s`;

function rateTarget(figures: GpuFigures, model: string, batch: number, bound: number): Verdict {
  if (figures.notJudged !== undefined) return { judged: false, why: figures.notJudged };
  const entry = figures.models[model];
  const torch = entry?.torch[batch];
  if (entry === undefined || torch === undefined) return { judged: false, why: `${model} at batch ${batch} not run (see --models and --batches)` };
  const ratio = (s: GpuSide): number => (s.rates[batch] ?? Number.NaN) / torch;
  const measured = entry.sides.filter((s) => Number.isFinite(ratio(s)));
  if (measured.length === 0) return { judged: false, why: `fxc has no figure for ${model} at batch ${batch}` };
  const best = measured.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
  const byDefault = measured.find((s) => s.isDefault);
  const defaultPart = best.isDefault ? ", the default" : byDefault === undefined ? "" : `; the default (${byDefault.label}) ${times(ratio(byDefault))}`;
  return { judged: true, met: ratio(best) >= bound, figure: `${times(ratio(best))} with ${best.label}${defaultPart}`, bound: `>= ${times(bound)}`, median: false };
}

function loadTarget(figures: GpuFigures): Verdict {
  if (figures.notJudged !== undefined) return { judged: false, why: figures.notJudged };
  const entry = figures.models["resnet50"];
  if (entry === undefined) return { judged: false, why: "resnet50 not run (see --models)" };
  // Later sides reuse the pipelines the first one compiled, so their loads would flatter.
  const cold = entry.sides.find((s) => s.cold);
  if (cold === undefined) return { judged: false, why: "no side of resnet50 loaded first in its process" };
  const figure = `${seconds(cold.loadToFirstSeconds)} with ${cold.label}${cold.isDefault ? ", the default" : ""}, loaded first in the process`;
  return { judged: true, met: cold.loadToFirstSeconds <= LOAD_BOUND, figure, bound: `<= ${seconds(LOAD_BOUND)}`, median: false };
}

/** Every GPU target of the issue, in its order: [what, verdict]. Each names fxc's best side and the default's figure. */
export function judgeGpuTargets(figures: GpuFigures): (readonly [string, Verdict])[] {
  return [
    ...RATE_TARGETS.map(([model, batch, bound]) => [`${model} batch ${batch}: fxc webgpu >= ${times(bound)} torch CUDA`, rateTarget(figures, model, batch, bound)] as const),
    [`resnet50 load to first result (shaders compiled included) <= ${seconds(LOAD_BOUND)}`, loadTarget(figures)] as const,
  ];
}
