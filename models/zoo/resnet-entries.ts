import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as r from "./resnet.js";

/** torchvision's DEFAULT weights for the ResNet family (the IMAGENET1K_V2 recipes resize to 232, V1 to 256). */
const entry = zooFamily("ResNet", { minSize: 1, preset: imagenetPreset(224, 232) });
const v1 = { preset: imagenetPreset(224, 256) };

export const resnetModels: ModelEntry[] = [
  entry("resnet18", r.resnet18, v1),
  entry("resnet34", r.resnet34, v1),
  entry("resnet50", r.resnet50),
  entry("resnet101", r.resnet101),
  entry("resnet152", r.resnet152),
  entry("resnext50_32x4d", r.resnext50_32x4d),
  entry("resnext101_32x8d", r.resnext101_32x8d),
  entry("resnext101_64x4d", r.resnext101_64x4d),
  entry("wide_resnet50_2", r.wide_resnet50_2),
  entry("wide_resnet101_2", r.wide_resnet101_2),
];
