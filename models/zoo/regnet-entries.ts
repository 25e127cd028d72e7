import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as r from "./regnet.js";

/** torchvision's DEFAULT weights: IMAGENET1K_V2 (224, resize 232), but regnet_y_128gf's SWAG_E2E_V1 (384, bicubic). */
const entry = zooFamily("RegNet", { minSize: 1, preset: imagenetPreset(224, 232) });

export const regnetModels: ModelEntry[] = [
  entry("regnet_y_400mf", r.regnet_y_400mf),
  entry("regnet_y_800mf", r.regnet_y_800mf),
  entry("regnet_y_1_6gf", r.regnet_y_1_6gf),
  entry("regnet_y_3_2gf", r.regnet_y_3_2gf),
  entry("regnet_y_8gf", r.regnet_y_8gf),
  entry("regnet_y_16gf", r.regnet_y_16gf),
  entry("regnet_y_32gf", r.regnet_y_32gf),
  entry("regnet_y_128gf", r.regnet_y_128gf, { preset: imagenetPreset(384, 384, "bicubic") }),
  entry("regnet_x_400mf", r.regnet_x_400mf),
  entry("regnet_x_800mf", r.regnet_x_800mf),
  entry("regnet_x_1_6gf", r.regnet_x_1_6gf),
  entry("regnet_x_3_2gf", r.regnet_x_3_2gf),
  entry("regnet_x_8gf", r.regnet_x_8gf),
  entry("regnet_x_16gf", r.regnet_x_16gf),
  entry("regnet_x_32gf", r.regnet_x_32gf),
];
