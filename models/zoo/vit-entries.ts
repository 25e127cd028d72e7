import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as v from "./vit.js";

type Options = v.VisionTransformerOptions & { imageSize?: number };

/**
 * torchvision's DEFAULT weights for the ViT family. Position embeddings fix the input size
 * (`fixedSize`). vit_h_14's DEFAULT weights (SWAG, end to end) are for 518×518, so its entry
 * builds `imageSize: 518`, as torchvision's builder does when given those weights.
 */
const entry = zooFamily("ViT", { minSize: 224, fixedSize: true, preset: imagenetPreset(224, 256) });
/** The builder with `imageSize` given unless the user gives another. */
const at =
  (imageSize: number, build: (o?: Options) => v.VisionTransformer) =>
  (o?: Options): v.VisionTransformer =>
    build({ imageSize, ...o });

export const vitModels: ModelEntry[] = [
  entry("vit_b_16", at(224, v.vit_b_16)),
  entry("vit_b_32", at(224, v.vit_b_32)),
  entry("vit_l_16", at(224, v.vit_l_16), { preset: imagenetPreset(224, 242) }),
  entry("vit_l_32", at(224, v.vit_l_32)),
  entry("vit_h_14", at(518, v.vit_h_14), { minSize: 518, preset: imagenetPreset(518, 518, "bicubic") }),
];
