import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import { squeezenet1_0, squeezenet1_1 } from "./squeezenet.js";

const entry = zooFamily("SqueezeNet", { minSize: 21, preset: imagenetPreset(224, 256) });

export const squeezenetModels: ModelEntry[] = [entry("squeezenet1_0", squeezenet1_0), entry("squeezenet1_1", squeezenet1_1, { minSize: 17 })];
