import { imagenetPreset, type ModelEntry } from "./entry.js";
import { googlenet, type GoogLeNetBuilderOptions } from "./googlenet.js";

export const googlenetModels: ModelEntry[] = [
  { name: "googlenet", family: "GoogLeNet", build: (o) => googlenet(o as GoogLeNetBuilderOptions), inputSize: 224, minSize: 15, preset: imagenetPreset(224, 256) },
];
