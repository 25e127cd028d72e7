import type { Mode, Module } from "../models/nn/module.js";
import type { ImageLayout as Layout } from "@fxc/runtime/internal/images/preprocess";
import type { Graph } from "./graph/graph.js";
import { BATCH, ShapeError, type Dim } from "./graph/value.js";
import type { Program } from "./graph/program.js";
import { trace, TraceError, type LeafModules } from "./trace/tracer.js";
import { resolveReturnNodes, type ResolvedOutput, type ReturnNodes } from "./passes/returnNodes.js";
import { prune } from "./passes/prune.js";
import { lower } from "./passes/lower.js";
import { fuse } from "./passes/fuse.js";
import { foldDataMovement } from "./passes/moves.js";
import { freeSpatialSize } from "./passes/freeSize.js";
import { FxcError } from "@fxc/runtime/internal/errors";

// Declared where the lower layers need them: the module's mode, the runtime's image layout.
export type { Mode, Layout };

export interface TraceModesOptions {
  /** Input height and width (one number for a square input). */
  readonly size: number | readonly [number, number];
  /** Input channels; 3 for every torchvision classifier. */
  readonly channels?: number;
  /**
   * The whole input shape in torch's order, for a model that does not take [N, C, H, W] images:
   * `[10, 10]` (every dim fixed) or `["N", 10]` (a free batch first). Overrides size and channels.
   */
  readonly inputShape?: readonly Dim[];
  /** One shape per argument of forward, for a model that takes several inputs (as inputShape each). */
  readonly inputShapes?: readonly (readonly Dim[])[];
  readonly leafModules?: LeafModules;
}

/** Traces a model in one mode, restoring its mode after. */
export function traceMode(model: Module, mode: Mode, options: TraceModesOptions): Graph {
  const wasTraining = model.training;
  try {
    return trace(model.train(mode === "train"), { inputShapes: inputShapes(options), leafModules: options.leafModules });
  } finally {
    model.train(wasTraining);
  }
}

/** Traces a model in both modes, as torchvision does. */
export function traceModes(model: Module, options: TraceModesOptions): { train: Graph; eval: Graph } {
  return { train: traceMode(model, "train", options), eval: traceMode(model, "eval", options) };
}

/** The shape of each input: inputShapes, inputShape, or an [N, C, H, W] image of the size. */
export function inputShapes(options: Pick<TraceModesOptions, "size" | "channels" | "inputShape" | "inputShapes">): Dim[][] {
  if (options.inputShapes !== undefined) {
    if (options.inputShape !== undefined) throw new OptionsError("give inputShape (one input) or inputShapes (one per input), not both");
    if (options.inputShapes.length === 0) throw new OptionsError("inputShapes is empty; give one shape per argument of forward");
    return options.inputShapes.map(checkedInputShape);
  }
  return [inputShape(options)];
}

export function inputShape(options: Pick<TraceModesOptions, "size" | "channels" | "inputShape">): Dim[] {
  if (options.inputShape !== undefined) return checkedInputShape(options.inputShape);
  const [h, w] = typeof options.size === "number" ? [options.size, options.size] : options.size;
  return [BATCH, options.channels ?? 3, h, w];
}

/** A user's input shape: positive whole dims, the free batch ("N") first if anywhere. */
function checkedInputShape(shape: readonly Dim[]): Dim[] {
  const text = `[${shape.join(", ")}]`;
  shape.forEach((d, i) => {
    if (d === BATCH ? i !== 0 : !(Number.isInteger(d) && d > 0)) {
      throw new OptionsError(`input shape ${text} has ${JSON.stringify(d)} at dim ${i}; give positive whole sizes, with "N" (the free batch) only first, such as ["N", 3, 224, 224] or [10, 10]`);
    }
  });
  return [...shape];
}

