import type { Module } from "../models/nn/module.js";
import { getModelEntry } from "../models/zoo/registry.js";
import { createExtractor, type Extractor, type KeyRename, type LoadOptions, type Preset, type Tensor, type WeightsInput } from "@fxc/runtime";
import type { Program } from "./graph/program.js";
import { programModule } from "./interpret/interpreter.js";
import { emitModule } from "./emit/emitter.js";
import { escapeInvisible } from "./emit/literal.js";
import { build, graphDifference, OptionsError, traceModes, warn, type BuildOptions, type Built, type Layout, type Mode, type TraceModesOptions } from "./pipeline.js";
import { FeatureExtractorModule, modeGraphs, outputsAt, type CompiledMode } from "./extractorModule.js";
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
  /** The preprocessing of the zoo model's DEFAULT weights, exported by its generated module. */
  readonly preset?: Preset;
}

function resolveModel(model: ModelInput, options: { readonly modelOptions?: Record<string, unknown> } = {}): ResolvedModel {
  if (typeof model !== "string") return { module: model, name: model.typeName, size: 224 };
  const entry = getModelEntry(model);
  return { module: entry.build(options.modelOptions), name: entry.name, size: entry.inputSize, minSize: entry.minSize, fixedSize: entry.fixedSize, keyRenames: entry.checkpointKeyRenames, preset: entry.preset };
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

/** Builds the program with every checkpoint key rename (its modules' and the zoo entry's), so that its loader reads torchvision's files. */
function buildProgram(m: ResolvedModel, options: ExtractorOptions): Program {
  return buildModel(m, options).program;
}

function buildModel(m: ResolvedModel, options: ExtractorOptions): Built & { readonly options: BuildOptions } {
  const size = options.size ?? m.size;
  const built = withMinSizeHint(m, size, () => build(m.module, { ...options, size }));
  // The model's own loader's renames (a zoo entry's) after its modules' (the program's, from the trace).
  const program = m.keyRenames?.length ? { ...built.program, keyRenames: [...(built.program.keyRenames ?? []), ...m.keyRenames] } : built.program;
  return { ...built, program, options: { ...options, size } };
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

/**
 * The compiled extractor (`returnNodes`, `program`, `load`, in its current mode), which is also a
 * module a user's model can hold. Its mode is the module's: `training`, `train()` and `eval()`
 * switch what returnNodes, program and load give and which graph it replays when traced.
 */
export type FeatureExtractor = FeatureExtractorModule;

/**
 * torchvision's `create_feature_extractor`: compiles the model for the requested nodes and
 * runs the result directly, without writing files. It runs exactly what `compile` writes.
 * Like torchvision's GraphModule, the result is a module: a child of a user's model, traced through.
 * It starts in `mode` (eval by default) and switches with train() and eval(), as torchvision's.
 */
export function createFeatureExtractor(model: ModelInput, options: ExtractorOptions): FeatureExtractor {
  const m = resolveModel(model, options);
  const mode: Mode = options.mode ?? "eval";
  const built = buildModel(m, { ...options, mode });
  const graphs = modeGraphs(m.module, built.options, { mode, graph: built.graph, outputs: built.outputs });
  const compiled = new Map<Mode, CompiledMode>();
  const compiledFor = (at: Mode): CompiledMode => {
    let entry = compiled.get(at);
    if (entry === undefined) {
      // The first mode's build warned about train/eval differences as asked; the other's would say the same again.
      const program = at === mode ? built.program : buildProgram(m, { ...options, mode: at, suppressDiffWarning: true });
      entry = { program, load: (weights, loadOptions) => loadProgram(program, weights, loadOptions) };
      compiled.set(at, entry);
    }
    return entry;
  };
  return new FeatureExtractorModule(m.module, graphs, mode, compiledFor, outputsAt(m.module, built.options));
}

/**
 * The program createFeatureExtractor runs and compile writes, without the module around it: for a
 * task that runs it as it is, which needs neither the other mode's graph nor TypeScript.
 */
export function extractorProgram(model: ModelInput, options: ExtractorOptions): Program {
  return buildProgram(resolveModel(model, options), options);
}

/** Loads the weights of a program and runs it interpreted: what a generated module's `load` does with the code it holds. */
export function loadProgram(program: Program, weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>, Tensor>> {
  return createExtractor(programModule(program), weights, options);
}

export interface CompileOptions extends ExtractorOptions {
  /** Names the module's features interface; by default the model's name. */
  readonly name?: string;
  /** The command written in the header; by default the `fxc compile` command for these options. */
  readonly command?: string;
  /** The output folder the command names (for the header only). */
  readonly out?: string;
  /** Where the generated module imports the runtime from; `@fxc/runtime` by default. */
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

/** `compile`, with the program the source prints (its outputs tell which are image-like) and the command its header names. */
export async function compileProgram(model: ModelInput, options: CompileOptions): Promise<{ source: string; program: Program; command: string }> {
  const m = resolveModel(model, options);
  const name = options.name ?? m.name;
  const nameProblem = moduleNameMessage(name);
  if (nameProblem !== undefined) throw new OptionsError(nameProblem);
  const program = buildProgram(m, options);
  // A Module built in code has no command line unless its source (FILE#Export) is given: the header says so rather than naming a zoo model.
  const inCode = typeof model !== "string" && options.source === undefined;
  const command = options.command ?? (inCode ? "the compile() call that wrote it (give compile the source option, FILE#Export, for an fxc compile command)" : compileCommand(options.source ?? m.name, options));
  const source = await emitModule(program, {
    model: m.name,
    ...(options.source !== undefined ? { origin: options.source } : inCode ? { origin: `${m.name}, a model built in code` } : {}),
    name,
    command,
    fxcVersion: FXC_VERSION,
    torchvisionVersion: TORCHVISION_VERSION,
    runtimeModule: options.runtimeModule,
    preset: m.preset,
  });
  return { source, program, command };
}

/** The `fxc compile` command line that produces the same module, options in a fixed order, each word quoted for a POSIX shell where it needs it. */
export function compileCommand(
  model: string,
  o: { returnNodes?: ReturnNodes; size?: number | readonly [number, number]; fixedSize?: boolean; layout?: Layout; mode?: Mode; name?: string; out?: string; numClasses?: number },
): string {
  const parts = ["npx", "fxc", "compile", model];
  if (o.returnNodes !== undefined) parts.push("--return", returnSpec(o.returnNodes));
  if (o.out !== undefined && o.out !== "generated") parts.push("--out", o.out);
  if (o.name !== undefined && o.name !== model) parts.push("--name", o.name);
  if (o.size !== undefined) parts.push("--size", typeof o.size === "number" ? String(o.size) : o.size.join("x"));
  if (o.fixedSize === true) parts.push("--fixed-size");
  if (o.layout !== undefined && o.layout !== "nhwc") parts.push("--layout", o.layout);
  if (o.mode !== undefined && o.mode !== "eval") parts.push("--mode", o.mode);
  if (o.numClasses !== undefined) parts.push("--num-classes", String(o.numClasses));
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
