import { createHash } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { createDetector } from "../../compiler/index.js";
import { ENGINES_UNDER_TEST } from "../support/fixtures.js";
import {
  BOX_TOLERANCE,
  DETECTION_WEIGHTS,
  SCORE_TOLERANCE,
  assertMaskRCNNEqualsTorchvision,
  expectedDetections,
  pairBoxes,
  pictureNames,
  pictureTensor,
  tinyDetectorConfig,
} from "../support/detection.js";
import { TinyFasterRCNN, TinyMaskRCNN } from "../fixtures/detection/tinyDetectors.js";

/**
 * Issue #9's end-to-end check (assertMaskRCNNEqualsTorchvision in test/support/detection.ts; the
 * tfjs backends run it in detection-backends.test.ts): MaskRCNN (and Faster R-CNN) built in TypeScript from
 * test/fixtures/detection/config.json, loaded from the weights torchvision 0.14.1 ran
 * (make_detection.py), run on its four pictures in one batch, equal to torchvision's eval outputs:
 *
 * - the same number of detections, labels equal, scores within 1e-4, boxes within 1e-3 of the
 *   picture's size (its longer side, in pixels);
 * - masks: mean absolute difference <= 1e-3 and binarized at 0.5 the same on >= 99.9% of pixels;
 * - on the way: the transformed sizes and the padded batch's shape exactly, each FPN level within
 *   1e-4 of its largest magnitude (strided as stored), the RPN proposals (each within 1e-3 of the
 *   transformed picture's size).
 *
 * Near ties: make_detection.py reran torchvision with the inputs of every data-dependent decision
 * (RPN top-k, each NMS, the box score threshold) moved by more than float32 rounding and kept only a
 * picture seed whose detections did not change (within half these bounds), and no box near a
 * LevelMapper boundary. Two things such a check cannot pin down, and how they are compared: detections
 * whose scores differ by less than the rounding may come out in either order (boxes are paired with
 * their partner order-free, pairBoxes, within the same bounds); and an RPN proposal in a near tie may be
 * swapped for its neighbour without changing any detection (the proposals every perturbed run kept,
 * proposalsStable, must each have a partner; the others may be missing). Nothing here is looser than
 * the issue's bounds.
 */

const config = tinyDetectorConfig();
const names = pictureNames(config);

test("the fixture's pictures are what torchvision read: fxc decodes the PNGs to the same pixels", async () => {
  for (const name of names) {
    const picture = await pictureTensor(name);
    const expected = await expectedDetections(name, config);
    const info = config.pictures.images.find((i) => i.name === name)!;
    assert.deepEqual([picture.height, picture.width], [...info.size], name);
    const pixels = Uint8Array.from(picture.data, (v) => Math.round(v * 255));
    assert.equal(createHash("sha256").update(pixels).digest("hex"), info.inputSha256, `${name}: C x H x W pixels`);
    assert.ok(expected.maskrcnn.scores.length >= 2, `${name}: the fixture has detections to compare (${expected.maskrcnn.scores.length})`);
  }
});

// Every engine the detector runs its dense stages on (tfjs on the cpu backend here, onnxruntime) runs the whole comparison.
for (const engine of ENGINES_UNDER_TEST) {
  test(`MaskRCNN over a mobilenet_v3_small FPN equals torchvision on ${names.length} pictures in one batch [${engine}]`, async (t) => {
    const detector = await createDetector(TinyMaskRCNN(config)).load(DETECTION_WEIGHTS, { engine, backend: "cpu" });
    assert.equal(detector.engine, engine);
    try {
      await assertMaskRCNNEqualsTorchvision(t, detector);
    } finally {
      detector.dispose();
    }
  });

  test(`Faster R-CNN of the same configuration equals torchvision's boxes, scores and labels [${engine}]`, async () => {
    // The MaskRCNN checkpoint: Faster R-CNN reads the keys it has (the mask head's are left over).
    const detector = await createDetector(TinyFasterRCNN(config)).load(DETECTION_WEIGHTS, { engine, backend: "cpu" });
    try {
      const pictures = await Promise.all(names.map(pictureTensor));
      const results = await detector.detect(pictures);
      for (const [index, name] of names.entries()) {
        const expected = await expectedDetections(name, config);
        const got = results[index]!;
        assert.equal(got.masks, undefined, `${name}: no masks from Faster R-CNN`);
        const paired = pairBoxes(expected.fasterrcnn, got, { box: BOX_TOLERANCE * Math.max(pictures[index]!.height, pictures[index]!.width), score: SCORE_TOLERANCE });
        assert.ok(typeof paired !== "string", `${name}: ${String(paired)}`);
      }
    } finally {
      detector.dispose();
    }
  });
}
