import { imagenetPreset, type ModelEntry } from "./entry.js";
import { inception_v3, type InceptionV3BuilderOptions } from "./inception.js";

export const inceptionModels: ModelEntry[] = [
  { name: "inception_v3", family: "Inception", build: (o) => inception_v3(o as InceptionV3BuilderOptions), inputSize: 299, minSize: 75, preset: imagenetPreset(299, 342) },
];
