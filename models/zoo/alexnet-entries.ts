import { imagenetPreset, type ModelEntry } from "./entry.js";
import { alexnet, type AlexNetOptions } from "./alexnet.js";

export const alexnetModels: ModelEntry[] = [
  { name: "alexnet", family: "AlexNet", build: (o) => alexnet(o as AlexNetOptions), inputSize: 224, minSize: 63, preset: imagenetPreset(224, 256) },
];
