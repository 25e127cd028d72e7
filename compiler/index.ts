/** fxc: torchvision's feature extraction, compiled ahead of time to typed TypeScript over TensorFlow.js. */
export { getGraphNodeNames, createFeatureExtractor, compile, compileCommand, returnSpec } from "./api.js";
export type { ModelInput, NodeNamesOptions, ExtractorOptions, FeatureExtractor, CompileOptions } from "./api.js";
export type { ReturnNodes } from "./passes/returnNodes.js";
export type { FxcConfig, ExtractorConfig } from "./cli/config.js";
export { ReturnNodeError } from "./passes/returnNodes.js";
export { OptionsError, type Mode, type Layout } from "./pipeline.js";
export { TraceError, type LeafModules } from "./trace/tracer.js";
export type { Program } from "./graph/program.js";
export { listModels, getModel, getModelEntry } from "../models/zoo/registry.js";
export { useBackend, availableBackends, FxcError, EngineError, BackendError, WeightsError, type BackendName } from "../runtime/index.js";
export * from "../runtime/images/index.js";
export * from "../runtime/descriptors/index.js";
export * from "../runtime/visualize/index.js";
export { FeatureWriter, readFeatureTable, type FeatureFormat, type FeatureRows, type FeatureTable, type FeatureWriterOptions, type NpyManifest, type WrittenFeatures } from "../runtime/io/featureStore.js";
export { extractFolder, imageFeatures, type ExtractFolderOptions, type ExtractFolderResult, type ImageFeatureOptions } from "./tasks/extractFolder.js";
export { nearest, indexRecipe, type NearestOptions, type NearestResult, type Neighbour, type ImageQuery, type FeatureQuery, type IndexRecipe } from "./tasks/nearest.js";
export { visualize, type VisualizeOptions, type VisualizeResult, type VisualizedNode } from "./tasks/visualize.js";
export { interpretExtractor, resolvePreprocessing, type ExtractorLoader, type ExtractorRequest, type LoadedExtractor } from "./tasks/loader.js";
