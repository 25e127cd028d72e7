import type { Module } from "../models/nn/module.js";
import { getModelEntry } from "../models/zoo/registry.js";
import { createExtractor, type Extractor, type KeyRename, type LoadOptions, type Tensor, type WeightsInput } from "../runtime/index.js";
import type { Program } from "./graph/program.js";
import { interpret } from "./interpret/interpreter.js";
import { emitModule, inputShapeFor } from "./emit/emitter.js";
import { escapeInvisible } from "./emit/literal.js";
import { build, graphDifference, OptionsError, traceModes, warn, type BuildOptions, type Layout, type Mode, type TraceModesOptions } from "./pipeline.js";
import { moduleNameMessage } from "./names.js";
import { toQueryMap, type ReturnNodes } from "./passes/returnNodes.js";
import { TraceError, type LeafModules } from "./trace/tracer.js";
import { FXC_VERSION, TORCHVISION_VERSION } from "./version.js";

/** A zoo model name, or a model built with fxc's module library. */
export type ModelInput = string | Module;

interface ResolvedModel {
  readonly module: Module;
  readonly name: string;
  readonly size: number;
  /** torchvision's documented smallest input side, for zoo models. */
  readonly minSize?: number;
  /** A model that takes one input size only says so itself (ViT's "Expected 224 but got 200"). */
  readonly fixedSize?: boolean;
  readonly keyRenames?: readonly KeyRename[];
}

function resolveModel(model: ModelInput, options: { readonly modelOptions?: Record<string, unknown> } = {}): ResolvedModel {
  if (typeof model !== "string") return { module: model, name: model.typeName, size: 224 };
  const entry = getModelEntry(model);
  return { module: entry.build(options.modelOptions), name: entry.name, size: entry.inputSize, minSize: entry.minSize, fixedSize: entry.fixedSize, keyRenames: entry.checkpointKeyRenames };
}

/**
 * Runs `fn` (which traces at `size`); a shape error at a size below the model's documented
 * minimum also says what that minimum is.
 */
function withMinSizeHint<T>(m: ResolvedModel, size: number | readonly [number, number], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const [h, w] = typeof size === "number" ? [size, size] : size;
    if (e instanceof TraceError && e.isShapeError && m.minSize !== undefined && !m.fixedSize && Math.min(h, w) < m.minSize) {
      throw new TraceError(`${e.message} (${m.name} takes inputs of at least ${m.minSize}x${m.minSize})`, e.node, true);
    }
    throw e;
  }
}

/** Builds the program and gives it the model's checkpoint key renames, so that its loader reads torchvision's files. */
function buildProgram(m: ResolvedModel, options: ExtractorOptions): Program {
  const size = options.size ?? m.size;
  const { program } = withMinSizeHint(m, size, () => build(m.module, { ...options, size }));
  return m.keyRenames?.length ? { ...program, keyRenames: m.keyRenames } : program;
}

export interface NodeNamesOptions {
  readonly leafModules?: LeafModules;
  /** Input size to trace at; by default the model's own. */
  readonly size?: number | readonly [number, number];
  /** The whole input shape in torch's order, for inputs other than [N, 3, H, W] (see BuildOptions). */
  readonly inputShape?: TraceModesOptions["inputShape"];
  /** One shape per argument of forward, for a model that takes several inputs. */
  readonly inputShapes?: TraceModesOptions["inputShapes"];
  readonly suppressDiffWarning?: boolean;
  readonly onWarning?: (message: string) => void;
}

/** torchvision's `get_graph_node_names`: the node names of the train and eval graphs, in execution order. */
export function getGraphNodeNames(model: ModelInput, options: NodeNamesOptions = {}): { train: string[]; eval: string[] } {
  const m = resolveModel(model);
  const size = options.size ?? m.size;
  const graphs = withMinSizeHint(m, size, () => traceModes(m.module, { size, leafModules: options.leafModules, inputShape: options.inputShape, inputShapes: options.inputShapes }));
  const names = { train: graphs.train.qualnames(), eval: graphs.eval.qualnames() };
  if (!options.suppressDiffWarning) {
    const diff = graphDifference(names.train, names.eval);
    if (diff !== undefined) warn(options, diff);
  }
  return names;
}

export interface ExtractorOptions extends Omit<BuildOptions, "size"> {
  /** Input size; by default the model's own (224 for most of the zoo). */
  readonly size?: number | readonly [number, number];
  /** Builder options for a zoo model, e.g. `{ numClasses: 10 }`. */
  readonly modelOptions?: Record<string, unknown>;
}

export interface FeatureExtractor {
  /** Each output key and the torchvision node it returns, in the current mode. */
  readonly returnNodes: Readonly<Record<string, string>>;
  /** The program of the current mode. */
  readonly program: Program;
  /** Whether the current mode is train, as torchvision's extractor's `training`. */
  readonly training: boolean;
  /**
   * Switches the mode, as torchvision's `fx.train()`: what returnNodes, program and load give
   * from now on. The other mode's graph is compiled on first use (its return nodes from
   * trainReturnNodes/evalReturnNodes, or returnNodes); an extractor already loaded keeps its mode.
   */
  train(mode?: boolean): FeatureExtractor;
  /** `train(false)`. */
  eval(): FeatureExtractor;
  /** Loads the weights the current mode needs and returns something to run. */
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>, Tensor>>;
}

