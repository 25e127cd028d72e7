/** Descriptors out: global pooling, L2 normalization, cosine nearest neighbours. */
export { parsePooling, parseNormalization, poolingText, poolFeatureMap, l2Normalize, DescriptorSpecError, type Pooling, type Normalization } from "./pooling.js";
export { CosineIndex, type Match } from "./nearest.js";