/** The warning torchvision gives when train and eval graphs differ. */
export function graphDifference(train: readonly string[], evalNodes: readonly string[]): string | undefined {
  if (train.length === evalNodes.length && train.every((t, i) => t === evalNodes[i])) return undefined;
  const isSubsequence = (x: readonly string[], y: readonly string[]): boolean => {
    let i = 0;
    for (const item of x) if (item === y[i]) i++;
    return i === y.length;
  };
  const suggestion = "When choosing nodes for feature extraction, you may need to specify output nodes for train and eval mode separately.";
  if (isSubsequence(train, evalNodes)) return `NOTE: The nodes obtained by tracing the model in eval mode are a subsequence of those obtained in train mode. ${suggestion}`;
  if (isSubsequence(evalNodes, train)) return `NOTE: The nodes obtained by tracing the model in train mode are a subsequence of those obtained in eval mode. ${suggestion}`;
  return `The nodes obtained by tracing the model in train mode are different to those obtained in eval mode. ${suggestion}`;
}

export interface BuildOptions extends TraceModesOptions {
  /** Return nodes for both modes; or give trainReturnNodes and evalReturnNodes. */
  readonly returnNodes?: ReturnNodes;
  readonly trainReturnNodes?: ReturnNodes;
  readonly evalReturnNodes?: ReturnNodes;
  /** Which graph to compile. Default: eval. */
  readonly mode?: Mode;
  readonly layout?: Layout;
  readonly suppressDiffWarning?: boolean;
  /** Where warnings go; by default process.emitWarning. */
  readonly onWarning?: (message: string) => void;
  /**
   * Keep the input height and width at `size` even where the network takes any (by default an
   * image model whose program does not depend on the size takes any from the smallest it allows).
   */
  readonly fixedSize?: boolean;
}

/**
 * The train/eval difference warning, from the graph being compiled and the other mode's. Shapes
 * are inferred while tracing, so the other graph may not trace at a size the compiled one takes
 * (Inception v3's train-only auxiliary head needs 299 px); that is said instead of failing.
 */
function otherModeDifference(model: Module, mode: Mode, graph: Graph, options: BuildOptions): string | undefined {
  const otherMode: Mode = mode === "train" ? "eval" : "train";
  let other: Graph;
  try {
    other = traceMode(model, otherMode, options);
  } catch (e) {
    if (e instanceof TraceError && e.isShapeError) {
      return `the ${otherMode} graph does not trace at this input size (${e.message}), so it was not compared with the ${mode} graph`;
    }
    throw e;
  }
  const [train, evalGraph] = mode === "train" ? [graph, other] : [other, graph];
  return graphDifference(train.qualnames(), evalGraph.qualnames());
}

export interface Built {
  readonly program: Program;
  readonly outputs: readonly ResolvedOutput[];
  readonly graph: Graph;
}

export class OptionsError extends FxcError {
  override readonly name = "OptionsError";
}

/** Picks the return nodes for a mode, with torchvision's rules on which arguments go together. */
export function returnNodesFor(options: Pick<BuildOptions, "returnNodes" | "trainReturnNodes" | "evalReturnNodes">, mode: Mode): ReturnNodes {
  const { returnNodes, trainReturnNodes, evalReturnNodes } = options;
  if (returnNodes === undefined && trainReturnNodes === undefined && evalReturnNodes === undefined) {
    throw new OptionsError("no return nodes: give returnNodes, or trainReturnNodes and evalReturnNodes together");
  }
  if ((trainReturnNodes === undefined) !== (evalReturnNodes === undefined)) {
    throw new OptionsError("trainReturnNodes and evalReturnNodes go together: give both, or returnNodes alone");
  }
  if (returnNodes !== undefined && trainReturnNodes !== undefined) {
    throw new OptionsError("give either returnNodes, or trainReturnNodes and evalReturnNodes, not both");
  }
  return returnNodes ?? (mode === "train" ? trainReturnNodes! : evalReturnNodes!);
}

