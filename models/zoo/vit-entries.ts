import { imagenetPreset, type ModelEntry } from "./entry.js";
import * as v from "./vit.js";

type Options = v.VisionTransformerOptions & { imageSize?: number };

/**
 * torchvision's DEFAULT weights for the ViT family. Position embeddings fix the input size
 * (`fixedSize`). vit_h_14's DEFAULT weights (SWAG, end to end) are for 518×518, so its entry
 * builds `imageSize: 518`, as torchvision's builder does when given those weights.
 */
const entry = (name: string, build: (o?: Options) => v.VisionTransformer, size = 224, preset = imagenetPreset(224, 256)): ModelEntry => ({
  name,
  family: "ViT",
  build: (o) => build({ imageSize: size, ...(o as Options) }),
  inputSize: size,
  minSize: size,
  fixedSize: true,
  preset,
  checkpointKeyRenames: v.OLD_MLP_BLOCK_KEYS,
});

export const vitModels: ModelEntry[] = [
  entry("vit_b_16", v.vit_b_16),
  entry("vit_b_32", v.vit_b_32),
  entry("vit_l_16", v.vit_l_16, 224, imagenetPreset(224, 242)),
  entry("vit_l_32", v.vit_l_32),
  entry("vit_h_14", v.vit_h_14, 518, imagenetPreset(518, 518, "bicubic")),
];
