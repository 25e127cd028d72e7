import { imagenetPreset, type ModelEntry } from "./entry.js";
import * as d from "./densenet.js";

type Options = Parameters<typeof d.densenet121>[0];

const entry = (name: string, build: (o?: Options) => d.DenseNet): ModelEntry => ({
  name,
  family: "DenseNet",
  build: (o) => build(o as Options),
  inputSize: 224,
  minSize: 29,
  preset: imagenetPreset(224, 256),
  checkpointKeyRenames: d.OLD_DENSENET_KEYS,
});

export const densenetModels: ModelEntry[] = [
  entry("densenet121", d.densenet121),
  entry("densenet161", d.densenet161),
  entry("densenet169", d.densenet169),
  entry("densenet201", d.densenet201),
];
