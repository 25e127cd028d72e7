import { imagenetPreset, type ModelEntry } from "./entry.js";
import { squeezenet1_0, squeezenet1_1, type SqueezeNetOptions } from "./squeezenet.js";

const preset = imagenetPreset(224, 256);

export const squeezenetModels: ModelEntry[] = [
  { name: "squeezenet1_0", family: "SqueezeNet", build: (o) => squeezenet1_0(o as SqueezeNetOptions), inputSize: 224, minSize: 21, preset },
  { name: "squeezenet1_1", family: "SqueezeNet", build: (o) => squeezenet1_1(o as SqueezeNetOptions), inputSize: 224, minSize: 17, preset },
];