/**
 * torchvision's `create_feature_extractor`: compiles the model for the requested nodes and
 * runs the result directly, without writing files. It runs exactly what `compile` writes.
 * It starts in `mode` (eval by default) and switches with train() and eval().
 */
export function createFeatureExtractor(model: ModelInput, options: ExtractorOptions): FeatureExtractor {
  const m = resolveModel(model, options);
  const compiled = new Map<Mode, { readonly program: Program; readonly forward: ReturnType<typeof interpret> }>();
  // The first mode's build warns about train/eval differences as asked; the other's would say the same again.
  const compiledFor = (mode: Mode) => {
    let entry = compiled.get(mode);
    if (entry === undefined) {
      const program = buildProgram(m, { ...options, mode, suppressDiffWarning: options.suppressDiffWarning || compiled.size > 0 });
      entry = { program, forward: interpret(program) };
      compiled.set(mode, entry);
    }
    return entry;
  };
  let mode: Mode = options.mode ?? "eval";
  compiledFor(mode);
  const fx: FeatureExtractor = {
    get returnNodes() {
      return Object.fromEntries(compiledFor(mode).program.outputs.map((o) => [o.key, o.node]));
    },
    get program() {
      return compiledFor(mode).program;
    },
    get training() {
      return mode === "train";
    },
    train(on = true) {
      mode = on ? "train" : "eval";
      return fx;
    },
    eval: () => fx.train(false),
    load(weights, loadOptions) {
      const { program, forward } = compiledFor(mode);
      return createExtractor<Record<string, Tensor>, Tensor>({ checkpoint: program.checkpoint, parameters: program.params, keyRenames: program.keyRenames, inputShape: inputShapeFor(program), forward }, weights, loadOptions);
    },
  };
  return fx;
}

export interface CompileOptions extends ExtractorOptions {
  /** Names the module's features interface; by default the model's name. */
  readonly name?: string;
  /** The command written in the header; by default the `fxc compile` command for these options. */
  readonly command?: string;
  /** The output folder the command names (for the header only). */
  readonly out?: string;
  /** Where the generated module imports the runtime from; `fxc/runtime` by default. */
  readonly runtimeModule?: string;
  /**
   * Where a model of the user's comes from, as `fxc compile` takes it (`./src/my-net.ts#MyNet`):
   * the header names it, and its regenerate command compiles it again.
   */
  readonly source?: string;
}

/** Compiles a model into the source of a typed TypeScript module. */
export async function compile(model: ModelInput, options: CompileOptions): Promise<string> {
  return (await compileProgram(model, options)).source;
}

/** `compile`, with the program the source prints (its outputs tell which are image-like). */
export async function compileProgram(model: ModelInput, options: CompileOptions): Promise<{ source: string; program: Program }> {
  const m = resolveModel(model, options);
  const name = options.name ?? m.name;
  const nameProblem = moduleNameMessage(name);
  if (nameProblem !== undefined) throw new OptionsError(nameProblem);
  const program = buildProgram(m, options);
  // A Module built in code has no command line unless its source (FILE#Export) is given: the header says so rather than naming a zoo model.
  const inCode = typeof model !== "string" && options.source === undefined;
  const source = await emitModule(program, {
    model: m.name,
    ...(options.source !== undefined ? { origin: options.source } : inCode ? { origin: `${m.name}, a model built in code` } : {}),
    name,
    command: options.command ?? (inCode ? "the compile() call that wrote it (give compile the source option, FILE#Export, for an fxc compile command)" : compileCommand(options.source ?? m.name, options)),
    fxcVersion: FXC_VERSION,
    torchvisionVersion: TORCHVISION_VERSION,
    runtimeModule: options.runtimeModule,
  });
  return { source, program };
}

/** The `fxc compile` command line that produces the same module, options in a fixed order, each word quoted for a POSIX shell where it needs it. */
export function compileCommand(
  model: string,
  o: { returnNodes?: ReturnNodes; size?: number | readonly [number, number]; layout?: Layout; mode?: Mode; name?: string; out?: string },
): string {
  const parts = ["npx", "fxc", "compile", model];
  if (o.returnNodes !== undefined) parts.push("--return", returnSpec(o.returnNodes));
  if (o.out !== undefined && o.out !== "generated") parts.push("--out", o.out);
  if (o.name !== undefined && o.name !== model) parts.push("--name", o.name);
  if (o.size !== undefined) parts.push("--size", typeof o.size === "number" ? String(o.size) : o.size.join("x"));
  if (o.layout !== undefined && o.layout !== "nhwc") parts.push("--layout", o.layout);
  if (o.mode !== undefined && o.mode !== "eval") parts.push("--mode", o.mode);
  return parts.map(shellWord).join(" ");
}

/**
 * A word as a POSIX shell reads it back: bare when it is plain, else in single quotes, or in
 * bash's $'...' when it holds characters a terminal would not show (a folder name with a newline).
 */
function shellWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,.\/-]+$/.test(word)) return word;
  if (escapeInvisible(word) === word) return `'${word.replace(/'/g, "'\\''")}'`;
  return `$'${escapeInvisible(word.replace(/[\\']/g, "\\$&"))}'`;
}

/** The CLI's `node[:key],...` form of return nodes. */
export function returnSpec(spec: ReturnNodes): string {
  return toQueryMap(spec)
    .map(([node, key]) => (node === key ? node : `${node}:${key}`))
    .join(",");
}
