/**
 * fxc's runtime: what generated extractors import. Kernels with torch semantics over
 * TensorFlow.js, checkpoint readers, and the loader that prepares weights.
 */
export * as ops from "./ops/index.js";
export { InputShapeError } from "./ops/support/input.js";
export { registerOp, CustomOpError, type CustomKernel, type CustomOpAttrs, type CustomAttrValue } from "./ops/support/custom.js";
export { dispose } from "./ops/support/dispose.js";
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Tensor5D, Tensor6D } from "./ops/tf.js";
export { tf } from "./ops/tf.js";
export { useBackend, chooseBackend, availableBackends, BACKENDS, BackendError, type BackendName, type BackendChoice, type BackendOptions } from "./backend.js";
export { WASM_FILES, type WasmFile, type WasmPaths } from "./wasm.js";
export { OWN_WEBGPU_KERNELS } from "./webgpu/ops/index.js";
export { ENGINES, EngineError, type EngineName } from "./engine.js";
export { FxcError, InternalError } from "./errors.js";
export { TrainingError, selectTrainable, type TrainableSelection, type ParameterKinds } from "./training.js";
export type { TfjsKernels as Kernels, KernelName, KernelTable, RankedKernels, RankNumber, TensorOfRank } from "./kernels.js";
export { createExtractor, type EngineReport, type Extractor, type ExtractorModule, type InputSize, type LoadOptions, type WebgpuKernelChoice, type WeightsInput, type EngineChoice, engineChoice, engineReport, WEBGPU_KERNEL_CHOICES } from "./extractor.js";
export type { ReplayStatus } from "./webgpu/replay.js";
export { loadParams, sourceKeys, type CheckpointShapes, type CheckpointTensor, type ParamSpec, type ParamSource, type ParamTransform, type Params } from "./params.js";
export { openWeights } from "./weights/open.js";
export { memorySource, type MemoryTensor } from "./weights/memory.js";
export { WeightsError, type TensorSource, type TensorInfo } from "./weights/types.js";
export { createExtractorPool, type ExtractorPool, type PoolOptions } from "./pool/pool.js";
export { withRenamedKeys, type KeyRename } from "./weights/rename.js";
export type { Preset } from "./images/preset.js";
export {
  loadDetector,
  DetectorError,
  type Detector,
  type DetectorConfiguration,
  type DetectorDefinition,
  type DetectorLoadOptions,
  type DetectOptions,
  type DetectionIntermediates,
  type DetectionResult,
  type FeatureStage,
  type StageModule,
} from "./detector.js";
export type { DetectionMasks, Detections, ImageTensor } from "./detection/index.js";
