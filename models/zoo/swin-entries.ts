import { imagenetPreset, type ModelEntry } from "./entry.js";
import * as s from "./swin.js";

/**
 * torchvision's DEFAULT weights for Swin and Swin v2 (bicubic resizing). Other input sizes
 * work: feature maps are padded to whole windows and to even sizes before patch merging.
 */
const entry = (name: string, family: string, build: (o?: s.SwinTransformerOptions) => s.SwinTransformer, cropSize: number, resizeSize: number): ModelEntry => ({
  name,
  family,
  build: (o) => build(o as s.SwinTransformerOptions),
  inputSize: cropSize,
  minSize: cropSize,
  preset: imagenetPreset(cropSize, resizeSize, "bicubic"),
});

export const swinModels: ModelEntry[] = [
  entry("swin_t", "Swin", s.swin_t, 224, 232),
  entry("swin_s", "Swin", s.swin_s, 224, 246),
  entry("swin_b", "Swin", s.swin_b, 224, 238),
  entry("swin_v2_t", "Swin v2", s.swin_v2_t, 256, 260),
  entry("swin_v2_s", "Swin v2", s.swin_v2_s, 256, 260),
  entry("swin_v2_b", "Swin v2", s.swin_v2_b, 256, 272),
];
