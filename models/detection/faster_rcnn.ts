import { Module, Linear, F, FrozenBatchNorm2d, batchNorm2d, type NormFactory, type Tensor } from "../nn/index.js";
import { resnet50 } from "../zoo/resnet.js";
import { MultiScaleRoIAlign } from "../ops/poolers.js";
import { resnetFpnExtractor } from "./backbone_utils.js";
import { AnchorGenerator, defaultAnchorGenerator } from "./anchor_utils.js";
import { GeneralizedRCNN, type DetectionBackbone } from "./generalized_rcnn.js";
import { GeneralizedRCNNTransform } from "./transform.js";
import { RegionProposalNetwork, RPNHead } from "./rpn.js";
import { RoIHeads } from "./roi_heads.js";

/**
 * torchvision.models.detection.faster_rcnn, module for module: FasterRCNN over any backbone
 * with `outChannels`, TwoMLPHead (`fc6`, `fc7`), FastRCNNPredictor (`cls_score`, `bbox_pred`)
 * and the `fasterrcnn_resnet50_fpn` builder. Every keyword of torchvision's constructor is an
 * option in camelCase, with torchvision's defaults.
 */

/** torchvision.models.detection.faster_rcnn.TwoMLPHead: flatten, fc6, ReLU, fc7, ReLU. */
export class TwoMLPHead extends Module {
  fc6: Linear;
  fc7: Linear;

  constructor(inChannels: number, representationSize: number) {
    super();
    this.fc6 = new Linear(inChannels, representationSize);
    this.fc7 = new Linear(representationSize, representationSize);
  }

  forward(x: Tensor): Tensor {
    const flat = x.flatten(1);
    return F.relu(this.fc7.call(F.relu(this.fc6.call(flat))));
  }
}

/** torchvision.models.detection.faster_rcnn.FastRCNNPredictor: class logits and per-class box deltas. */
export class FastRCNNPredictor extends Module {
  cls_score: Linear;
  bbox_pred: Linear;

  constructor(inChannels: number, readonly numClasses: number) {
    super();
    this.cls_score = new Linear(inChannels, numClasses);
    this.bbox_pred = new Linear(inChannels, numClasses * 4);
  }

  forward(x: Tensor): [Tensor, Tensor] {
    const flat = x.flatten(1);
    return [this.cls_score.call(flat), this.bbox_pred.call(flat)];
  }
}

/** FasterRCNN's keywords, camelCase, with torchvision's defaults. */
export interface FasterRCNNOptions {
  /** Classes including the background; required unless boxPredictor is given (then it must be absent). */
  readonly numClasses?: number | null;
  readonly minSize?: number | readonly number[];
  readonly maxSize?: number;
  readonly imageMean?: readonly number[] | null;
  readonly imageStd?: readonly number[] | null;
  readonly rpnAnchorGenerator?: AnchorGenerator | null;
  readonly rpnHead?: RPNHead | null;
  readonly rpnPreNmsTopNTrain?: number;
  readonly rpnPreNmsTopNTest?: number;
  readonly rpnPostNmsTopNTrain?: number;
  readonly rpnPostNmsTopNTest?: number;
  readonly rpnNmsThresh?: number;
  readonly rpnFgIouThresh?: number;
  readonly rpnBgIouThresh?: number;
  readonly rpnBatchSizePerImage?: number;
  readonly rpnPositiveFraction?: number;
  readonly rpnScoreThresh?: number;
  readonly boxRoiPool?: MultiScaleRoIAlign | null;
  readonly boxHead?: Module | null;
  readonly boxPredictor?: Module | null;
  readonly boxScoreThresh?: number;
  readonly boxNmsThresh?: number;
  readonly boxDetectionsPerImg?: number;
  readonly boxFgIouThresh?: number;
  readonly boxBgIouThresh?: number;
  readonly boxBatchSizePerImage?: number;
  readonly boxPositiveFraction?: number;
  readonly bboxRegWeights?: readonly [number, number, number, number] | null;
  /** GeneralizedRCNNTransform's `size_divisible` (torchvision's kwargs). */
  readonly sizeDivisible?: number;
  /** GeneralizedRCNNTransform's `fixed_size` (torchvision's kwargs). */
  readonly fixedSize?: readonly [number, number] | null;
}