/** Says `message` through `onWarning`, or process.emitWarning when none is given. */
export function warn(options: { readonly onWarning?: (message: string) => void }, message: string): void {
  (options.onWarning ?? ((m: string) => process.emitWarning(m)))(message);
}

/** Trace, resolve the return nodes, prune, lower and fuse: a model to a runnable program. */
export function build(model: Module, options: BuildOptions): Built {
  const mode = options.mode ?? "eval";
  // torchvision's argument rules first: a wrong combination costs no trace.
  const returnNodes = returnNodesFor(options, mode);
  const graph = traceMode(model, mode, options);
  if (!options.suppressDiffWarning) {
    const diff = otherModeDifference(model, mode, graph, options);
    if (diff !== undefined) warn(options, diff);
  }
  const compiled = compileGraph(graph, returnNodes, { mode, layout: options.layout });
  const built = { ...compiled, program: withModuleFacts(compiled.program, model) };
  if (options.fixedSize === true || options.inputShape !== undefined || options.inputShapes !== undefined) return built;
  const at = { ...options, mode, fixedSize: true, suppressDiffWarning: true };
  const program = freeSpatialSize(built.program, {
    build: (size) => refusingSize(() => build(model, { ...at, size }).program),
    traces: (size) => tracesAt(model, mode, { ...at, size }),
  });
  return { ...built, program };
}

/** Whether the model traces at this input: false where shape inference refuses it (too small, or a size it does not take). */
export function tracesAt(model: Module, mode: Mode, options: TraceModesOptions): boolean {
  return refusingSize(() => traceMode(model, mode, options)) !== undefined;
}

/** What `fn` gives at an input size, or undefined where the model refuses that size; other failures are thrown. */
export function refusingSize<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    // A module's own size check (MaxViT's) throws a ShapeError before any node records it.
    if ((e instanceof TraceError && e.isShapeError) || e instanceof ShapeError) return undefined;
    throw e;
  }
}

/** Resolve the return nodes of a traced graph, prune, lower and fuse: the part of build after the trace. */
export function compileGraph(graph: Graph, returnNodes: ReturnNodes, options: { readonly mode: Mode; readonly layout?: Layout | undefined }): Built {
  const { graph: pruned, outputs } = selectNodes(graph, returnNodes, options.mode);
  const program = foldDataMovement(fuse(lower(pruned, outputs, { mode: options.mode, layout: options.layout ?? "nhwc" })));
  return { program, outputs, graph: pruned };
}

/**
 * What the traced model says about the program's checkpoint tensors: which are buffers and which
 * parameters it freezes, so that loading for training (`trainable`) makes variables of trainable
 * parameters only, and how its modules rename older checkpoints' keys (Module.legacyKeyRenames,
 * each under the module's path in the traced model), for the modules whose tensors the program reads.
 */
export function withModuleFacts(program: Program, model: Module): Program {
  const checkpointKeys = Object.keys(program.checkpoint);
  const read = (key: string): boolean => Object.hasOwn(program.checkpoint, key);
  const buffers = model.namedBuffers().map(([key]) => key).filter(read);
  const frozen = model.namedParameters().filter(([key, p]) => !p.requiresGrad && read(key)).map(([key]) => key);
  const keyRenames = model.checkpointKeyRenames((path) => path === "" || checkpointKeys.some((key) => key.startsWith(`${path}.`)));
  return { ...program, ...(buffers.length > 0 ? { buffers } : {}), ...(frozen.length > 0 ? { frozen } : {}), ...(keyRenames.length > 0 ? { keyRenames } : {}) };
}

/** Resolves the return nodes of a traced graph and prunes it to what they need. */
export function selectNodes(graph: Graph, returnNodes: ReturnNodes, mode: Mode): Omit<Built, "program"> {
  const outputs = resolveReturnNodes(graph, returnNodes, mode);
  return { graph: prune(graph, outputs.map((o) => o.node)), outputs };
}
