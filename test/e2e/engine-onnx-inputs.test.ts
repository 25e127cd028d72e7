import { test } from "node:test";
import assert from "node:assert/strict";
import { createFeatureExtractor } from "../../compiler/api.js";
import { interpret } from "../../compiler/interpret/interpreter.js";
import { Conv2d, Module, type Tensor } from "../../models/nn/index.js";
import { OnnxProgram, onnxRuntime, type HostArray } from "../../runtime/onnx/engine.js";
import { prepareParams } from "../../runtime/params.js";
import { seededWeights } from "../support/seeded.js";

/** The ONNX engine's program of several inputs (issue #12, point 3): one graph input per input, one graph for every batch. */

class ImageAndOffset extends Module {
  conv = new Conv2d(3, 2, 1);
  forward(image: Tensor, offset: Tensor): Tensor {
    return this.conv.call(image).mean([2, 3]).add(offset);
  }
}

test("a program of two inputs with free batches gets one session for every batch, fed input0 and input1", async () => {
  const model = new ImageAndOffset();
  const fx = createFeatureExtractor(model, { inputShapes: [["N", 3, 4, 4], ["N", 2]], returnNodes: ["add"], suppressDiffWarning: true });
  const host = await prepareParams(seededWeights(model, 1), fx.program.checkpoint, fx.program.params);
  const program = new OnnxProgram(await onnxRuntime(), interpret(fx.program) as never, host);
  try {
    assert.equal(await program.prepare([[4, 4, 3], [2]]), true, "the batch probes agree: one graph");
    assert.equal(program.heldParams(), undefined, "the weights went to ONNX Runtime, so no other session could be made");
    for (const batch of [3, 1]) {
      const image: HostArray = { data: new Float32Array(batch * 48), shape: [batch, 4, 4, 3] };
      const offset: HostArray = { data: Float32Array.from({ length: batch * 2 }, (_, i) => i), shape: [batch, 2] };
      const { add } = (await program.run([image, offset])) as { add: HostArray };
      assert.deepEqual(add.shape, [batch, 2]);
      // A zero image: the mean is the conv's bias, the same in every row.
      const bias = [add.data[0]!, add.data[1]! - 1];
      add.data.forEach((v, i) => assert.ok(Math.abs(v - i - bias[i % 2]!) < 1e-5, `row ${i >> 1}, column ${i % 2}: ${v}`));
    }
  } finally {
    await program.release();
  }
});
