import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as d from "./densenet.js";

const entry = zooFamily("DenseNet", { minSize: 29, preset: imagenetPreset(224, 256), checkpointKeyRenames: d.OLD_DENSENET_KEYS });

export const densenetModels: ModelEntry[] = [
  entry("densenet121", d.densenet121),
  entry("densenet161", d.densenet161),
  entry("densenet169", d.densenet169),
  entry("densenet201", d.densenet201),
];
