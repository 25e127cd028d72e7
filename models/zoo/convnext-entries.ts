import { imagenetPreset, type ModelEntry } from "./entry.js";
import * as c from "./convnext.js";

const entry = (name: string, build: (o?: c.ConvNeXtOptions) => c.ConvNeXt, resize: number): ModelEntry => ({
  name,
  family: "ConvNeXt",
  build: (o) => build(o as c.ConvNeXtOptions),
  inputSize: 224,
  // A 4x4 stem, then three 2x2 downsamplings: anything under 32 pixels runs out of input.
  minSize: 32,
  preset: imagenetPreset(224, resize),
});

/** torchvision's DEFAULT weights: IMAGENET1K_V1 for each. */
export const convnextModels: ModelEntry[] = [
  entry("convnext_tiny", c.convnext_tiny, 236),
  entry("convnext_small", c.convnext_small, 230),
  entry("convnext_base", c.convnext_base, 232),
  entry("convnext_large", c.convnext_large, 232),
];
