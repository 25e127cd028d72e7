import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import { mobilenet_v2 } from "./mobilenetv2.js";
import { mobilenet_v3_large, mobilenet_v3_small } from "./mobilenetv3.js";

const entry = zooFamily("MobileNet", { minSize: 1, preset: imagenetPreset(224, 232) });

/** torchvision's DEFAULT weights: IMAGENET1K_V2 for mobilenet_v2 and v3_large (resize 232), V1 for v3_small. */
export const mobilenetModels: ModelEntry[] = [
  entry("mobilenet_v2", mobilenet_v2),
  entry("mobilenet_v3_large", mobilenet_v3_large),
  entry("mobilenet_v3_small", mobilenet_v3_small, { preset: imagenetPreset(224, 256) }),
];
