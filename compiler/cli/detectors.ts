import { GeneralizedRCNN, fasterrcnn_resnet50_fpn, maskrcnn_resnet50_fpn } from "../../models/index.js";
import { OptionsError } from "../pipeline.js";
import { UsageError } from "./errors.js";
import { positiveInt } from "./spec.js";
import { isUserModelSpec, loadUserModel, parseUserModelSpec, type UserModelSpec } from "./userModel.js";

/** The detectors fxc builds by name (`fxc detect`, `fxc compile`), as torchvision's builders with `num_classes`. */
export const DETECTORS: Readonly<Record<string, (numClasses: number) => GeneralizedRCNN>> = {
  maskrcnn_resnet50_fpn: (numClasses) => maskrcnn_resnet50_fpn({ numClasses }),
  fasterrcnn_resnet50_fpn: (numClasses) => fasterrcnn_resnet50_fpn({ numClasses }),
};

/** COCO's classes, background included: the builders' default. */
export const DEFAULT_NUM_CLASSES = 91;

export const isDetectorName = (model: string): boolean => Object.hasOwn(DETECTORS, model);

/** A named detector with `numClasses` classes (default COCO's 91). */
export function namedDetector(model: string, numClasses: number | undefined): GeneralizedRCNN {
  const build = isDetectorName(model) ? DETECTORS[model] : undefined;
  if (build === undefined) throw new UsageError(`fxc detect runs ${Object.keys(DETECTORS).join(" or ")}, or a detector of your own as FILE#Export, not '${model}'`);
  return build(positiveInt(numClasses, "--num-classes") ?? DEFAULT_NUM_CLASSES);
}

/** `--num-classes` given for a model of the user's, which sets its classes in code. */
export function refuseNumClasses(model: string, numClasses: number | undefined): void {
  if (numClasses !== undefined) throw new UsageError(`--num-classes applies to ${Object.keys(DETECTORS).join(" and ")}; a model of your own (${model}) sets its classes in code`);
}

/** A named detector with `numClasses` classes, or the user's FILE#Export (which fixes its own classes). */
export async function detectorModel(model: string, numClasses: number | undefined): Promise<{ readonly model: GeneralizedRCNN; readonly user?: UserModelSpec }> {
  if (!isUserModelSpec(model)) return { model: namedDetector(model, numClasses) };
  refuseNumClasses(model, numClasses);
  const user = parseUserModelSpec(model);
  const built = await loadUserModel(user);
  if (!(built instanceof GeneralizedRCNN)) throw new OptionsError(`${model} builds a ${built.typeName}, not a detector; export a MaskRCNN, FasterRCNN or other GeneralizedRCNN (import them from "fxc/models")`);
  return { model: built, user };
}
