export { Module, isLeafClass, type Layer } from "./module.js";
export { Parameter, Buffer } from "./parameter.js";
export { Sequential, ModuleList } from "./container.js";
export * from "./layers.js";
export * as F from "./functional.js";
export type { Tensor } from "./tensor.js";
export { Conv2dNormActivation, FrozenBatchNorm2d, frozenBatchNorm2d, SqueezeExcitation, MLP, Permute, StochasticDepth, batchNorm2d, relu, relu6, silu, hardswish, type NormFactory, type ActivationFactory } from "./ops.js";
// A module declares its older checkpoints' key names with these (Module.legacyKeyRenames).
export type { KeyRename } from "../../runtime/weights/rename.js";
