/** Detection's data-dependent kernels over typed arrays, with torchvision 0.14.1's semantics. */
export type { Detections, FeatureMap, ImageTensor } from "./types.js";
