// createDetector's own contract on a tiny Mask R-CNN (torchvision's numbers are
// test/e2e/detection-maskrcnn.test.ts's): the published checkpoints' older keys load, a checkpoint for
// other classes and bad images are one line, the model's mode survives, the size cache is transparent.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AnchorGenerator,
  Conv2d,
  FasterRCNN,
  FastRCNNPredictor,
  FeaturePyramidNetwork,
  LastLevelMaxPool,
  MaskRCNN,
  MaskRCNNHeads,
  MaskRCNNPredictor,
  Module,
  MultiScaleRoIAlign,
  batchNorm2d,
  resnet,
  resnetFpnBackbone,
  type Tensor,
} from "../../models/index.js";
import { createFeatureExtractor, type FeatureExtractor } from "../../compiler/api.js";
import { createDetector, DetectorError, type DetectionResult } from "../../compiler/detection/index.js";
import { memorySource, WeightsError, type TensorSource } from "../../runtime/index.js";
import type { ImageTensor } from "../../runtime/detection/index.js";
import { seededInput, seededTensor } from "../support/seeded.js";
import { DETECTION_WEIGHTS, pictureNames, pictureTensor, renamedDetectionWeights } from "../support/detection.js";
import { TinyMaskRCNN } from "../fixtures/detection/tinyDetectors.js";

class TinyBackbone extends Module {
  conv = new Conv2d(3, 8, 3, { stride: 4, padding: 1 });
  readonly outChannels = 8;
  forward(x: Tensor): Record<string, Tensor> {
    return { "0": this.conv.call(x) };
  }
}

function tinyMaskRCNN(numClasses = 4): MaskRCNN {
  // Narrow heads keep it fast; given predictors mean no numClasses, as in torchvision.
  return new MaskRCNN(new TinyBackbone(), {
    minSize: 64,
    maxSize: 96,
    boxScoreThresh: 0,
    rpnAnchorGenerator: new AnchorGenerator([[16, 32]], [[0.5, 1.0, 2.0]]),
    boxRoiPool: new MultiScaleRoIAlign(["0"], 7, 2),
    maskRoiPool: new MultiScaleRoIAlign(["0"], 14, 2),
    boxPredictor: new FastRCNNPredictor(1024, numClasses),
    maskHead: new MaskRCNNHeads(8, [16, 16], 1),
    maskPredictor: new MaskRCNNPredictor(16, 8, numClasses),
  });
}

/** Seeded weights under the model's keys, renamed by `rename` (a checkpoint's older names). */
function weights(model: Module, rename: (key: string) => string = (k) => k): TensorSource {
  return memorySource(new Map(model.stateDictShapes().map(([key, shape]) => [rename(key), { shape, data: seededTensor(key, shape, 5) }])), "tiny.safetensors");
}

function image(height: number, width: number, seed: number): ImageTensor {
  return { data: seededInput([3, height, width], seed).map((v) => (v + 1) / 2), channels: 3, height, width };
}

const plain = (results: DetectionResult[]): unknown => results.map((r) => ({ boxes: [...r.boxes], scores: [...r.scores], labels: [...r.labels], masks: r.masks === undefined ? undefined : [...r.masks.data] }));

test("the published checkpoints' older keys (rpn.head.conv.*, mask_head.mask_fcn{i}.*) load as torchvision's loaders rename them, and a prefix selects a nested checkpoint", async () => {
  const model = tinyMaskRCNN();
  const images = [image(48, 64, 1), image(70, 40, 2)];
  const current = await createDetector(model).load(weights(model), { engine: "tfjs" });
  const older = await createDetector(model).load(
    weights(model, (k) =>
      k
        .replace(/^rpn\.head\.conv\.0\.0\./, "rpn.head.conv.")
        .replace(/^roi_heads\.mask_head\.(\d+)\.0\./, (_, i: string) => `roi_heads.mask_head.mask_fcn${Number(i) + 1}.`),
    ),
    { engine: "tfjs" },
  );
  // A checkpoint nested under a prefix, as LoadOptions.prefix selects it.
  const nested = await createDetector(model).load(weights(model, (k) => `model.${k}`), { engine: "tfjs", prefix: "model." });
  try {
    const [a, b, c] = [await current.detect(images), await older.detect(images), await nested.detect(images)];
    assert.deepEqual(plain(c), plain(a));
    assert.equal(a.length, 2);
    assert.ok(a.every((r) => r.scores.length > 0 && r.masks !== undefined && r.masks.height * r.masks.width * r.scores.length === r.masks.data.length), "detections with masks of the input's size");
    assert.deepEqual(a.map((r) => [r.masks!.height, r.masks!.width]), [[48, 64], [70, 40]]);
    assert.deepEqual(plain(b), plain(a));
  } finally {
    current.dispose();
    older.dispose();
    nested.dispose();
  }
});

test("a checkpoint for another number of classes is one line naming the key, both shapes and numClasses", async () => {
  const checkpoint = weights(tinyMaskRCNN(91));
  await assert.rejects(createDetector(tinyMaskRCNN(4)).load(checkpoint, { engine: "tfjs" }), (e: Error) => {
    assert.ok(e instanceof WeightsError);
    assert.equal(
      e.message,
      "tiny.safetensors: tensor 'roi_heads.box_predictor.cls_score.weight' has shape [91, 1024], expected [4, 1024]: the checkpoint is for 91 classes, the model for 4; build the model with numClasses: 91",
    );
    return true;
  });
});

