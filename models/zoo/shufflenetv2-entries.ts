import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as s from "./shufflenetv2.js";

const entry = zooFamily("ShuffleNetV2", { minSize: 1, preset: imagenetPreset(224, 256) });
const resize232 = { preset: imagenetPreset(224, 232) };

/** torchvision's DEFAULT weights: IMAGENET1K_V1 for each (x1_5 and x2_0 resize to 232). */
export const shufflenetV2Models: ModelEntry[] = [
  entry("shufflenet_v2_x0_5", s.shufflenet_v2_x0_5),
  entry("shufflenet_v2_x1_0", s.shufflenet_v2_x1_0),
  entry("shufflenet_v2_x1_5", s.shufflenet_v2_x1_5, resize232),
  entry("shufflenet_v2_x2_0", s.shufflenet_v2_x2_0, resize232),
];
