import type { GeneralizedRCNN } from "../../models/detection/generalized_rcnn.js";
import type { MultiScaleRoIAlign } from "../../models/ops/poolers.js";
import {
  DetectorError,
  loadDetector,
  type Detector,
  type DetectorConfiguration,
  type DetectorLoadOptions,
  type FeatureStage,
  type RoIPoolConfiguration,
} from "@fxc/runtime/internal/detector";
import type { WeightsInput } from "@fxc/runtime";
import { programModule } from "../interpret/interpreter.js";
import { BackboneAndRpnHead, BoxHeadStage, MaskHeadStage, compileStage, type CompiledStage } from "./stages.js";

/**
 * createDetector: torchvision's GeneralizedRCNN eval forward, its dense stages compiled at load
 * time by the extractors' pipeline (stages.ts) and run by the runtime's loadDetector, which a
 * generated detector module (detectorModule.ts) calls with the same stages written out. The
 * published checkpoints' older keys are renamed by each stage's modules' own rules (as torch's
 * _load_from_state_dict). The backbone with its FPN and the RPN head is compiled once for every padded size where its program
 * does not depend on the size (torchvision's fully convolutional backbones), else per size.
 */

export { DetectorError, type Detector, type DetectorLoadOptions };
export type { DetectOptions, DetectionResult, DetectionIntermediates } from "@fxc/runtime/internal/detector";

export interface DetectorModule {
  readonly model: GeneralizedRCNN;
  load(weights: WeightsInput, options?: DetectorLoadOptions): Promise<Detector>;
}

function poolConfiguration(pool: MultiScaleRoIAlign): RoIPoolConfiguration {
  return { featmapNames: [...pool.featmapNames], outputSize: [pool.outputSize[0], pool.outputSize[1]], samplingRatio: pool.samplingRatio, canonicalScale: pool.canonicalScale, canonicalLevel: pool.canonicalLevel };
}

/** What the model's eval forward reads besides its weights, as plain data (the testing top-n, the last min size). */
export function detectorConfiguration(model: GeneralizedRCNN): DetectorConfiguration {
  const { transform, rpn, roi_heads: heads } = model;
  if (transform.fixedSize !== null) throw new DetectorError("fixedSize is not supported by the detector yet; build the model without it (min/max size resizing)");
  const outChannels = (model.backbone as { outChannels?: unknown }).outChannels;
  if (typeof outChannels !== "number") throw new DetectorError(`${model.backbone.typeName} has no outChannels; give the backbone the number of channels its levels have (outChannels), as torchvision requires`);
  return {
    transform: {
      imageMean: [...transform.imageMean],
      imageStd: [...transform.imageStd],
      minSize: transform.minSize[transform.minSize.length - 1]!,
      maxSize: transform.maxSize,
      sizeDivisible: transform.sizeDivisible,
    },
    rpn: {
      anchorSizes: rpn.anchor_generator.sizes.map((s) => [...s]),
      aspectRatios: rpn.anchor_generator.aspectRatios.map((r) => [...r]),
      boxCoderWeights: [...rpn.boxCoderWeights],
      preNmsTopN: rpn.preNmsTopN.testing,
      postNmsTopN: rpn.postNmsTopN.testing,
      nmsThresh: rpn.nmsThresh,
      scoreThresh: rpn.scoreThresh,
      minSize: rpn.minSize,
    },
    roiHeads: {
      boxRoIPool: poolConfiguration(heads.box_roi_pool),
      maskRoIPool: heads.hasMask() && heads.mask_roi_pool !== null ? poolConfiguration(heads.mask_roi_pool) : null,
      boxCoderWeights: [...heads.bboxRegWeights],
      scoreThresh: heads.scoreThresh,
      nmsThresh: heads.nmsThresh,
      detectionsPerImg: heads.detectionsPerImg,
      minBoxSize: heads.minBoxSize,
    },
    outChannels,
  };
}

/** The compiled feature stage (backbone, FPN, RPN head) with the backbone's level names. */
export interface CompiledFeatureStage extends CompiledStage {
  readonly levels: readonly string[];
}

/** Compiles the feature stage for a padded NCHW batch shape (free in the size where the program allows it). */
export function compileFeatureStage(model: GeneralizedRCNN, shape: readonly [number, number, number, number]): CompiledFeatureStage {
  const stage = new BackboneAndRpnHead(model);
  const compiled = compileStage(stage, shape);
  return { ...compiled, levels: [...stage.levelNames] };
}

/** The pooled regions a head takes: [R, outChannels, h, w] with R the free batch. */
function regionShape(config: DetectorConfiguration, pool: RoIPoolConfiguration): [number, number, number, number] {
  return [1, config.outChannels, pool.outputSize[0], pool.outputSize[1]];
}

/** Compiles the box head and predictor over R pooled regions. */
export function compileBoxStage(model: GeneralizedRCNN, config: DetectorConfiguration): CompiledStage {
  return compileStage(new BoxHeadStage(model), regionShape(config, config.roiHeads.boxRoIPool));
}

/** Compiles the mask head and predictor over R pooled regions (Mask R-CNN), else undefined. */
export function compileMaskStage(model: GeneralizedRCNN, config: DetectorConfiguration): CompiledStage | undefined {
  return config.roiHeads.maskRoIPool === null ? undefined : compileStage(new MaskHeadStage(model), regionShape(config, config.roiHeads.maskRoIPool));
}

/** The feature stage's key when one program serves every padded size. */
const ANY_SIZE = "any";

/** torchvision's GeneralizedRCNN eval forward as a detector compiled at load time: see the file's comment. */
export function createDetector(model: GeneralizedRCNN): DetectorModule {
  // Refused here, before any weights are read.
  detectorConfiguration(model);
  const compiledFeatures = new Map<string, { stage: FeatureStage; key: string }>();
  // The key of a padded size's stage: one for every size where its program does not depend on the size (a fully convolutional backbone and FPN).
  const sizeKey = (shape: readonly number[]): string => (compiledFeatures.has(ANY_SIZE) ? ANY_SIZE : shape.slice(1).join("x"));
  const features = (shape: readonly [number, number, number, number]): FeatureStage & { readonly key: string } => {
    let entry = compiledFeatures.get(sizeKey(shape));
    if (entry === undefined) {
      const compiled = compileFeatureStage(model, shape);
      const key = compiled.program.freeSize === undefined ? sizeKey(shape) : ANY_SIZE;
      entry = { stage: { module: programModule(compiled.program), levels: compiled.levels }, key };
      compiledFeatures.set(key, entry);
    }
    return { ...entry.stage, key: entry.key };
  };
  let heads: { box: CompiledStage; mask: CompiledStage | undefined } | undefined;

  return {
    model,
    load(weights, options) {
      const configuration = detectorConfiguration(model);
      heads ??= { box: compileBoxStage(model, configuration), mask: compileMaskStage(model, configuration) };
      const { box, mask } = heads;
      return loadDetector(
        {
          configuration,
          features,
          box: programModule(box.program),
          ...(mask === undefined ? {} : { mask: programModule(mask.program) }),
        },
        weights,
        options,
      );
    },
  };
}
