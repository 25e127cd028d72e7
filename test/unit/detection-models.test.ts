// torchvision's detection models, module for module: state_dict keys and shapes equal torchvision's
// builders' (test/fixtures/make_detection_facts.py), so its published checkpoints load unchanged,
// and bad configurations are refused as torchvision refuses them, in one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  AnchorGenerator,
  FasterRCNN,
  FastRCNNPredictor,
  GeneralizedRCNN,
  MaskRCNN,
  MaskRCNNPredictor,
  MultiScaleRoIAlign,
  RPNHead,
  fasterrcnn_resnet50_fpn,
  maskrcnn_resnet50_fpn,
  resnetFpnBackbone,
  Conv2d,
  Module,
  type Tensor,
} from "../../models/index.js";
import { FIXTURES } from "../support/fixtures.js";

interface Layout {
  readonly stateDict: [string, number[]][];
  readonly frozen: string[];
}

const FACTS = JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "detection_facts.json.gz"))).toString("utf8")) as Record<string, Layout>;

function assertLayout(model: Module, id: string): void {
  const facts = FACTS[id]!;
  assert.deepEqual(model.stateDictShapes().map(([k, s]) => [k, [...s]]), facts.stateDict, `${id}: state_dict keys and shapes`);
  const frozen = model.namedParameters().filter(([, p]) => !p.requiresGrad).map(([name]) => name);
  assert.deepEqual(frozen, facts.frozen, `${id}: parameters with requires_grad False`);
}

test("fasterrcnn_resnet50_fpn() and maskrcnn_resnet50_fpn() have the state_dict of torchvision's builders (weights=None: BatchNorm2d, all trainable)", () => {
  const onWarning = (): void => {};
  assertLayout(fasterrcnn_resnet50_fpn({ onWarning }), "fasterrcnn_resnet50_fpn_builder");
  assertLayout(maskrcnn_resnet50_fpn({ onWarning }), "maskrcnn_resnet50_fpn_builder");
});

test("with weights: 'COCO_V1' the builders make the published checkpoints' layout (FrozenBatchNorm2d with eps 0, 3 trainable layers)", () => {
  const faster = fasterrcnn_resnet50_fpn({ weights: "COCO_V1" });
  const mask = maskrcnn_resnet50_fpn({ weights: "DEFAULT" });
  assertLayout(faster, "fasterrcnn_resnet50_fpn_coco");
  assertLayout(mask, "maskrcnn_resnet50_fpn_coco");
  // torchvision's overwrite_eps(model, 0.0) after loading COCO_V1.
  const eps = mask.namedModules().flatMap(([, m]) => (m.typeName === "FrozenBatchNorm2d" ? [(m as Module & { eps: number }).eps] : []));
  assert.equal(eps.length, 53);
  assert.ok(eps.every((e) => e === 0));
  // ImageNet backbone weights only: FrozenBatchNorm2d with its default eps.
  const backboneOnly = maskrcnn_resnet50_fpn({ weightsBackbone: "IMAGENET1K_V1", numClasses: 3 });
  const bn = backboneOnly.backbone.namedModules().find(([, m]) => m.typeName === "FrozenBatchNorm2d")![1] as Module & { eps: number };
  assert.equal(bn.eps, 1e-5);
});

test("the configuration torchvision's forward reads is torchvision's default", () => {
  const model = maskrcnn_resnet50_fpn({ onWarning: () => {} });
  assert.ok(model instanceof MaskRCNN && model instanceof FasterRCNN && model instanceof GeneralizedRCNN);
  assert.deepEqual(model.transform.minSize, [800]);
  assert.equal(model.transform.maxSize, 1333);
  assert.deepEqual(model.transform.imageMean, [0.485, 0.456, 0.406]);
  assert.deepEqual(model.transform.imageStd, [0.229, 0.224, 0.225]);
  assert.equal(model.transform.sizeDivisible, 32);
  assert.deepEqual(model.rpn.anchor_generator.sizes, [[32], [64], [128], [256], [512]]);
  assert.deepEqual(model.rpn.anchor_generator.aspectRatios, Array(5).fill([0.5, 1, 2]));
  assert.deepEqual(model.rpn.anchor_generator.numAnchorsPerLocation(), [3, 3, 3, 3, 3]);
  assert.deepEqual(model.eval().rpn.topN(), { pre: 1000, post: 1000 });
  assert.deepEqual(model.train().rpn.topN(), { pre: 2000, post: 2000 });
  assert.equal(model.rpn.nmsThresh, 0.7);
  assert.equal(model.rpn.scoreThresh, 0);
  const heads = model.roi_heads;
  assert.deepEqual([heads.scoreThresh, heads.nmsThresh, heads.detectionsPerImg], [0.05, 0.5, 100]);
  assert.deepEqual(heads.bboxRegWeights, [10, 10, 5, 5]);
  assert.deepEqual([heads.box_roi_pool.featmapNames, heads.box_roi_pool.outputSize, heads.box_roi_pool.samplingRatio], [["0", "1", "2", "3"], [7, 7], 2]);
  assert.deepEqual(heads.mask_roi_pool?.outputSize, [14, 14]);
  assert.ok(heads.hasMask());
  assert.ok(!fasterrcnn_resnet50_fpn({ onWarning: () => {} }).roi_heads.hasMask());
  const custom = fasterrcnn_resnet50_fpn({ minSize: [640, 672], maxSize: 1000, rpnPostNmsTopNTest: 300, boxScoreThresh: 0.3, boxDetectionsPerImg: 5, numClasses: 3, onWarning: () => {} });
  assert.deepEqual([custom.transform.minSize, custom.transform.maxSize, custom.eval().rpn.topN().post, custom.roi_heads.scoreThresh, custom.roi_heads.detectionsPerImg], [[640, 672], 1000, 300, 0.3, 5]);
  assert.deepEqual(custom.stateDictShapes().find(([k]) => k === "roi_heads.box_predictor.bbox_pred.weight")?.[1], [12, 1024]);
});

