import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import { alexnet } from "./alexnet.js";

const entry = zooFamily("AlexNet", { minSize: 63, preset: imagenetPreset(224, 256) });

export const alexnetModels: ModelEntry[] = [entry("alexnet", alexnet)];
