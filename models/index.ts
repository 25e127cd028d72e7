export * from "./nn/index.js";
export { listModels, getModel, getModelEntry, UnknownNameError } from "./zoo/registry.js";
export type { ModelEntry, Preset } from "./zoo/entry.js";
export * as resnet from "./zoo/resnet.js";
export * as alexnet from "./zoo/alexnet.js";
export * as vgg from "./zoo/vgg.js";
export * as squeezenet from "./zoo/squeezenet.js";
export * as densenet from "./zoo/densenet.js";
export * as googlenet from "./zoo/googlenet.js";
export * as inception from "./zoo/inception.js";
export * as mobilenetv2 from "./zoo/mobilenetv2.js";
export * as mobilenetv3 from "./zoo/mobilenetv3.js";
export * as mnasnet from "./zoo/mnasnet.js";
export * as shufflenetv2 from "./zoo/shufflenetv2.js";
export * as efficientnet from "./zoo/efficientnet.js";
export * as regnet from "./zoo/regnet.js";
export * as convnext from "./zoo/convnext.js";
export * as maxvit from "./zoo/maxvit.js";
export * as vit from "./zoo/vit.js";
export * as swin from "./zoo/swin.js";
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
