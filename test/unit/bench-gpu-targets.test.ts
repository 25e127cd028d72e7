import { test } from "node:test";
import assert from "node:assert/strict";
import { judgeGpuTargets, type GpuFigures, type GpuSide } from "../bench/gpuTargets.js";
import { targetLine } from "../bench/targets.js";

/** bench:gpu's judgement of issue #11's targets, on made-up figures: nothing here runs on a GPU. */

const side = (label: string, rates: Record<number, number>, loadToFirstSeconds: number, isDefault = false): GpuSide => ({ label, rates, loadToFirstSeconds, isDefault, cold: isDefault });

const figures: GpuFigures = {
  models: {
    resnet50: {
      torch: { 1: 344, 32: 2751 },
      sides: [side("tfjs's kernels", { 1: 90, 32: 520 }, 1.6, true), side("fxc's kernels", { 1: 120, 32: 1500 }, 0.9), side("fxc's kernels, replayed", { 1: 180, 32: 1450 }, 0.8)],
    },
    vit_b_16: {
      torch: { 1: 241, 32: 1068 },
      sides: [side("tfjs's kernels", { 1: 11.4, 32: 394 }, 3, true), side("fxc's kernels", { 1: 40, 32: 850 }, 2)],
    },
  },
};

const lines = (f: GpuFigures): string[] => judgeGpuTargets(f).map(([what, verdict]) => targetLine(what, verdict, 10));

test("each speed target is judged by fxc's best column and names the default's figure beside it", () => {
  const [r32, r1, v32, v1, load] = lines(figures);
  assert.equal(r32, "target resnet50 batch 32: fxc webgpu >= 0.50x torch CUDA: met (0.55x with fxc's kernels; the default (tfjs's kernels) 0.19x vs >= 0.50x)");
  assert.equal(r1, "target resnet50 batch 1: fxc webgpu >= 0.50x torch CUDA: met (0.52x with fxc's kernels, replayed; the default (tfjs's kernels) 0.26x vs >= 0.50x)");
  assert.equal(v32, "target vit_b_16 batch 32: fxc webgpu >= 0.75x torch CUDA: met (0.80x with fxc's kernels; the default (tfjs's kernels) 0.37x vs >= 0.75x)");
  assert.equal(v1, "target vit_b_16 batch 1: fxc webgpu >= 0.25x torch CUDA: not met (0.17x with fxc's kernels; the default (tfjs's kernels) 0.05x vs >= 0.25x)");
  // Later columns reuse the first one's compiled shaders: only the first load counts.
  assert.equal(load, "target resnet50 load to first result (shaders compiled included) <= 2.00 s: met (1.60 s with tfjs's kernels, the default, loaded first in the process vs <= 2.00 s)");
});

test("where the default is the fastest, the line says so; a slow first load is not met", () => {
  const resnet = figures.models["resnet50"]!;
  const slow: GpuFigures = { models: { resnet50: { torch: resnet.torch, sides: [side("tfjs's kernels", { 1: 200, 32: 1400 }, 2.5, true), side("fxc's kernels", { 1: 100, 32: 1000 }, 0.5)] } } };
  const [r32, , v32, , load] = lines(slow);
  assert.match(r32!, /: met \(0\.51x with tfjs's kernels, the default vs >= 0\.50x\)$/);
  assert.equal(v32, "target vit_b_16 batch 32: fxc webgpu >= 0.75x torch CUDA: not judged (vit_b_16 at batch 32 not run (see --models and --batches))");
  assert.match(load!, /: not met \(2\.50 s with tfjs's kernels, the default, loaded first/);
});

test("a run whose figures are not a GPU's (--tiny, a CPU emulation, torch without CUDA) judges no target and says why", () => {
  for (const line of lines({ ...figures, notJudged: "a --tiny run: not a GPU's figures" })) assert.match(line, /: not judged \(a --tiny run: not a GPU's figures\)$/);
});