/** torchvision's FasterRCNN: the default RPN, RoI pooling and heads over `backbone`, sized by its outChannels. */
export class FasterRCNN extends GeneralizedRCNN {
  constructor(backbone: Module, options: FasterRCNNOptions = {}) {
    const outChannels = backboneOutChannels(backbone);
    const anchorGenerator = options.rpnAnchorGenerator ?? null;
    if (anchorGenerator !== null && !(anchorGenerator instanceof AnchorGenerator)) {
      throw new TypeError(`rpn_anchor_generator should be of type AnchorGenerator or None instead of ${typeNameOf(anchorGenerator)}`);
    }
    const boxRoiPool = options.boxRoiPool ?? null;
    if (boxRoiPool !== null && !(boxRoiPool instanceof MultiScaleRoIAlign)) {
      throw new TypeError(`box_roi_pool should be of type MultiScaleRoIAlign or None instead of ${typeNameOf(boxRoiPool)}`);
    }
    const numClasses = options.numClasses ?? null;
    const boxPredictorGiven = options.boxPredictor ?? null;
    if (numClasses !== null && boxPredictorGiven !== null) throw new Error("num_classes should be None when box_predictor is specified");
    if (numClasses === null && boxPredictorGiven === null) throw new Error("num_classes should not be None when box_predictor is not specified");
    if (numClasses !== null && !(Number.isInteger(numClasses) && numClasses >= 1)) {
      throw new Error(`numClasses should be a positive integer (the classes including the background; COCO's is 91), got ${numClasses}`);
    }

    const rpnAnchorGenerator = anchorGenerator ?? defaultAnchorGenerator();
    const rpnHead = options.rpnHead ?? new RPNHead(outChannels, rpnAnchorGenerator.numAnchorsPerLocation()[0]!);
    const rpn = new RegionProposalNetwork(rpnAnchorGenerator, rpnHead, {
      fgIouThresh: options.rpnFgIouThresh ?? 0.7,
      bgIouThresh: options.rpnBgIouThresh ?? 0.3,
      batchSizePerImage: options.rpnBatchSizePerImage ?? 256,
      positiveFraction: options.rpnPositiveFraction ?? 0.5,
      preNmsTopN: { training: options.rpnPreNmsTopNTrain ?? 2000, testing: options.rpnPreNmsTopNTest ?? 1000 },
      postNmsTopN: { training: options.rpnPostNmsTopNTrain ?? 2000, testing: options.rpnPostNmsTopNTest ?? 1000 },
      nmsThresh: options.rpnNmsThresh ?? 0.7,
      scoreThresh: options.rpnScoreThresh ?? 0.0,
    });

    const pool = boxRoiPool ?? new MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2);
    const representationSize = 1024;
    const boxHead = options.boxHead ?? new TwoMLPHead(outChannels * pool.outputSize[0] ** 2, representationSize);
    const boxPredictor = boxPredictorGiven ?? new FastRCNNPredictor(representationSize, numClasses!);
    const roiHeads = new RoIHeads(pool, boxHead, boxPredictor, {
      fgIouThresh: options.boxFgIouThresh ?? 0.5,
      bgIouThresh: options.boxBgIouThresh ?? 0.5,
      batchSizePerImage: options.boxBatchSizePerImage ?? 512,
      positiveFraction: options.boxPositiveFraction ?? 0.25,
      bboxRegWeights: options.bboxRegWeights ?? null,
      scoreThresh: options.boxScoreThresh ?? 0.05,
      nmsThresh: options.boxNmsThresh ?? 0.5,
      detectionsPerImg: options.boxDetectionsPerImg ?? 100,
    });

    const transform = new GeneralizedRCNNTransform(
      options.minSize ?? 800,
      options.maxSize ?? 1333,
      options.imageMean ?? [0.485, 0.456, 0.406],
      options.imageStd ?? [0.229, 0.224, 0.225],
      options.sizeDivisible ?? 32,
      options.fixedSize ?? null,
    );
    super(backbone as DetectionBackbone, rpn, roiHeads, transform);
  }
}

