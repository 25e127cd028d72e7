import { test } from "node:test";
import assert from "node:assert/strict";
import { Conv2d, F, Module, type Tensor } from "../../models/nn/index.js";
import { getGraphNodeNames, createFeatureExtractor } from "../../compiler/api.js";
import { nearestIndices, linearSamples } from "../../runtime/ops/support/sampling.js";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

/** The TypeScript twin of InterpolateProbe in test/fixtures/families/ops.py. */
class InterpolateProbe extends Module {
  conv = new Conv2d(3, 4, 3, { padding: 1 });
  down = new Conv2d(4, 4, 3, { stride: 2 });

  forward(x: Tensor): Tensor[] {
    x = this.conv.call(x);
    const low = this.down.call(x);
    const fused = F.add(x, F.interpolate(low, { size: F.getitem(x.shape, F.slice(-2)), mode: "nearest" }));
    const doubled = F.interpolate(low, { scale_factor: 2 });
    const scaled = F.interpolate(low, { scale_factor: 1.5, mode: "nearest" });
    const shrunk = F.interpolate(x, { size: [5, 4] });
    const halfPixel = F.interpolate(low, { size: [13, 11], mode: "bilinear", align_corners: false });
    const corners = F.interpolate(low, { size: [9, 17], mode: "bilinear", align_corners: true });
    const byScale = F.interpolate(low, { scale_factor: [1.7, 2.3], mode: "bilinear" });
    const recomputed = F.interpolate(x, { scale_factor: 0.6, mode: "bilinear", recompute_scale_factor: true });
    const down = F.interpolate(x, { size: [4, 3], mode: "bilinear" });
    return [fused, doubled, scaled, shrunk, halfPixel, corners, byScale, recomputed, down];
  }
}

test("InterpolateProbe traces to torchvision's node names", () => {
  const names = getGraphNodeNames(new InterpolateProbe(), { size: [13, 11] });
  assert.deepEqual(names.eval, [
    "x", "conv", "down", "getattr", "getitem", "interpolate", "add", "interpolate_1", "interpolate_2", "interpolate_3",
    "interpolate_4", "interpolate_5", "interpolate_6", "interpolate_7", "interpolate_8",
  ]);
});

test("nearest picks torch's source rows: identity, doubling, and floor(dst * in/out) otherwise", () => {
  assert.deepEqual([...nearestIndices(5, 5)], [0, 1, 2, 3, 4]);
  assert.deepEqual([...nearestIndices(3, 6)], [0, 0, 1, 1, 2, 2]);
  // 6 -> 13 as FeaturePyramidNetwork upsamples a 6-row level onto a 13-row one.
  assert.deepEqual([...nearestIndices(6, 13)], [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  // A scale_factor is used as given: 1/1.5 per step, not in/out.
  assert.deepEqual([...nearestIndices(6, 9, 1.5)], [0, 0, 1, 2, 2, 3, 4, 4, 5]);
  assert.deepEqual([...nearestIndices(13, 5)], [0, 2, 5, 7, 10]);
});

test("bilinear samples clamp half-pixel sources at 0 and map corners with align_corners", () => {
  assert.deepEqual(linearSamples(2, 4, false), [[0, 1, 0], [0, 1, 0.25], [0, 1, 0.75], [1, 1, 0.25]]);
  assert.deepEqual(linearSamples(3, 5, true), [[0, 1, 0], [0, 1, 0.5], [1, 2, 0], [1, 2, 0.5], [2, 2, 0]]);
  assert.deepEqual(linearSamples(4, 1, true), [[0, 1, 0]]);
});

test("interpolate refuses what torch refuses, in torch's words, and what fxc lacks, naming the fix", () => {
  const refuses = (options: Parameters<typeof F.interpolate>[1], pattern: RegExp): void => {
    class Probe extends Module {
      conv = new Conv2d(3, 4, 1);
      forward(x: Tensor): Tensor {
        return F.interpolate(this.conv.call(x), options);
      }
    }
    assert.throws(() => getGraphNodeNames(new Probe(), { size: [8, 8] }), (e: Error) => pattern.test(e.message) && !e.message.includes("\n"));
  };
  refuses({ size: 4, scale_factor: 2 }, /^interpolate: only one of size or scale_factor should be defined$/);
  refuses({}, /^interpolate: either size or scale_factor should be defined$/);
  refuses({ size: 4, align_corners: true }, /align_corners option can only be set with the interpolating modes/);
  refuses({ size: [4, 4, 4] }, /Input and output must have the same number of spatial dimensions/);
  refuses({ size: 4, mode: "bicubic" as "bilinear" }, /mode 'bicubic' is not supported by fxc; use 'nearest' or 'bilinear'/);
  refuses({ size: 4, mode: "bilinear", antialias: true }, /antialias=True is not supported by fxc/);
});

test("the compiled module calls one interpolate kernel with torch's size and scale", () => {
  const fx = createFeatureExtractor(new InterpolateProbe(), { returnNodes: ["interpolate_2", "interpolate_5"], size: [13, 11] });
  const calls = fx.program.instructions.filter((i) => i.op === "interpolate").map((i) => i.attrs);
  assert.deepEqual(calls, [
    { size: [9, 7], mode: "nearest", scale: [1.5, 1.5] },
    { size: [9, 17], mode: "bilinear", alignCorners: true },
  ]);
});

// Values against torch on both engines and layouts.
testFixtureCases(
  fixtureCases((c) => c.id === "interpolate_probe"),
  { interpolate_probe: () => new InterpolateProbe() },
);
