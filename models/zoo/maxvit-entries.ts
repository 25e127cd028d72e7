import { imagenetPreset, type ModelEntry } from "./entry.js";
import { maxvit_t, type MaxVitTOptions } from "./maxvit.js";

/**
 * torchvision's DEFAULT weights for MaxViT (IMAGENET1K_V1: 224 crop of a 224 resize, bicubic).
 * The attention grids are sized when the model is built, so it takes one input size (223 or
 * 224 per side for the default input_size); other sizes need `inputSize` at build time.
 */
export const maxvitModels: ModelEntry[] = [
  {
    name: "maxvit_t",
    family: "MaxViT",
    build: (o) => maxvit_t(o as MaxVitTOptions),
    inputSize: 224,
    minSize: 224,
    fixedSize: true,
    preset: imagenetPreset(224, 224, "bicubic"),
  },
];
