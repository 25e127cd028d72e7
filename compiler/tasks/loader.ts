import type { Preset } from "../../models/zoo/entry.js";
import { getModelEntry } from "../../models/zoo/registry.js";
import { presetSizeProblem } from "@fxc/runtime/internal/images/preprocess";
import { engineChoice, type BackendName, type EngineChoice, type EngineName, type EngineReport, type LoadOptions, type Tensor, type Tensor4D, type WeightsInput } from "@fxc/runtime";
import { extractorProgram, loadProgram, type ExtractorOptions, type ModelInput } from "../api.js";
import type { ProgramOutput } from "../graph/program.js";
import type { ReturnNodes } from "../passes/returnNodes.js";
import { OptionsError, type Layout, type Mode } from "../pipeline.js";

/** What a task needs to run a model on images. */
export interface ExtractorRequest extends EngineChoice {
  readonly model: ModelInput;
  readonly returnNodes: ReturnNodes;
  /** The input size: the preprocessing's crop for images. */
  readonly size: number | readonly [number, number];
  readonly layout: Layout;
  readonly mode: Mode;
  readonly weights: WeightsInput;
  readonly prefix?: string;
  /** Worker threads sharing each batch (a loader that runs in this thread only refuses more than 1). */
  readonly workers?: number;
  readonly onWarning?: (message: string) => void;
}

/** An extractor in this thread, or a pool of worker threads, on any engine. */
export interface ExtractorRunner extends EngineReport {
  /** Outputs belong to the caller, who disposes them. */
  run(x: Tensor4D): Promise<Record<string, Tensor>>;
  dispose(): void | Promise<void>;
}

export interface LoadedExtractor {
  readonly extractor: ExtractorRunner;
  /** Each output's key, node and format, in the extractor's order. */
  readonly outputs: readonly ProgramOutput[];
  readonly layout: Layout;
}

/**
 * How a task gets a running extractor. Both the API and the CLI interpret the compiled program in
 * this thread (`interpretExtractor`); the CLI's worker pool imports the module `fxc compile` writes.
 * Both run the same program.
 */
export type ExtractorLoader = (request: ExtractorRequest) => Promise<LoadedExtractor>;

/** What every loader compiles a request with: a request without a warning handler hears no warnings. */
export function requestExtractorOptions(r: ExtractorRequest): ExtractorOptions {
  return { returnNodes: r.returnNodes, size: r.size, layout: r.layout, mode: r.mode, onWarning: r.onWarning, suppressDiffWarning: r.onWarning === undefined };
}

/** What every loader loads a request's weights with: a request without a warning handler hears no warnings. */
export function requestLoadOptions(r: ExtractorRequest): LoadOptions {
  return { ...engineChoice(r), prefix: r.prefix, onWarning: r.onWarning ?? (() => {}) };
}

/**
 * Tasks store, pool and draw tensors; a returned shape or int (which the API and compiled
 * modules return as plain values) is refused before any weights are read.
 */
export function checkTensorOutputs(outputs: readonly ProgramOutput[]): void {
  const plain = outputs.find((o) => o.value.kind !== "tensor");
  if (plain !== undefined) {
    throw new OptionsError(`node '${plain.node}' (key '${plain.key}') is a ${plain.value.kind}, not a tensor, and feature files hold tensors; return a tensor node here, or get plain values from createFeatureExtractor or a compiled module's run`);
  }
}

export const interpretExtractor: ExtractorLoader = async (r) => {
  if ((r.workers ?? 1) > 1) throw new OptionsError("worker threads run compiled modules: use fxc extract --workers, or createExtractorPool with a module fxc compile wrote");
  const program = extractorProgram(r.model, requestExtractorOptions(r));
  checkTensorOutputs(program.outputs);
  return { extractor: await loadProgram(program, r.weights, requestLoadOptions(r)), outputs: program.outputs, layout: r.layout };
};

/** The model's name as feature files record it. */
export function modelName(model: ModelInput): string {
  return typeof model === "string" ? getModelEntry(model).name : model.typeName;
}

/**
 * A zoo model's preset (torchvision's `ImageClassification` of its DEFAULT weights) with `overrides`
 * applied; a model built in code has no preset, so every field must be given.
 */
export function resolvePreprocessing(model: ModelInput, overrides: Partial<Preset> = {}): Preset {
  const base: Partial<Preset> = typeof model === "string" ? getModelEntry(model).preset : {};
  const p = { ...base, ...definedOnly(overrides) };
  const missing = (["resizeSize", "cropSize", "mean", "std", "interpolation"] as const).filter((k) => p[k] === undefined);
  if (missing.length > 0) {
    throw new OptionsError(`a model built in code has no preset; give preprocessing ${missing.join(", ")} (torchvision's ImageClassification values)`);
  }
  const preset = p as Preset;
  const sizeProblem = presetSizeProblem(preset);
  if (sizeProblem !== undefined) throw new OptionsError(sizeProblem);
  for (const k of ["mean", "std"] as const) {
    if (preset[k].length !== 3 || !preset[k].every(Number.isFinite)) throw new OptionsError(`preprocessing ${k} must be three numbers (R, G, B), got [${preset[k].join(", ")}]`);
  }
  if (!preset.std.every((s) => s > 0)) throw new OptionsError(`preprocessing std must be positive, got [${preset.std.join(", ")}]`);
  if (!["bilinear", "bicubic", "nearest"].includes(preset.interpolation)) {
    throw new OptionsError(`preprocessing interpolation must be bilinear, bicubic or nearest, got '${String(preset.interpolation)}'`);
  }
  return { resizeSize: preset.resizeSize, cropSize: preset.cropSize, mean: preset.mean, std: preset.std, interpolation: preset.interpolation };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
