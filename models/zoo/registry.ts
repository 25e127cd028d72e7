import type { Module } from "../nn/module.js";
import type { ModelEntry } from "./entry.js";
import { didYouMean } from "../suggest.js";
import { resnetModels } from "./resnet-entries.js";
import { alexnetModels } from "./alexnet-entries.js";
import { vggModels } from "./vgg-entries.js";
import { squeezenetModels } from "./squeezenet-entries.js";
import { densenetModels } from "./densenet-entries.js";
import { googlenetModels } from "./googlenet-entries.js";
import { inceptionModels } from "./inception-entries.js";
import { mobilenetModels } from "./mobilenet-entries.js";
import { mnasnetModels } from "./mnasnet-entries.js";
import { shufflenetV2Models } from "./shufflenetv2-entries.js";
import { efficientnetModels } from "./efficientnet-entries.js";
import { regnetModels } from "./regnet-entries.js";
import { convnextModels } from "./convnext-entries.js";
import { maxvitModels } from "./maxvit-entries.js";
import { vitModels } from "./vit-entries.js";
import { swinModels } from "./swin-entries.js";
import { FxcError } from "@fxc/runtime/internal/errors";

const entries: readonly ModelEntry[] = [
  ...resnetModels,
  ...alexnetModels,
  ...vggModels,
  ...squeezenetModels,
  ...densenetModels,
  ...googlenetModels,
  ...inceptionModels,
  ...mobilenetModels,
  ...mnasnetModels,
  ...shufflenetV2Models,
  ...efficientnetModels,
  ...regnetModels,
  ...convnextModels,
  ...maxvitModels,
  ...vitModels,
  ...swinModels,
];
const byName = new Map(entries.map((e) => [e.name, e]));

/** The zoo's model names, as torchvision's `list_models()`. */
export function listModels(): string[] {
  return entries.map((e) => e.name);
}

export function getModelEntry(name: string): ModelEntry {
  const entry = byName.get(name);
  if (entry === undefined) {
    throw new UnknownNameError(`unknown model '${name}'${didYouMean(name, listModels())} (fxc models lists them all)`);
  }
  return entry;
}

/** Builds a zoo model for tracing, as torchvision's `get_model(name, **options)`. */
export function getModel(name: string, options: Record<string, unknown> = {}): Module {
  return getModelEntry(name).build(options);
}

export class UnknownNameError extends FxcError {
  override readonly name = "UnknownNameError";
}

