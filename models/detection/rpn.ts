import { Module, Sequential, Conv2d, Conv2dNormActivation, type Tensor, type KeyRename } from "../nn/index.js";
import type { AnchorGenerator } from "./anchor_utils.js";

/**
 * torchvision.models.detection.rpn, module for module: RPNHead's `conv` (conv_depth
 * Conv2dNormActivation without norm: keys `conv.0.0.weight`), `cls_logits` and `bbox_pred`;
 * RegionProposalNetwork's `anchor_generator` and `head`. What follows the head (anchors,
 * decoding, top-n, NMS) depends on the data: the detector runs it with runtime/detection.
 */
export class RPNHead extends Module {
  conv: Sequential;
  cls_logits: Conv2d;
  bbox_pred: Conv2d;

  constructor(inChannels: number, numAnchors: number, convDepth = 1) {
    super();
    const convs = Array.from({ length: convDepth }, () => new Conv2dNormActivation(inChannels, inChannels, { kernelSize: 3, normLayer: null }));
    this.conv = new Sequential(...convs);
    this.cls_logits = new Conv2d(inChannels, numAnchors, 1, { stride: 1 });
    this.bbox_pred = new Conv2d(inChannels, numAnchors * 4, 1, { stride: 1 });
  }

  /** torchvision's `_load_from_state_dict` (version < 2): the published files' single `conv` is now `conv.0.0`. */
  override legacyKeyRenames(): readonly KeyRename[] {
    return [{ pattern: "^conv\\.(weight|bias)$", replacement: "conv.0.0.$1" }];
  }

  /** One level of torchvision's forward (which loops over the levels): objectness logits [N, A, H, W] and deltas [N, 4A, H, W]. */
  forward(feature: Tensor): [Tensor, Tensor] {
    const t = this.conv.call(feature);
    return [this.cls_logits.call(t), this.bbox_pred.call(t)];
  }
}

/** torchvision keeps train and test values side by side (`dict(training=..., testing=...)`). */
export interface TrainTest {
  readonly training: number;
  readonly testing: number;
}

export interface RegionProposalNetworkOptions {
  readonly fgIouThresh: number;
  readonly bgIouThresh: number;
  readonly batchSizePerImage: number;
  readonly positiveFraction: number;
  readonly preNmsTopN: TrainTest;
  readonly postNmsTopN: TrainTest;
  readonly nmsThresh: number;
  readonly scoreThresh?: number;
}

export class RegionProposalNetwork extends Module {
  anchor_generator: AnchorGenerator;
  head: RPNHead;
  readonly fgIouThresh: number;
  readonly bgIouThresh: number;
  readonly batchSizePerImage: number;
  readonly positiveFraction: number;
  readonly preNmsTopN: TrainTest;
  readonly postNmsTopN: TrainTest;
  readonly nmsThresh: number;
  readonly scoreThresh: number;
  /** torchvision's `min_size` of the proposals (remove_small_boxes), fixed at 1e-3. */
  readonly minSize = 1e-3;
  /** torchvision's BoxCoder(weights=(1.0, 1.0, 1.0, 1.0)). */
  readonly boxCoderWeights: readonly [number, number, number, number] = [1, 1, 1, 1];

  constructor(anchorGenerator: AnchorGenerator, head: RPNHead, options: RegionProposalNetworkOptions) {
    super();
    this.anchor_generator = anchorGenerator;
    this.head = head;
    this.fgIouThresh = options.fgIouThresh;
    this.bgIouThresh = options.bgIouThresh;
    this.batchSizePerImage = options.batchSizePerImage;
    this.positiveFraction = options.positiveFraction;
    this.preNmsTopN = options.preNmsTopN;
    this.postNmsTopN = options.postNmsTopN;
    this.nmsThresh = options.nmsThresh;
    this.scoreThresh = options.scoreThresh ?? 0.0;
  }

  /** torchvision's `pre_nms_top_n()` and `post_nms_top_n()`: the testing values in eval mode. */
  topN(): { readonly pre: number; readonly post: number } {
    const key = this.training ? "training" : "testing";
    return { pre: this.preNmsTopN[key], post: this.postNmsTopN[key] };
  }

  forward(): never {
    throw new Error("RegionProposalNetwork depends on the data after its head; run the model through createDetector(model)");
  }
}
