import type { GeneralizedRCNN } from "../../models/detection/generalized_rcnn.js";
import { emitDetectorModule } from "../emit/detector.js";
import { moduleNameMessage } from "../names.js";
import { OptionsError } from "../pipeline.js";
import { FXC_VERSION, TORCHVISION_VERSION } from "../version.js";
import { compileBoxStage, compileFeatureStage, compileMaskStage, detectorConfiguration } from "./detector.js";

export interface DetectorCompileOptions {
  /** The module's name (file and `...Detection` interface); by default `model`. */
  readonly name?: string;
  /** The model as the docs name it: a builder's name (`maskrcnn_resnet50_fpn`) or a user model's export; by default its class (MaskRCNN). */
  readonly model?: string;
  /** A user model's `FILE#Export`, which the header names instead of torchvision's model. */
  readonly source?: string;
  /** The command written in the header, which writes the same file again (`fxc compile` passes its own). */
  readonly command?: string;
  /** Where the generated module imports the runtime from; `@fxc/runtime` by default. */
  readonly runtimeModule?: string;
}

/**
 * Compiles a detector ahead of time: each dense stage through the extractors' pipeline (as
 * createDetector does at load time), written as one typed module whose `load` hands the stages
 * and the configuration to the runtime's loadDetector. The backbone is checked at the padded
 * size of a square image of the transform's min size and must take any size (torchvision's
 * backbones do); one whose program follows the size is refused, with createDetector as the fix.
 */
export async function compileDetector(model: GeneralizedRCNN, options: DetectorCompileOptions = {}): Promise<string> {
  const label = options.model ?? model.typeName;
  const name = options.name ?? label;
  const nameProblem = moduleNameMessage(name);
  if (nameProblem !== undefined) throw new OptionsError(nameProblem);
  const configuration = detectorConfiguration(model);
  const { minSize, sizeDivisible } = configuration.transform;
  const side = Math.ceil(minSize / sizeDivisible) * sizeDivisible;
  const features = compileFeatureStage(model, [1, configuration.transform.imageMean.length, side, side]);
  if (features.program.freeSize === undefined) {
    throw new OptionsError(
      `${options.source ?? label}'s backbone gives a different program at each input size, so one module cannot serve every image; run it with createDetector(model) (compiled at load, per padded size) instead of compiling it`,
    );
  }
  const mask = compileMaskStage(model, configuration);
  return emitDetectorModule(
    {
      configuration,
      features,
      box: compileBoxStage(model, configuration),
      ...(mask === undefined ? {} : { mask }),
    },
    {
      model: label,
      ...(options.source !== undefined ? { origin: options.source } : options.command === undefined ? { origin: `${label}, a model built in code` } : {}),
      name,
      command: options.command ?? "the compileDetector() call that wrote it (give it the source option, FILE#Export, and run fxc compile FILE#Export for a command)",
      fxcVersion: FXC_VERSION,
      torchvisionVersion: TORCHVISION_VERSION,
      ...(options.runtimeModule === undefined ? {} : { runtimeModule: options.runtimeModule }),
    },
  );
}
