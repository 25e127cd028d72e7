import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import { inception_v3 } from "./inception.js";

const entry = zooFamily("Inception", { minSize: 75, preset: imagenetPreset(299, 342) });

export const inceptionModels: ModelEntry[] = [entry("inception_v3", inception_v3)];
