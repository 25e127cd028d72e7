import { test } from "node:test";
import assert from "node:assert/strict";
import { tf } from "../../runtime/index.js";
import { depthwiseConv2d } from "../../runtime/ops/conv.js";
import { seededUniform } from "../support/seeded.js";

/**
 * runtime/ops's depthwise convolution against a per-channel tf.conv2d with explicit padding (one
 * input channel, one output channel each), and its output size against torch's formula, per axis:
 * tfjs's depthwise kernel sizes its output from the filter's height and the first stride alone
 * when its padding is a number, so a rectangular filter or unequal strides must not reach it so.
 */

const outSize = (size: number, kernel: number, stride: number, pad: number): number => Math.floor((size + 2 * pad - kernel) / stride) + 1;

test("rectangular filters, unequal strides and paddings give torch's sizes and values on every axis", async () => {
  const cases: { kernel: [number, number]; stride: [number, number]; padding: [number, number] }[] = [
    { kernel: [3, 3], stride: [2, 1], padding: [1, 1] },
    { kernel: [3, 1], stride: [1, 1], padding: [1, 0] },
    { kernel: [1, 3], stride: [1, 2], padding: [0, 1] },
    { kernel: [3, 3], stride: [1, 1], padding: [1, 1] },
    { kernel: [5, 3], stride: [2, 2], padding: [0, 0] },
  ];
  for (const { kernel, stride, padding } of cases) {
    const [h, w, c] = [9, 7, 3];
    const x = seededUniform([2, h, w, c], 1) as tf.Tensor4D;
    const filter = seededUniform([kernel[0], kernel[1], c, 1], 2) as tf.Tensor4D;
    const got = depthwiseConv2d(x, filter, null, { stride, padding });
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [padding[0], padding[0]], [padding[1], padding[1]], [0, 0]];
    const want = tf.concat(
      Array.from({ length: c }, (_, ch) => tf.conv2d(tf.slice(x, [0, 0, 0, ch], [-1, -1, -1, 1]) as tf.Tensor4D, tf.slice(filter, [0, 0, ch, 0], [-1, -1, 1, 1]) as tf.Tensor4D, stride, pad)),
      3,
    );
    const what = `${kernel.join("x")} filter, stride ${stride.join("x")}, padding ${padding.join("x")}`;
    assert.deepEqual(got.shape, [2, outSize(h, kernel[0], stride[0], padding[0]), outSize(w, kernel[1], stride[1], padding[1]), c], what);
    assert.deepEqual(want.shape, got.shape, what);
    const [g, e] = [(await got.data()) as Float32Array, (await want.data()) as Float32Array];
    assert.ok(g.every((v, i) => Math.abs(v - e[i]!) <= 1e-5), what);
    tf.dispose([x, filter, got, want]);
  }
});