/** The seed's shape of model: a backbone of the user's with outChannels. */
class TinyBackbone extends Module {
  conv = new Conv2d(3, 8, 3, { stride: 4, padding: 1 });
  readonly outChannels = 8;
  forward(x: Tensor): Record<string, Tensor> {
    return { "0": this.conv.call(x) };
  }
}

test("MaskRCNN and FasterRCNN take any backbone with outChannels, and size their heads by it", () => {
  const model = new MaskRCNN(new TinyBackbone(), { numClasses: 4, rpnAnchorGenerator: new AnchorGenerator([[16, 32]], [[1.0]]), boxRoiPool: new MultiScaleRoIAlign(["0"], 7, 2), maskRoiPool: new MultiScaleRoIAlign(["0"], 14, 2) });
  const shapes = Object.fromEntries(model.stateDictShapes());
  assert.deepEqual(shapes["rpn.head.conv.0.0.weight"], [8, 8, 3, 3]);
  assert.deepEqual(shapes["rpn.head.cls_logits.weight"], [2, 8, 1, 1]);
  assert.deepEqual(shapes["roi_heads.box_head.fc6.weight"], [1024, 8 * 49]);
  assert.deepEqual(shapes["roi_heads.mask_head.0.0.weight"], [256, 8, 3, 3]);
  assert.deepEqual(shapes["roi_heads.mask_predictor.conv5_mask.weight"], [256, 256, 2, 2]);
  assert.deepEqual(shapes["roi_heads.mask_predictor.mask_fcn_logits.weight"], [4, 256, 1, 1]);
  const faster = new FasterRCNN(resnetFpnBackbone({ backboneName: "resnet18", outChannels: 32 }), { numClasses: 2 });
  assert.deepEqual(Object.fromEntries(faster.stateDictShapes())["roi_heads.box_head.fc6.weight"], [1024, 32 * 49]);
});

test("bad configurations are refused as torchvision refuses them, in one line", () => {
  const refuses = (make: () => unknown, pattern: RegExp): void => assert.throws(make, (e: Error) => pattern.test(e.message) && !e.message.includes("\n"));
  const backbone = (): TinyBackbone => new TinyBackbone();
  refuses(() => new FasterRCNN(new MultiScaleRoIAlign(["0"], 7, 2), { numClasses: 3 }), /^backbone should contain an attribute out_channels .*; give the backbone module a readonly outChannels$/);
  refuses(() => new FasterRCNN(backbone()), /^num_classes should not be None when box_predictor is not specified$/);
  refuses(() => new FasterRCNN(backbone(), { numClasses: 3, boxPredictor: new FastRCNNPredictor(1024, 3) }), /^num_classes should be None when box_predictor is specified$/);
  refuses(() => new MaskRCNN(backbone(), { numClasses: 3, maskPredictor: new MaskRCNNPredictor(256, 256, 3) }), /^num_classes should be None when mask_predictor is specified$/);
  refuses(() => new FasterRCNN(backbone(), { numClasses: 3, rpnAnchorGenerator: new RPNHead(8, 3) as unknown as AnchorGenerator }), /^rpn_anchor_generator should be of type AnchorGenerator or None instead of RPNHead$/);
  refuses(() => new FasterRCNN(backbone(), { numClasses: 3, boxRoiPool: new RPNHead(8, 3) as unknown as MultiScaleRoIAlign }), /^box_roi_pool should be of type MultiScaleRoIAlign or None instead of RPNHead$/);
  refuses(() => new MaskRCNN(backbone(), { numClasses: 3, maskRoiPool: new RPNHead(8, 3) as unknown as MultiScaleRoIAlign }), /^mask_roi_pool should be of type MultiScaleRoIAlign or None instead of RPNHead$/);
  refuses(() => new FasterRCNN(backbone(), { numClasses: 0 }), /^numClasses should be a positive integer .*got 0$/);
  refuses(() => maskrcnn_resnet50_fpn({ weights: "COCO_V1", numClasses: 3 }), /^The parameter 'num_classes' expected value 91 but got 3 instead\.$/);
  refuses(() => fasterrcnn_resnet50_fpn({ weightsBackbone: "DEFAULT", trainableBackboneLayers: 6 }), /^Trainable backbone layers should be in the range \[0,5\], got 6 $/);
  const warnings: string[] = [];
  fasterrcnn_resnet50_fpn({ trainableBackboneLayers: 2, onWarning: (m) => warnings.push(m) });
  assert.match(warnings.join(), /falling back to trainable_backbone_layers=5/);
});
