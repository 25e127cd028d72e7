import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import { maxvit_t } from "./maxvit.js";

/**
 * torchvision's DEFAULT weights for MaxViT (IMAGENET1K_V1: 224 crop of a 224 resize, bicubic).
 * The attention grids are sized when the model is built, so it takes one input size (221 to
 * 224 per side for the default input_size); other sizes need `inputSize` at build time.
 */
const entry = zooFamily("MaxViT", { minSize: 224, fixedSize: true, preset: imagenetPreset(224, 224, "bicubic") });

export const maxvitModels: ModelEntry[] = [entry("maxvit_t", maxvit_t)];
