/** fxc: torchvision's feature extraction, compiled ahead of time to typed TypeScript over TensorFlow.js. */
export { getGraphNodeNames, createFeatureExtractor, compile, compileCommand, returnSpec } from "./api.js";
export type { ModelInput, NodeNamesOptions, ExtractorOptions, FeatureExtractor, CompileOptions } from "./api.js";
export type { ReturnNodes } from "./passes/returnNodes.js";
export { ReturnNodeError } from "./passes/returnNodes.js";
export { OptionsError, type Mode, type Layout } from "./pipeline.js";
export { TraceError, type LeafModules } from "./trace/tracer.js";
export type { Program } from "./graph/program.js";
export { listModels, getModel, getModelEntry } from "../models/zoo/registry.js";
export { useBackend, availableBackends, type BackendName } from "../runtime/index.js";
