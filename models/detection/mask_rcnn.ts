import { Module, Sequential, Conv2d, ConvTranspose2d, ReLU, Conv2dNormActivation, type NormFactory, type KeyRename } from "../nn/index.js";
import { MultiScaleRoIAlign } from "../ops/poolers.js";
import { FasterRCNN, resnet50FpnForDetection, backboneOutChannels, type FasterRCNNOptions, type ResnetFpnDetectorOptions } from "./faster_rcnn.js";

/**
 * torchvision.models.detection.mask_rcnn, module for module: MaskRCNNHeads (a Sequential of
 * Conv2dNormActivation: keys `0.0.weight` ...; the published checkpoint's older
 * `mask_fcn1.weight` are renamed when loading, as torchvision's _load_from_state_dict does),
 * MaskRCNNPredictor (`conv5_mask`, `relu`, `mask_fcn_logits`), MaskRCNN and the
 * `maskrcnn_resnet50_fpn` builder.
 */
export class MaskRCNNHeads extends Sequential {
  constructor(inChannels: number, layers: readonly number[], dilation: number, normLayer: NormFactory | null = null) {
    const blocks: Module[] = [];
    let next = inChannels;
    for (const features of layers) {
      blocks.push(new Conv2dNormActivation(next, features, { kernelSize: 3, stride: 1, padding: dilation, dilation, normLayer }));
      next = features;
    }
    super(...blocks);
  }

  /** torchvision's `_load_from_state_dict` (version < 2): the published files' `mask_fcn{i}` is now block `{i-1}`. */
  override legacyKeyRenames(): readonly KeyRename[] {
    return this.namedChildren().map((_, i) => ({ pattern: `^mask_fcn${i + 1}\\.(weight|bias)$`, replacement: `${i}.0.$1` }));
  }
}

export class MaskRCNNPredictor extends Sequential {
  constructor(inChannels: number, dimReduced: number, readonly numClasses: number) {
    super({
      conv5_mask: new ConvTranspose2d(inChannels, dimReduced, 2, 2, 0),
      relu: new ReLU(true),
      mask_fcn_logits: new Conv2d(dimReduced, numClasses, 1, { stride: 1, padding: 0 }),
    });
  }
}

export interface MaskRCNNOptions extends FasterRCNNOptions {
  readonly maskRoiPool?: MultiScaleRoIAlign | null;
  readonly maskHead?: Module | null;
  readonly maskPredictor?: Module | null;
}

/** torchvision's MaskRCNN: FasterRCNN plus mask pooling (14x14), four 3x3 convolutions and the predictor. */
export class MaskRCNN extends FasterRCNN {
  constructor(backbone: Module, options: MaskRCNNOptions = {}) {
    const maskRoiPool = options.maskRoiPool ?? null;
    if (maskRoiPool !== null && !(maskRoiPool instanceof MultiScaleRoIAlign)) {
      throw new TypeError(`mask_roi_pool should be of type MultiScaleRoIAlign or None instead of ${(maskRoiPool as object).constructor.name}`);
    }
    const numClasses = options.numClasses ?? null;
    if (numClasses !== null && (options.maskPredictor ?? null) !== null) throw new Error("num_classes should be None when mask_predictor is specified");
    if (numClasses === null && (options.maskPredictor ?? null) === null) throw new Error("num_classes should not be None when mask_predictor is not specified");
    const outChannels = backboneOutChannels(backbone);
    super(backbone, options);
    this.roi_heads.mask_roi_pool = maskRoiPool ?? new MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2);
    this.roi_heads.mask_head = options.maskHead ?? new MaskRCNNHeads(outChannels, [256, 256, 256, 256], 1);
    // torchvision: mask_predictor_in_channels = 256 (== mask_layers[-1]), dim_reduced 256.
    this.roi_heads.mask_predictor = options.maskPredictor ?? new MaskRCNNPredictor(256, 256, numClasses!);
  }
}

/** torchvision's `maskrcnn_resnet50_fpn(weights=None, ...)`: the other options are MaskRCNN's. */
export function maskrcnn_resnet50_fpn(options: ResnetFpnDetectorOptions & Omit<MaskRCNNOptions, "numClasses"> = {}): MaskRCNN {
  const { numClasses, backbone } = resnet50FpnForDetection(options);
  return new MaskRCNN(backbone, { ...options, numClasses });
}