function typeNameOf(value: unknown): string {
  return value !== null && typeof value === "object" ? value.constructor.name : typeof value;
}

/** torchvision's check that the backbone says its width, in its words (the attribute is outChannels here). */
export function backboneOutChannels(backbone: Module): number {
  const outChannels = (backbone as Module & { readonly outChannels?: unknown }).outChannels;
  if (typeof outChannels !== "number") {
    throw new Error(
      "backbone should contain an attribute out_channels specifying the number of output channels (assumed to be the same for all the levels); give the backbone module a readonly outChannels",
    );
  }
  return outChannels;
}

/** The published weights' name, accepted so that the model is built as for them (fxc never downloads: load the file into the detector). */
export type DetectionWeightsName = "DEFAULT" | "COCO_V1";
/** The ImageNet backbone weights' name, likewise: the backbone is built as for them (FrozenBatchNorm2d). */
export type BackboneWeightsName = "DEFAULT" | "IMAGENET1K_V1";

export interface ResnetFpnDetectorOptions {
  /**
   * Builds the model as torchvision does for its COCO checkpoint: FrozenBatchNorm2d with eps 0
   * (torchvision's `overwrite_eps(model, 0.0)`), 91 classes, 3 trainable layers. fxc downloads
   * nothing: load the checkpoint (`fasterrcnn_resnet50_fpn_coco-258fb6c6.pth`) into the detector.
   */
  readonly weights?: DetectionWeightsName | null;
  /** Builds the backbone as for ImageNet weights (FrozenBatchNorm2d, 3 trainable layers); nothing is downloaded. */
  readonly weightsBackbone?: BackboneWeightsName | null;
  readonly numClasses?: number | null;
  /** 0 to 5; without weights every layer is trainable, as torchvision (which warns when this is given). */
  readonly trainableBackboneLayers?: number | null;
  /** Hears torchvision's warnings; by default process.emitWarning. */
  readonly onWarning?: (message: string) => void;
}

/** What torchvision's fasterrcnn/maskrcnn_resnet50_fpn do before the model: classes, trainable layers, norm layer, backbone. */
export function resnet50FpnForDetection(options: ResnetFpnDetectorOptions): { numClasses: number; backbone: ReturnType<typeof resnetFpnExtractor> } {
  const weights = options.weights ?? null;
  let numClasses = options.numClasses ?? null;
  if (weights !== null) {
    if (numClasses !== null && numClasses !== 91) throw new Error(`The parameter 'num_classes' expected value 91 but got ${numClasses} instead.`);
    numClasses = 91;
  } else if (numClasses === null) numClasses = 91;
  const isTrained = weights !== null || (options.weightsBackbone ?? null) !== null;
  let trainable = options.trainableBackboneLayers ?? null;
  if (!isTrained) {
    if (trainable !== null) {
      (options.onWarning ?? ((m: string) => process.emitWarning(m)))(
        `Changing trainable_backbone_layers has not effect if neither pretrained nor pretrained_backbone have been set to True, falling back to trainable_backbone_layers=5 so that all layers are trainable`,
      );
    }
    trainable = 5;
  }
  trainable ??= 3;
  if (!Number.isInteger(trainable) || trainable < 0 || trainable > 5) throw new Error(`Trainable backbone layers should be in the range [0,5], got ${trainable} `);
  // torchvision's COCO_V1 loaders set every FrozenBatchNorm2d's eps to 0 (overwrite_eps).
  const normLayer: NormFactory = !isTrained ? batchNorm2d : weights !== null ? (c) => new FrozenBatchNorm2d(c, 0.0) : (c) => new FrozenBatchNorm2d(c);
  const backbone = resnetFpnExtractor(resnet50({ normLayer }), trainable);
  return { numClasses, backbone };
}

/** torchvision's `fasterrcnn_resnet50_fpn(weights=None, ...)`: the other options are FasterRCNN's. */
export function fasterrcnn_resnet50_fpn(options: ResnetFpnDetectorOptions & Omit<FasterRCNNOptions, "numClasses"> = {}): FasterRCNN {
  const { numClasses, backbone } = resnet50FpnForDetection(options);
  return new FasterRCNN(backbone, { ...options, numClasses });
}
