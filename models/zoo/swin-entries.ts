import { imagenetPreset, zooFamily, type EntryInfo, type ModelEntry } from "./entry.js";
import * as s from "./swin.js";

/**
 * torchvision's DEFAULT weights for Swin and Swin v2 (bicubic resizing). Other input sizes
 * work: feature maps are padded to whole windows and to even sizes before patch merging.
 */
const weights = (cropSize: number, resizeSize: number): EntryInfo => ({ minSize: cropSize, preset: imagenetPreset(cropSize, resizeSize, "bicubic") });
const swin = zooFamily("Swin", weights(224, 232));
const swinV2 = zooFamily("Swin v2", weights(256, 260));

export const swinModels: ModelEntry[] = [
  swin("swin_t", s.swin_t),
  swin("swin_s", s.swin_s, weights(224, 246)),
  swin("swin_b", s.swin_b, weights(224, 238)),
  swinV2("swin_v2_t", s.swin_v2_t),
  swinV2("swin_v2_s", s.swin_v2_s),
  swinV2("swin_v2_b", s.swin_v2_b, weights(256, 272)),
];
