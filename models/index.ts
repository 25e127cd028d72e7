export * from "./nn/index.js";
export { listModels, getModel, getModelEntry, UnknownNameError } from "./zoo/registry.js";
export type { ModelEntry, Preset } from "./zoo/entry.js";
export * as resnet from "./zoo/resnet.js";
export * as shufflenetv2 from "./zoo/shufflenetv2.js";
export * as efficientnet from "./zoo/efficientnet.js";
export * as regnet from "./zoo/regnet.js";
export * as convnext from "./zoo/convnext.js";
