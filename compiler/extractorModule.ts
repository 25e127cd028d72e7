import type { Module } from "../models/nn/module.js";
import type { Extractor, LoadOptions, Tensor, WeightsInput } from "@fxc/runtime";
import type { Program } from "./graph/program.js";
import { BATCH, ShapeError } from "./graph/value.js";
import { ReturnNodeError } from "./passes/returnNodes.js";
import { TraceError } from "./trace/tracer.js";
import { build, OptionsError, returnNodesFor, selectNodes, traceMode, type BuildOptions, type Mode } from "./pipeline.js";
import { GraphModule, type ModeGraph } from "./trace/graphModule.js";

/** One mode's compiled program and how to load it. */
export interface CompiledMode {
  readonly program: Program;
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>, Tensor>>;
}

/**
 * What createFeatureExtractor returns: a module (torchvision's DualGraphModule) that a user's
 * model can hold as a child and that fxc traces through, and the compiled program of its
 * current mode, loadable and runnable on the engines. Its mode is the module's `training`:
 * train() and eval() (the module's own, which a holder's train()/eval() reach too) switch the
 * graph it replays and what returnNodes, program and load give; the other mode's program is
 * compiled on first use.
 */
export class FeatureExtractorModule extends GraphModule {
  // Private names: a model's module or parameter installed at the same path cannot shadow them.
  readonly #compiledFor: (mode: Mode) => CompiledMode;
  readonly #shapesAt: (size: readonly [number, number], mode: Mode) => Program["outputs"];

  constructor(
    root: Module,
    graphs: { readonly train: ModeGraph | undefined; readonly eval: ModeGraph | undefined },
    mode: Mode,
    compiledFor: (mode: Mode) => CompiledMode,
    shapesAt: (size: readonly [number, number], mode: Mode) => Program["outputs"],
  ) {
    super(root, graphs);
    this.#compiledFor = compiledFor;
    this.#shapesAt = shapesAt;
    // Only this module's flag: the model's own modules, which it holds, keep their mode until train()/eval().
    this.training = mode === "train";
  }

  /** The current mode, as `training` says it. */
  get #mode(): Mode {
    return this.training ? "train" : "eval";
  }

  /** Each output key and the torchvision node it returns, in the current mode. */
  get returnNodes(): Readonly<Record<string, string>> {
    return Object.fromEntries(this.program.outputs.map((o) => [o.key, o.node]));
  }

  /** The program of the current mode. */
  get program(): Program {
    return this.#compiledFor(this.#mode).program;
  }

  /** Loads the weights the current mode needs and returns something to run; an extractor already loaded keeps its mode. */
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>, Tensor>> {
    return this.#compiledFor(this.#mode).load(weights, options);
  }

  /**
   * The seed's dry run (`out = self.body(torch.randn(2, 3, 224, 224))` to read channel counts),
   * without weights: the output shapes the extractor gives for an input of this shape, in
   * torch's [N, C, H, W] order, in its current mode. A dict-valued node gives one entry per level.
   */
  dryRun(inputShape: readonly [number, number, number, number]): Record<string, { readonly shape: number[] }> {
    const [n, , h, w] = inputShape;
    const outputs = this.#shapesAt([h, w], this.#mode);
    return Object.fromEntries(
      outputs.map((o) => [o.key, { shape: o.value.kind === "tensor" ? o.value.shape.map((d) => (d === BATCH ? n : d)) : [] }]),
    );
  }
}

/**
 * The pruned graph of each mode for the extractor's module. The compiled mode's comes from its
 * build; the other mode is traced again, and is absent where its return nodes do not exist
 * (googlenet's train-only auxiliary heads asked for in eval) or it does not trace at this size.
 */
export function modeGraphs(model: Module, options: BuildOptions, built: { readonly mode: Mode } & ModeGraph): { train: ModeGraph | undefined; eval: ModeGraph | undefined } {
  const otherMode: Mode = built.mode === "train" ? "eval" : "train";
  let other: ModeGraph | undefined;
  try {
    other = selectNodes(traceMode(model, otherMode, options), returnNodesFor(options, otherMode), otherMode);
  } catch (e) {
    if (!(e instanceof ReturnNodeError || e instanceof TraceError || e instanceof ShapeError || e instanceof OptionsError)) throw e;
    other = undefined;
  }
  const own: ModeGraph = { graph: built.graph, outputs: built.outputs };
  return built.mode === "train" ? { train: own, eval: other } : { train: other, eval: own };
}

/** Output shapes of the model's extractor at another size, for `dryRun`. */
export function outputsAt(model: Module, options: BuildOptions): (size: readonly [number, number], mode: Mode) => Program["outputs"] {
  return (size, mode) => build(model, { ...options, size, mode, suppressDiffWarning: true, fixedSize: true }).program.outputs;
}
