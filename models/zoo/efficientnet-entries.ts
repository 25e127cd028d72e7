import { imagenetPreset, type ModelEntry, type Preset } from "./entry.js";
import * as e from "./efficientnet.js";

const entry = (name: string, build: (o?: e.EfficientNetBuilderOptions) => e.EfficientNet, preset: Preset, minSize: number): ModelEntry => ({
  name,
  family: "EfficientNet",
  build: (o) => build(o as e.EfficientNetBuilderOptions),
  inputSize: preset.cropSize,
  minSize,
  preset,
});

/** torchvision's DEFAULT weights: V1 models accept any size, V2's document 33 pixels at least. */
export const efficientnetModels: ModelEntry[] = [
  entry("efficientnet_b0", e.efficientnet_b0, imagenetPreset(224, 256, "bicubic"), 1),
  entry("efficientnet_b1", e.efficientnet_b1, imagenetPreset(240, 255), 1),
  entry("efficientnet_b2", e.efficientnet_b2, imagenetPreset(288, 288, "bicubic"), 1),
  entry("efficientnet_b3", e.efficientnet_b3, imagenetPreset(300, 320, "bicubic"), 1),
  entry("efficientnet_b4", e.efficientnet_b4, imagenetPreset(380, 384, "bicubic"), 1),
  entry("efficientnet_b5", e.efficientnet_b5, imagenetPreset(456, 456, "bicubic"), 1),
  entry("efficientnet_b6", e.efficientnet_b6, imagenetPreset(528, 528, "bicubic"), 1),
  entry("efficientnet_b7", e.efficientnet_b7, imagenetPreset(600, 600, "bicubic"), 1),
  entry("efficientnet_v2_s", e.efficientnet_v2_s, imagenetPreset(384, 384), 33),
  entry("efficientnet_v2_m", e.efficientnet_v2_m, imagenetPreset(480, 480), 33),
  entry("efficientnet_v2_l", e.efficientnet_v2_l, { cropSize: 480, resizeSize: 480, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: "bicubic" }, 33),
];
