import { imagenetPreset, type ModelEntry } from "./entry.js";
import * as m from "./mnasnet.js";

const entry = (name: string, build: (o?: m.MNASNetOptions) => m.MNASNet, resizeSize: number): ModelEntry => ({
  name,
  family: "MNASNet",
  build: (o) => build(o as m.MNASNetOptions),
  inputSize: 224,
  minSize: 1,
  preset: imagenetPreset(224, resizeSize),
});

/** torchvision's DEFAULT weights resize to 256 for 0_5 and 1_0, to 232 for 0_75 and 1_3 (newer recipe). */
export const mnasnetModels: ModelEntry[] = [
  entry("mnasnet0_5", m.mnasnet0_5, 256),
  entry("mnasnet0_75", m.mnasnet0_75, 232),
  entry("mnasnet1_0", m.mnasnet1_0, 256),
  entry("mnasnet1_3", m.mnasnet1_3, 232),
];