test("bad images are one line each, and the model keeps its mode; the size cache gives the same results", async () => {
  const model = tinyMaskRCNN();
  const detector = await createDetector(model).load(weights(model), { engine: "tfjs", cachedSizes: 1 });
  try {
    const refuses = async (images: readonly ImageTensor[], pattern: RegExp): Promise<void> =>
      assert.rejects(detector.detect(images), (e: Error) => e instanceof DetectorError && pattern.test(e.message) && !e.message.includes("\n"));
    await refuses([], /^detect got no images; pass at least one C × H × W image$/);
    await refuses([{ data: new Float32Array(10), channels: 3, height: 4, width: 4 }], /^image 0 holds 10 values, not 3 × 4 × 4; pass C × H × W float32 data$/);
    await refuses([{ data: new Float32Array(16), channels: 1, height: 4, width: 4 }], /^image 0 has 1 channels, the model normalizes 3 \(imageMean\); pass RGB images/);
    assert.equal(model.training, true, "a freshly built model is in train mode, as torch's");
    const first = await detector.detect([image(48, 64, 1)]);
    // Another padded size evicts the first (cachedSizes 1); coming back compiles and loads it again.
    // Called together, the calls run one after the other: no call's stage is evicted under it.
    const [, again] = await Promise.all([detector.detect([image(90, 50, 3)]), detector.detect([image(48, 64, 1)])]);
    assert.deepEqual(plain(again!), plain(first));
    assert.ok(model.namedModules().every(([, m]) => m.training), "every module is back in train mode");
    const [withIntermediates] = await detector.detect([image(48, 64, 1)], { intermediates: true });
    const steps = withIntermediates!.intermediates!;
    assert.deepEqual(steps.transformedSize, [64, 85]);
    assert.deepEqual(steps.batchShape, [1, 3, 64, 96]);
    assert.deepEqual(Object.keys(steps.features), ["0"]);
    assert.deepEqual(steps.features["0"]!.shape, [1, 8, 16, 24]);
    assert.ok(steps.proposals.length > 0 && steps.proposals.length % 4 === 0);
  } finally {
    detector.dispose();
  }
  await assert.rejects(detector.detect([image(48, 64, 1)]), /^DetectorError: this detector was disposed; load it again$/);
});

/** The seed's Resnet50WithFPN, on resnet18: an extractor for the body, an FPN over its dry run's channels. */
class ExtractorWithFPN extends Module {
  body: FeatureExtractor;
  fpn: FeaturePyramidNetwork;
  readonly outChannels = 32;

  constructor() {
    super();
    this.body = createFeatureExtractor(resnet.resnet18(), { returnNodes: { layer1: "0", layer2: "1", layer3: "2", layer4: "3" } });
    const out = this.body.dryRun([2, 3, 224, 224]);
    this.fpn = new FeaturePyramidNetwork(Object.values(out).map((o) => o.shape[1]!), this.outChannels, new LastLevelMaxPool());
  }

  forward(x: Tensor): Record<string, Tensor> {
    return this.fpn.call(this.body.call(x));
  }
}

test("FasterRCNN over the seed's extractor-based backbone detects as over resnetFpnBackbone, whose state_dict it shares", async () => {
  const options = { numClasses: 3, minSize: 64, maxSize: 96, boxScoreThresh: 0, rpnPostNmsTopNTest: 50, boxDetectionsPerImg: 10 } as const;
  const composed = new FasterRCNN(new ExtractorWithFPN(), options);
  const reference = new FasterRCNN(resnetFpnBackbone({ backboneName: "resnet18", outChannels: 32, normLayer: batchNorm2d }), options);
  assert.deepEqual(composed.stateDictShapes(), reference.stateDictShapes());
  const images = [image(48, 64, 1)];
  const results: DetectionResult[][] = [];
  for (const model of [composed, reference]) {
    const detector = await createDetector(model).load(weights(reference), { engine: "tfjs" });
    try {
      results.push(await detector.detect(images));
    } finally {
      detector.dispose();
    }
  }
  const [a, b] = results as [DetectionResult[], DetectionResult[]];
  assert.equal(a[0]!.scores.length, 10);
  assert.deepEqual(plain(a), plain(b));
});

test("a checkpoint whose FPN is from before torchvision 0.13 (backbone.fpn.inner_blocks.{i}.weight, as the published COCO files) loads as torchvision's FeaturePyramidNetwork renames it", async () => {
  const model = TinyMaskRCNN();
  const oldFpn = await renamedDetectionWeights((key) => key.replace(/^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.0\./, "$1."), "old-fpn.safetensors");
  assert.ok(oldFpn.keys().includes("backbone.fpn.inner_blocks.0.weight"), "the fixture has an FPN to rename");
  const images = [await pictureTensor(pictureNames()[0]!)];
  const current = await createDetector(model).load(DETECTION_WEIGHTS, { engine: "tfjs" });
  const older = await createDetector(model).load(oldFpn, { engine: "tfjs" });
  try {
    const [a, b] = [await current.detect(images), await older.detect(images)];
    assert.ok(a[0]!.scores.length > 0, "the fixture detects something");
    assert.deepEqual(plain(b), plain(a));
  } finally {
    current.dispose();
    older.dispose();
  }
});
