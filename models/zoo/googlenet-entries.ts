import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import { googlenet } from "./googlenet.js";

const entry = zooFamily("GoogLeNet", { minSize: 15, preset: imagenetPreset(224, 256) });

export const googlenetModels: ModelEntry[] = [entry("googlenet", googlenet)];
