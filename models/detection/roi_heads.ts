import { Module } from "../nn/index.js";
import type { MultiScaleRoIAlign } from "../ops/poolers.js";

/**
 * torchvision.models.detection.roi_heads.RoIHeads, module for module: `box_roi_pool`,
 * `box_head`, `box_predictor`, and for Mask R-CNN `mask_roi_pool`, `mask_head`,
 * `mask_predictor` (set after construction, as torchvision's MaskRCNN does). The heads are
 * dense and compiled; pooling, decoding, thresholds and NMS depend on the data and run in the
 * detector with runtime/detection.
 */
export interface RoIHeadsOptions {
  readonly fgIouThresh: number;
  readonly bgIouThresh: number;
  readonly batchSizePerImage: number;
  readonly positiveFraction: number;
  /** BoxCoder's weights; torchvision's default (10, 10, 5, 5) when null. */
  readonly bboxRegWeights: readonly [number, number, number, number] | null;
  readonly scoreThresh: number;
  readonly nmsThresh: number;
  readonly detectionsPerImg: number;
}

export class RoIHeads extends Module {
  box_roi_pool: MultiScaleRoIAlign;
  box_head: Module;
  box_predictor: Module;
  mask_roi_pool: MultiScaleRoIAlign | null = null;
  mask_head: Module | null = null;
  mask_predictor: Module | null = null;
  readonly fgIouThresh: number;
  readonly bgIouThresh: number;
  readonly batchSizePerImage: number;
  readonly positiveFraction: number;
  readonly bboxRegWeights: readonly [number, number, number, number];
  readonly scoreThresh: number;
  readonly nmsThresh: number;
  readonly detectionsPerImg: number;
  /** postprocess_detections' remove_small_boxes threshold, fixed at 1e-2 in torchvision. */
  readonly minBoxSize = 1e-2;

  constructor(boxRoiPool: MultiScaleRoIAlign, boxHead: Module, boxPredictor: Module, options: RoIHeadsOptions) {
    super();
    this.box_roi_pool = boxRoiPool;
    this.box_head = boxHead;
    this.box_predictor = boxPredictor;
    this.fgIouThresh = options.fgIouThresh;
    this.bgIouThresh = options.bgIouThresh;
    this.batchSizePerImage = options.batchSizePerImage;
    this.positiveFraction = options.positiveFraction;
    this.bboxRegWeights = options.bboxRegWeights ?? [10.0, 10.0, 5.0, 5.0];
    this.scoreThresh = options.scoreThresh;
    this.nmsThresh = options.nmsThresh;
    this.detectionsPerImg = options.detectionsPerImg;
  }

  /** torchvision's `has_mask()`. */
  hasMask(): boolean {
    return this.mask_roi_pool !== null && this.mask_head !== null && this.mask_predictor !== null;
  }

  forward(): never {
    throw new Error("RoIHeads depends on the proposals; run the model through createDetector(model)");
  }
}
