import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as m from "./mnasnet.js";

const entry = zooFamily("MNASNet", { minSize: 1, preset: imagenetPreset(224, 256) });
const newerRecipe = { preset: imagenetPreset(224, 232) };

/** torchvision's DEFAULT weights resize to 256 for 0_5 and 1_0, to 232 for 0_75 and 1_3 (newer recipe). */
export const mnasnetModels: ModelEntry[] = [
  entry("mnasnet0_5", m.mnasnet0_5),
  entry("mnasnet0_75", m.mnasnet0_75, newerRecipe),
  entry("mnasnet1_0", m.mnasnet1_0),
  entry("mnasnet1_3", m.mnasnet1_3, newerRecipe),
];
