import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as c from "./convnext.js";

// A 4x4 stem, then three 2x2 downsamplings: anything under 32 pixels runs out of input.
const entry = zooFamily("ConvNeXt", { minSize: 32, preset: imagenetPreset(224, 232) });

/** torchvision's DEFAULT weights: IMAGENET1K_V1 for each. */
export const convnextModels: ModelEntry[] = [
  entry("convnext_tiny", c.convnext_tiny, { preset: imagenetPreset(224, 236) }),
  entry("convnext_small", c.convnext_small, { preset: imagenetPreset(224, 230) }),
  entry("convnext_base", c.convnext_base),
  entry("convnext_large", c.convnext_large),
];
