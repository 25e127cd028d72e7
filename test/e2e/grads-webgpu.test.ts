import assert from "node:assert/strict";
import { tf } from "../../runtime/index.js";
import { chooseBackend } from "../../runtime/backend.js";
import { maxPool2d } from "../../runtime/ops/pool.js";
import { checkGradients, GRAD_CASES } from "../support/grads.js";
import { webgpuTest } from "../support/webgpu.js";

/**
 * Training on tfjs's webgpu backend (lavapipe in CI, which runs every shader on the CPU, so two
 * families here; grads-families runs every case on the CPU backends): the gradients of
 * mobilenet_v3_small's fixture (depthwise convolutions, squeeze-excitation, hardswish, batch
 * statistics in train mode) and of the resnet18 FPN backbone's (nearest upsampling, the 1x1 max
 * pool of LastLevelMaxPool) equal torch autograd's within the same bound, in both modes.
 */
for (const id of ["mobilenet_v3_small", "resnet18_fpn"]) {
  for (const run of GRAD_CASES[id]!.runs) {
    webgpuTest(`${id} ${run.mode} on webgpu: gradients equal torch autograd's`, () => checkGradients(id, run, { backend: "webgpu" }));
  }
}

webgpuTest("a 1x1 max pool with a stride (LastLevelMaxPool) keeps every stride-th value and its gradient on webgpu, under the gradient tape", async () => {
  await chooseBackend("webgpu");
  const [n, h, w, c] = [2, 5, 7, 3];
  const [sh, sw] = [2, 3];
  const values = Float32Array.from({ length: n * h * w * c }, (_, i) => i + 1);
  const x = tf.variable(tf.tensor4d(values, [n, h, w, c]));
  try {
    const picked = (i: number): boolean => {
      const [row, column] = [Math.floor(i / (w * c)) % h, Math.floor(i / c) % w];
      return row % sh === 0 && column % sw === 0;
    };
    const { value, grads } = tf.variableGrads(() => {
      const y = maxPool2d(x, { kernel: [1, 1], stride: [sh, sw], padding: [0, 0] });
      assert.deepEqual(y.shape, [n, 3, 3, c]);
      return tf.sum(y) as tf.Scalar;
    }, [x]);
    assert.equal((await value.data())[0], values.filter((_, i) => picked(i)).reduce((a, b) => a + b, 0));
    assert.deepEqual(Array.from(await grads[x.name]!.data()), Array.from(values, (_, i) => (picked(i) ? 1 : 0)));
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    x.dispose();
  }
});
