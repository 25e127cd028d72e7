import { imagenetPreset, zooFamily, type EntryInfo, type ModelEntry, type Preset } from "./entry.js";
import * as e from "./efficientnet.js";

const entry = zooFamily("EfficientNet", { minSize: 1, preset: imagenetPreset(224, 256, "bicubic") });
const v2 = (preset: Preset): EntryInfo => ({ minSize: 33, preset });

/** torchvision's DEFAULT weights: V1 models accept any size, V2's document 33 pixels at least. */
export const efficientnetModels: ModelEntry[] = [
  entry("efficientnet_b0", e.efficientnet_b0),
  entry("efficientnet_b1", e.efficientnet_b1, { preset: imagenetPreset(240, 255) }),
  entry("efficientnet_b2", e.efficientnet_b2, { preset: imagenetPreset(288, 288, "bicubic") }),
  entry("efficientnet_b3", e.efficientnet_b3, { preset: imagenetPreset(300, 320, "bicubic") }),
  entry("efficientnet_b4", e.efficientnet_b4, { preset: imagenetPreset(380, 384, "bicubic") }),
  entry("efficientnet_b5", e.efficientnet_b5, { preset: imagenetPreset(456, 456, "bicubic") }),
  entry("efficientnet_b6", e.efficientnet_b6, { preset: imagenetPreset(528, 528, "bicubic") }),
  entry("efficientnet_b7", e.efficientnet_b7, { preset: imagenetPreset(600, 600, "bicubic") }),
  entry("efficientnet_v2_s", e.efficientnet_v2_s, v2(imagenetPreset(384, 384))),
  entry("efficientnet_v2_m", e.efficientnet_v2_m, v2(imagenetPreset(480, 480))),
  entry("efficientnet_v2_l", e.efficientnet_v2_l, v2({ cropSize: 480, resizeSize: 480, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: "bicubic" })),
];
