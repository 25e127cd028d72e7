import type { GeneralizedRCNN } from "../../models/detection/generalized_rcnn.js";
import { emitDetectorModule } from "../emit/detector.js";
import { moduleNameMessage } from "../names.js";
import { OptionsError } from "../pipeline.js";
import { FXC_VERSION, TORCHVISION_VERSION } from "../version.js";
import { checkpointRenames, compileBoxStage, compileFeatureStage, compileMaskStage, detectorConfiguration } from "./detector.js";

export interface DetectorCompileOptions {
  /** The module's name (file and `...Detection` interface). */
  readonly name: string;
  /** The model as the header names it: a builder's name (`maskrcnn_resnet50_fpn`) or, with `source`, the export. */
  readonly model: string;
  /** A user model's `FILE#Export`, which the header names instead of torchvision's model. */
  readonly source?: string;
  /** The command written in the header, which writes the same file again. */
  readonly command: string;
  /** Where the generated module imports the runtime from; `fxc/runtime` by default. */
  readonly runtimeModule?: string;
}

/**
 * Compiles a detector ahead of time: each dense stage through the extractors' pipeline (as
 * createDetector does at load time), written as one typed module whose `load` hands the stages
 * and the configuration to the runtime's loadDetector. The backbone is checked at the padded
 * size of a square image of the transform's min size and must take any size (torchvision's
 * backbones do); one whose program follows the size is refused, with createDetector as the fix.
 */
export async function compileDetector(model: GeneralizedRCNN, options: DetectorCompileOptions): Promise<string> {
  const nameProblem = moduleNameMessage(options.name);
  if (nameProblem !== undefined) throw new OptionsError(nameProblem);
  const configuration = detectorConfiguration(model);
  const { minSize, sizeDivisible } = configuration.transform;
  const side = Math.ceil(minSize / sizeDivisible) * sizeDivisible;
  const features = compileFeatureStage(model, [1, configuration.transform.imageMean.length, side, side]);
  if (features.program.freeSize === undefined) {
    throw new OptionsError(
      `${options.source ?? options.model}'s backbone gives a different program at each input size, so one module cannot serve every image; run it with createDetector(model) (compiled at load, per padded size) instead of compiling it`,
    );
  }
  const mask = compileMaskStage(model, configuration);
  return emitDetectorModule(
    {
      configuration,
      features,
      box: compileBoxStage(model, configuration),
      ...(mask === undefined ? {} : { mask }),
      checkpointRenames: checkpointRenames(model),
    },
    {
      model: options.model,
      ...(options.source === undefined ? {} : { origin: options.source }),
      name: options.name,
      command: options.command,
      fxcVersion: FXC_VERSION,
      torchvisionVersion: TORCHVISION_VERSION,
      ...(options.runtimeModule === undefined ? {} : { runtimeModule: options.runtimeModule }),
    },
  );
}
