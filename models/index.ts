export * from "./nn/index.js";
export { listModels, getModel, getModelEntry, UnknownNameError } from "./zoo/registry.js";
export type { ModelEntry, Preset } from "./zoo/entry.js";
export * as resnet from "./zoo/resnet.js";
export * as maxvit from "./zoo/maxvit.js";
