export * from "./nn/index.js";
export { listModels, getModel, getModelEntry, UnknownNameError } from "./zoo/registry.js";
export type { ModelEntry, Preset } from "./zoo/entry.js";
export * from "./zoo/families.js";
export { IntermediateLayerGetter } from "./zoo/utils.js";
export { FeaturePyramidNetwork, ExtraFPNBlock, LastLevelMaxPool, LastLevelP6P7 } from "./ops/feature_pyramid_network.js";
export {
  BackboneWithFPN,
  MobilenetFeatures,
  resnetFpnBackbone,
  resnetFpnExtractor,
  mobilenetBackbone,
  mobilenetExtractor,
  type ResnetFpnBackboneOptions,
  type MobilenetBackboneOptions,
} from "./detection/backbone_utils.js";
export { GeneralizedRCNN, type DetectionBackbone } from "./detection/generalized_rcnn.js";
export { GeneralizedRCNNTransform } from "./detection/transform.js";
export { AnchorGenerator, defaultAnchorGenerator } from "./detection/anchor_utils.js";
export { RPNHead, RegionProposalNetwork, type RegionProposalNetworkOptions, type TrainTest } from "./detection/rpn.js";
export { RoIHeads, type RoIHeadsOptions } from "./detection/roi_heads.js";
export { MultiScaleRoIAlign } from "./ops/poolers.js";
export {
  FasterRCNN,
  TwoMLPHead,
  FastRCNNPredictor,
  fasterrcnn_resnet50_fpn,
  type FasterRCNNOptions,
  type ResnetFpnDetectorOptions,
  type DetectionWeightsName,
  type BackboneWeightsName,
} from "./detection/faster_rcnn.js";
export { MaskRCNN, MaskRCNNHeads, MaskRCNNPredictor, maskrcnn_resnet50_fpn, type MaskRCNNOptions } from "./detection/mask_rcnn.js";
