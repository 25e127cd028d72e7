// conv_transpose2d (Mask R-CNN's conv5_mask) compiled and run on each engine, against torch's
// definition written out as loops: every input pixel scatters kernel * weight into the output.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { ConvTranspose2d, F, Module, type Tensor } from "../../models/nn/index.js";
import { createFeatureExtractor } from "../../compiler/api.js";
import { seededInput, seededTensor, seededWeights } from "../support/seeded.js";
import { ENGINES_UNDER_TEST } from "../support/fixtures.js";

/** torch's conv_transpose2d over NCHW, weight [in, out, kh, kw]. */
function reference(x: Float32Array, [n, c, h, w]: readonly number[], weight: Float32Array, [, o, kh, kw]: readonly number[], bias: Float32Array, stride: number, padding: number): { data: Float32Array; shape: number[] } {
  const oh = (h - 1) * stride - 2 * padding + kh;
  const ow = (w - 1) * stride - 2 * padding + kw;
  const out = new Float64Array(n * o * oh * ow);
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++) for (let i = 0; i < oh * ow; i++) out[(b * o + oc) * oh * ow + i] = bias[oc]!;
  for (let b = 0; b < n; b++)
    for (let ic = 0; ic < c; ic++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const v = x[((b * c + ic) * h + y) * w + xx]!;
          for (let oc = 0; oc < o; oc++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const oy = y * stride - padding + ky;
                const ox = xx * stride - padding + kx;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                out[((b * o + oc) * oh + oy) * ow + ox]! += v * weight[((ic * o + oc) * kh + ky) * kw + kx]!;
              }
        }
  return { data: Float32Array.from(out), shape: [n, o, oh, ow] };
}

class Upsampler extends Module {
  up: ConvTranspose2d;
  constructor(kernel: number, stride: number, padding: number) {
    super();
    this.up = new ConvTranspose2d(3, 5, kernel, stride, padding);
  }
  forward(x: Tensor): Tensor {
    return F.relu(this.up.call(x));
  }
}

for (const engine of ENGINES_UNDER_TEST) {
  // Kernel equal to stride without padding is one matrix product on tfjs (runtime/ops/conv.ts): 2 and 3 wide.
  for (const [kernel, stride, padding] of [[2, 2, 0], [3, 3, 0], [3, 2, 1], [4, 1, 0]] as const) {
    test(`${engine}: conv_transpose2d kernel ${kernel}, stride ${stride}, padding ${padding} equals torch's definition`, async () => {
      const model = new Upsampler(kernel, stride, padding);
      const inputShape = [2, 3, 6, 7];
      const fx = createFeatureExtractor(model, { returnNodes: ["relu"], size: [6, 7], layout: "nchw" });
      const extractor = await fx.load(seededWeights(model, 3), { engine });
      try {
        const input = seededInput(inputShape, 1);
        const x = tf.tensor4d(input, inputShape as [number, number, number, number]);
        const { relu } = await extractor.run(x);
        const weightShape = [3, 5, kernel, kernel];
        const want = reference(input, inputShape, seededTensor("up.weight", weightShape, 3), weightShape, seededTensor("up.bias", [5], 3), stride, padding);
        assert.deepEqual(relu!.shape, want.shape);
        const got = relu!.dataSync();
        const maxError = want.data.reduce((m, v, i) => Math.max(m, Math.abs(Math.max(v, 0) - got[i]!)), 0);
        assert.ok(maxError < 1e-5, `max error ${maxError}`);
        tf.dispose([x, relu!]);
      } finally {
        extractor.dispose();
      }
    });
  }
}
