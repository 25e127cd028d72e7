import { imagenetPreset, type ModelEntry } from "./entry.js";
import { mobilenet_v2, type MobileNetV2Options } from "./mobilenetv2.js";
import { mobilenet_v3_large, mobilenet_v3_small, type MobileNetV3BuilderOptions } from "./mobilenetv3.js";

/** torchvision's DEFAULT weights: IMAGENET1K_V2 for mobilenet_v2 and v3_large (resize 232), V1 for v3_small. */
export const mobilenetModels: ModelEntry[] = [
  { name: "mobilenet_v2", family: "MobileNet", build: (o) => mobilenet_v2(o as MobileNetV2Options), inputSize: 224, minSize: 1, preset: imagenetPreset(224, 232) },
  { name: "mobilenet_v3_large", family: "MobileNet", build: (o) => mobilenet_v3_large(o as MobileNetV3BuilderOptions), inputSize: 224, minSize: 1, preset: imagenetPreset(224, 232) },
  { name: "mobilenet_v3_small", family: "MobileNet", build: (o) => mobilenet_v3_small(o as MobileNetV3BuilderOptions), inputSize: 224, minSize: 1, preset: imagenetPreset(224, 256) },
];
