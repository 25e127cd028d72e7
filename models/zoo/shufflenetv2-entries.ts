import { imagenetPreset, type ModelEntry } from "./entry.js";
import * as s from "./shufflenetv2.js";

const entry = (name: string, build: (o?: s.ShuffleNetV2Options) => s.ShuffleNetV2, resize: number): ModelEntry => ({
  name,
  family: "ShuffleNetV2",
  build: (o) => build(o as s.ShuffleNetV2Options),
  inputSize: 224,
  minSize: 1,
  preset: imagenetPreset(224, resize),
});

/** torchvision's DEFAULT weights: IMAGENET1K_V1 for each (x1_5 and x2_0 resize to 232). */
export const shufflenetV2Models: ModelEntry[] = [
  entry("shufflenet_v2_x0_5", s.shufflenet_v2_x0_5, 256),
  entry("shufflenet_v2_x1_0", s.shufflenet_v2_x1_0, 256),
  entry("shufflenet_v2_x1_5", s.shufflenet_v2_x1_5, 232),
  entry("shufflenet_v2_x2_0", s.shufflenet_v2_x2_0, 232),
];
