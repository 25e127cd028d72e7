import { Module } from "../nn/index.js";
import type { GeneralizedRCNNTransform } from "./transform.js";
import type { RegionProposalNetwork } from "./rpn.js";
import type { RoIHeads } from "./roi_heads.js";

/** A backbone a detector can take: any module with `outChannels` (torchvision's `out_channels`), the width of every level it returns. */
export type DetectionBackbone = Module & { readonly outChannels: number };

/**
 * torchvision.models.detection.generalized_rcnn.GeneralizedRCNN: `transform`, `backbone`,
 * `rpn`, `roi_heads`, in that order (so the state_dict is backbone., rpn., roi_heads.).
 * Its eval forward mixes dense stages with work that depends on the data; createDetector(model)
 * compiles the first and runs the second with runtime/detection, in torchvision's order.
 */
export class GeneralizedRCNN extends Module {
  transform: GeneralizedRCNNTransform;
  backbone: DetectionBackbone;
  rpn: RegionProposalNetwork;
  roi_heads: RoIHeads;

  constructor(backbone: DetectionBackbone, rpn: RegionProposalNetwork, roiHeads: RoIHeads, transform: GeneralizedRCNNTransform) {
    super();
    this.transform = transform;
    this.backbone = backbone;
    this.rpn = rpn;
    this.roi_heads = roiHeads;
  }

  forward(): never {
    throw new Error(`${this.typeName} depends on the data between its dense stages; run it through createDetector(model)`);
  }
}
