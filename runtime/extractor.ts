import { BackendError, chooseBackend, type BackendChoice, type BackendName } from "./backend.js";
import { ENGINES, EngineError, type EngineName } from "./engine.js";
import { keyedRecord } from "./features.js";
import type { TfjsKernels } from "./kernels.js";
import { OnnxProgram, hostArray, onnxRuntime, type ForwardOver, type HostArray, type HostValue } from "./onnx/engine.js";
import { customOpRefusal } from "./onnx/ops/custom.js";
import * as tfjsOps from "./ops/index.js";
import { checkCustomOps } from "./ops/support/custom.js";
import { InputShapeError } from "./ops/support/input.js";
import { tf, type Tensor, type Tensor4D } from "./ops/tf.js";
import { prepareParams, readCheckpoint, toTensors, type CheckpointShapes, type HostTensor, type ParamSpec, type Params } from "./params.js";
import { selectTrainable, trainingParams, type ParameterKinds, type TrainableSelection, type TrainingParams } from "./training.js";
import type { WasmPaths } from "./wasm.js";
import { guardWebgpuRun, shaderF16Missing } from "./webgpu/adapter.js";
import { webgpuF16Kernels, webgpuKernels } from "./webgpu/ops/index.js";
import { ForwardReplay, type ReplayStatus } from "./webgpu/replay.js";
import { openWeights, withPrefix } from "./weights/open.js";
import { withRenamedKeys, type KeyRename } from "./weights/rename.js";
import type { TensorSource } from "./weights/types.js";

/** What a compiled module hands the runtime: the checkpoint tensors it reads and its forward. */
export interface ExtractorModule<F, I extends Tensor | readonly Tensor[] = Tensor4D> extends ParameterKinds {
  readonly checkpoint: CheckpointShapes;
  readonly parameters: readonly ParamSpec[];
  /** How older checkpoints' keys are renamed, after the prefix: the modules' own rules (torchvision's FPN before 0.13) and the model's loader's (DenseNet's files). */
  readonly keyRenames?: readonly KeyRename[];
  /** The compiled input shape in the module's layout, `null` for a free dim (one per input when forward takes several); lets an engine check the program at load. */
  readonly inputShape?: readonly (number | null)[] | readonly (readonly (number | null)[])[];
  /** The user ops (F.defineOp) forward calls through `customOp`: load checks each has a kernel (registerOp), and only tfjs runs them. */
  readonly customOps?: readonly string[];
  /** Where the height and width are free: the size shapes were checked at and the smallest the network takes (an engine builds its graph at sizes from these). */
  readonly inputSize?: InputSize;
  /** The program, written as calls of `kernels` (the tfjs kernels, or another engine's that mirror them). */
  forward(input: I, params: Params, kernels: TfjsKernels): F;
}

/** A checkpoint: a path to a `.pth`/`.pt` or `.safetensors` file, or tensors already opened. */
export type WeightsInput = string | TensorSource;

export interface LoadOptions {
  /**
   * What runs the program: `onnxruntime` (ONNX Runtime's CPU execution provider; needs the
   * onnxruntime-node package), `tfjs`, or `auto` (default): onnxruntime when it is installed,
   * starts and can run the program (eval mode), else tfjs; `extractor.fallback` says why. On the
   * webgpu backend auto picks tfjs, which runs the program on the GPU.
   */
  readonly engine?: EngineName | "auto";
  /**
   * tfjs backend (tfjs runs the program, or holds onnxruntime's results); by default the best
   * available one: `webgpu` only on a real GPU adapter (a CPU emulation such as lavapipe is used
   * only when named), then tensorflow, then wasm; `cpu` (plain JavaScript) only when named: a wasm
   * backend that cannot start is an error, not a quiet fallback. `extractor.adapter` names the GPU.
   */
  readonly backend?: BackendName | "auto";
  /**
   * Where tfjs's WebAssembly backend finds its .wasm files: a folder, or each file's path or URL.
   * By default next to the code that runs (a bundle's folder: copy them there), else in the
   * installed @tensorflow/tfjs-backend-wasm. See docs/bundlers.md.
   */
  readonly wasmPaths?: WasmPaths;
  /** Reads only keys under this prefix, without it (e.g. `backbone.body.`). */
  readonly prefix?: string;
  /**
   * onnxruntime: threads one operator runs on (ONNX Runtime's intra-op threads); by default one per
   * core, and in a pool the cores divided among the workers. The tfjs engine ignores it.
   */
  readonly threads?: number;
  /** Hears warnings about the weights (NaN or infinite values); by default process.emitWarning. */
  readonly onWarning?: (message: string) => void;
  /**
   * Loads these parameters as `tf.Variable`s for training (the tfjs engine only): `"all"` (every
   * parameter the model does not freeze, as torchvision's `trainable_layers` freezes a detection
   * backbone's), a list of state_dict keys, or a predicate over them; the others stay constants.
   * `extractor.trainableVariables` holds them by key; in train mode batch norm's running
   * statistics are updated as torch updates them (`extractor.runningStats`).
   */
  readonly trainable?: TrainableSelection;
  /**
   * On the webgpu backend, whose kernels run the program: `tfjs` (default: tfjs-webgpu's generic
   * ones) or `fxc` (fxc's WGSL kernels, runtime/webgpu/ops, where one covers the call; tfjs's for
   * the rest and under gradients). Other backends ignore it, but for `fxc-f16`: fxc's kernels
   * with every matrix product's (convolution, linear, matmul) multiplications in half precision,
   * f32 accumulators (runtime/webgpu/gemm.ts), opt-in for its numerics, so refused rather than
   * run in fp32: on another backend and on a GPU without the shader-f16 feature (BackendError),
   * with engine onnxruntime (EngineError).
   */
  readonly webgpuKernels?: WebgpuKernelChoice;
  /**
   * On the webgpu backend, records the GPU commands of the first forward of each input shape and
   * replays them on later calls of that shape (runtime/webgpu/replay.ts): one command encoder and
   * one submit instead of tfjs's per-op work (a uniform buffer, a bind group and a dispatch each).
   * Features equal the ordinary forward's bit for bit (where that repeats itself: tfjs's split-K
   * matmul sums with atomics, in any order). Eval only: an extractor loaded with
   * `trainable`, and calls under gradients, run ordinarily; so does an input shape whose capture
   * was refused (a forward that reads back to the CPU, draws random numbers, or throws):
   * `extractor.replayStatus()` says which shapes are recorded and why others are not. Up to 4
   * shapes keep a recording (the least recently used is dropped); a recording holds one
   * forward's buffers (its peak memory) until the shape is dropped or the extractor disposed.
   * Off by default until a GPU has measured it; other backends ignore it.
   */
  readonly replay?: boolean;
}

/** Whose kernels run a program on the webgpu backend: tfjs's, fxc's, or fxc's with its matrix products in half precision. */
export type WebgpuKernelChoice = "tfjs" | "fxc" | "fxc-f16";

/** Every kernel set, as the CLI's choices and the refusal of an unknown one list them. */
export const WEBGPU_KERNEL_CHOICES: readonly WebgpuKernelChoice[] = ["tfjs", "fxc", "fxc-f16"];

/** What runs a program: the load options that the tasks (extract, nearest, visualize, detect) pass through as they are. */
export type EngineChoice = Pick<LoadOptions, "engine" | "backend" | "webgpuKernels" | "replay">;

/** The report among an extractor's fields (what a pool's worker sends, a detector and the tasks pass on), the fields left out omitted. */
export function engineReport(r: EngineReport): EngineReport {
  const { engine, webgpuKernels, replay, fallback, backend, adapter, backendFallback } = r;
  return {
    engine,
    backend,
    ...(webgpuKernels === undefined ? {} : { webgpuKernels }),
    ...(replay === undefined ? {} : { replay }),
    ...(fallback === undefined ? {} : { fallback }),
    ...(adapter === undefined ? {} : { adapter }),
    ...(backendFallback === undefined ? {} : { backendFallback }),
  };
}

/** The engine choice among `options`, the fields left out omitted (so that spreading it overrides nothing). */
export function engineChoice(options: EngineChoice): EngineChoice {
  const { engine, backend, webgpuKernels, replay } = options;
  return {
    ...(engine === undefined ? {} : { engine }),
    ...(backend === undefined ? {} : { backend }),
    ...(webgpuKernels === undefined ? {} : { webgpuKernels }),
    ...(replay === undefined ? {} : { replay }),
  };
}

/** `I` is the input: an image batch [N, H, W, C] (or NCHW), or the shape a model of the user's was compiled for. */
/** What runs a loaded program, and why the automatic choices did not pick something else: an Extractor and a Detector say it alike. */
export interface EngineReport {
  /** The engine that runs the program. */
  readonly engine: EngineName;
  /** On the webgpu backend, whose kernels run it; undefined elsewhere. */
  readonly webgpuKernels?: WebgpuKernelChoice;
  /** On the webgpu backend, whether forwards are recorded and replayed (the `replay` load option; never for an extractor loaded to train); undefined elsewhere. */
  readonly replay?: boolean;
  /** Why `auto` did not pick onnxruntime; undefined when it did, or when an engine was named. */
  readonly fallback?: string;
  /** The tfjs backend in use. */
  readonly backend: BackendName;
  /** The GPU adapter the webgpu backend runs on (e.g. `nvidia-h200`); undefined on other backends. */
  readonly adapter?: string;
  /** Why auto mode did not use the GPU it found (its backend did not start); undefined otherwise. */
  readonly backendFallback?: string;
}

export interface Extractor<F, I extends Tensor | readonly Tensor[] = Tensor4D> extends EngineReport {
  /**
   * Runs the extractor on any engine. The features are tfjs tensors whatever the engine; they belong
   * to the caller, who disposes them. onnxruntime's results are held as they came (tfjs's cpu backend
   * keeps them) and move to `backend` when an op first uses them.
   */
  run(x: I): Promise<F>;
  /** Runs the extractor synchronously: the tfjs engine only (onnxruntime throws an EngineError; use `run`). */
  forward(x: I): F;
  /** Frees the weights, and the recordings of the `replay` option. */
  dispose(): void;
  /** With the `replay` load option on webgpu: the input shapes recorded, and those that run ordinarily and why; undefined where replay is off. */
  replayStatus?(): ReplayStatus;
  /**
   * The parameters loaded as trainable variables (the `trainable` load option), by state_dict key,
   * in torch's shapes: give them to a tfjs optimizer, and run the extractor inside
   * `optimizer.minimize` or `tf.variableGrads`. Empty when loaded for inference.
   */
  readonly trainableVariables: Readonly<Record<string, tf.Variable>>;
  /** Batch norm's running statistics, by state_dict key, when loaded for training (train mode updates them); else empty. */
  readonly runningStats: Readonly<Record<string, tf.Variable>>;
}

/** What a generated module exports, as fxc runs it (the CLI, the pool's workers, the tests). */
export interface CompiledModule {
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>>>;
}

const tfjsKernels: TfjsKernels = tfjsOps;

/** A free height and width: the size fxc compiled (and checked shapes) at, and the smallest the network takes. */
export interface InputSize {
  readonly compiled: readonly number[];
  readonly minimum: readonly number[];
}

/** Loads the weights a compiled module needs and returns its extractor on the requested engine. */
export async function createExtractor<F, I extends Tensor | readonly Tensor[] = Tensor4D>(module: ExtractorModule<F, I>, weights: WeightsInput, options: LoadOptions = {}): Promise<Extractor<F, I>> {
  const requested = options.engine ?? "auto";
  if (requested !== "auto" && !ENGINES.includes(requested)) {
    throw new EngineError(requested as EngineName, "is not an engine fxc knows", `use one of ${ENGINES.join(", ")} or auto`);
  }
  const intraOpThreads = threadCount(options.threads);
  if (options.trainable !== undefined && requested === "onnxruntime") {
    throw new EngineError("onnxruntime", "computes no gradients, so it cannot train", "load with engine 'tfjs' (or leave engine out) to train");
  }
  const customOps = module.customOps ?? [];
  checkCustomOps(customOps);
  if (customOps.length > 0 && requested === "onnxruntime") throw customOpRefusal(customOps[0]!);
  const trainable = options.trainable === undefined ? undefined : selectTrainable(options.trainable, module.checkpoint, module);
  checkWebgpuKernels(options.webgpuKernels);
  if (options.webgpuKernels === "fxc-f16" && requested === "onnxruntime") {
    // Named with half precision, onnxruntime would run the program in fp32 on the CPU without a word.
    throw new EngineError("onnxruntime", 'does not run fxc\'s webgpu kernels, so not webgpuKernels "fxc-f16"', "load with engine 'tfjs' (or leave engine out) on backend webgpu");
  }
  checkReplay(options.replay);
  const choice = await chooseBackend(options.backend, { wasmPaths: options.wasmPaths });
  const kernels = kernelsFor(choice, options.webgpuKernels);
  const readWith = async <T>(read: (source: TensorSource) => Promise<T>): Promise<T> => {
    const opened = typeof weights === "string";
    const file = opened ? await openWeights(weights, { prefix: options.prefix }) : weights;
    const prefixed = !opened && options.prefix ? withPrefix(file, options.prefix) : file;
    try {
      return await read(withRenamedKeys(prefixed, module.keyRenames ?? []));
    } finally {
      if (opened) await file.close();
    }
  };
  const readParams = (): Promise<Record<string, HostTensor>> => readWith((source) => prepareParams(source, module.checkpoint, module.parameters, options.onWarning));
  if (trainable !== undefined) {
    const data = await readWith((source) => readCheckpoint(source, module.checkpoint, options.onWarning));
    const fallback = requested === "auto" ? "training runs on tfjs (onnxruntime computes no gradients)" : undefined;
    // Training changes the weights between calls, and train mode draws random numbers: never replayed.
    return tfjsExtractor(module, trainingParams(data, module.checkpoint, module.parameters, trainable), choice, kernels, fallback, false);
  }
  let host: Record<string, HostTensor> | undefined = await readParams();
  let fallback: string | undefined;
  // On the GPU tfjs runs the program: onnxruntime would run it on the CPU, then copy to the GPU.
  if (requested === "auto" && choice.name === "webgpu") fallback = "backend webgpu runs the tfjs engine";
  else if (requested !== "tfjs") {
    let program: OnnxProgram | undefined;
    try {
      if (customOps.length > 0) throw customOpRefusal(customOps[0]!);
      program = new OnnxProgram(await onnxRuntime(), module.forward as ForwardOver, host, { intraOpThreads });
      // The program owns the weights now: it hands them to ONNX Runtime and drops its copy.
      host = undefined;
      const several = module.inputShape?.some(Array.isArray) === true;
      if (several) {
        const shapes = module.inputShape as readonly (readonly (number | null)[])[];
        // One graph for every batch only where every input's batch is free: a fixed one (torch's ones(10, 10)) is run at its own shape.
        if (shapes.every(([batch, ...item]) => batch === null && item.every((d) => d !== null))) await program.prepare(shapes.map((s) => s.slice(1) as number[]));
        else program.check(shapes.map((s) => s.map((d) => d ?? 1)));
      } else {
        const inputShape = module.inputShape as readonly (number | null)[] | undefined;
        const [batch, ...item] = inputShape ?? [];
        // One graph for every batch only where the batch is free: a fixed one (torch's ones(10, 10)) is run at its own shape.
        if (inputShape !== undefined && batch === null && (item.every((d) => d !== null) || module.inputSize !== undefined)) await program.prepare(item, module.inputSize);
        else if (inputShape !== undefined) program.check(inputShape.map((d) => d ?? 1));
      }
      return onnxExtractor(program, choice);
    } catch (e) {
      // Named, the engine's failure is the user's; by default tfjs runs instead, and says why.
      if (requested === "onnxruntime") throw e;
      fallback = e instanceof Error ? e.message : String(e);
      // Weights handed to ONNX Runtime before it failed are read again.
      host = program?.heldParams() ?? host ?? (await readParams());
      await program?.release();
    }
  }
  return tfjsExtractor(module, constantParams(toTensors(host!)), choice, kernels, fallback, options.replay === true);
}

/** A thread count as given, or undefined for the engine's default; anything but a positive whole number is refused. */
function threadCount(threads: number | undefined): number | undefined {
  if (threads !== undefined && !(Number.isSafeInteger(threads) && threads >= 1)) {
    throw new EngineError("onnxruntime", `cannot run on ${threads} threads`, "give threads as a whole number of at least 1, or leave it out (one per core)");
  }
  return threads;
}

/** Every engine takes float32 input, and refuses other dtypes with the same line. */
function checkDtype(input: Tensor | readonly Tensor[]): void {
  for (const x of Array.isArray(input) ? (input as readonly Tensor[]) : [input as Tensor]) checkOneDtype(x);
}

function checkOneDtype(x: Tensor): void {
  if (x.dtype !== "float32") throw new InputShapeError(`input dtype ${x.dtype} is not float32; cast it first (tf.cast(x, "float32"))`);
}

/** Weights loaded for inference: constants, the same for every forward. */
function constantParams(params: Params): TrainingParams {
  return { trainableVariables: {}, runningStats: {}, params: () => ({ params, release: () => undefined }), dispose: () => tf.dispose(Object.values(params)) };
}

/** Refuses a kernel set fxc does not know, before any backend starts. */
function checkWebgpuKernels(requested: WebgpuKernelChoice | undefined): void {
  if (requested !== undefined && !WEBGPU_KERNEL_CHOICES.includes(requested)) {
    const known = WEBGPU_KERNEL_CHOICES.map((c) => JSON.stringify(c));
    throw new BackendError(`webgpuKernels ${JSON.stringify(requested)} is not a kernel set fxc knows; use ${known.slice(0, -1).join(", ")} or ${known.at(-1)}`);
  }
}

/** Refuses a replay option that is not a boolean, before any backend starts. */
function checkReplay(requested: unknown): void {
  if (requested !== undefined && typeof requested !== "boolean") {
    throw new BackendError(`replay ${JSON.stringify(requested)} is not a boolean; give replay: true to record and replay forwards on webgpu, or leave it out`);
  }
}

/**
 * The kernel table a tfjs program runs: fxc's WGSL kernels (in f32, or with half-precision
 * products) where asked for on webgpu, else tfjs's. Half precision is refused where it cannot run
 * (another backend, a device without shader-f16), never swapped for fp32.
 */
function kernelsFor(choice: BackendChoice, requested: WebgpuKernelChoice | undefined): { readonly table: TfjsKernels; readonly name?: WebgpuKernelChoice } {
  if (requested === "fxc-f16") {
    if (choice.name !== "webgpu") {
      throw new BackendError(`webgpuKernels "fxc-f16" runs on the webgpu backend only, not on ${choice.name}; load with backend "webgpu" (--backend webgpu), or leave webgpuKernels out for fp32`);
    }
    const missing = shaderF16Missing();
    if (missing !== undefined) throw new BackendError(missing);
    return { table: webgpuF16Kernels, name: "fxc-f16" };
  }
  if (choice.name !== "webgpu") return { table: tfjsKernels };
  return requested === "fxc" ? { table: webgpuKernels, name: "fxc" } : { table: tfjsKernels, name: "tfjs" };
}

function tfjsExtractor<F, I extends Tensor | readonly Tensor[]>(
  module: ExtractorModule<F, I>,
  weights: TrainingParams,
  choice: BackendChoice,
  kernels: ReturnType<typeof kernelsFor>,
  fallback: string | undefined,
  replayAsked: boolean,
): Extractor<F, I> {
  let disposed = false;
  const replay = replayAsked && choice.name === "webgpu" ? new ForwardReplay<I, F>(() => Object.values(weights.params().params)) : undefined;
  const forward = (x: I): F => {
    if (disposed) throw new Error("this extractor was disposed; load it again");
    checkDtype(x);
    const { params, release } = weights.params();
    try {
      const run = (input: I): F => module.forward(input, params, kernels.table);
      return replay === undefined ? run(x) : replay.run(x, run);
    } finally {
      release();
    }
  };
  return {
    trainableVariables: weights.trainableVariables,
    runningStats: weights.runningStats,
    engine: "tfjs",
    ...(kernels.name === undefined ? {} : { webgpuKernels: kernels.name }),
    ...(choice.name === "webgpu" ? { replay: replay !== undefined } : {}),
    ...(replay === undefined ? {} : { replayStatus: () => replay.status() }),
    fallback,
    backend: choice.name,
    adapter: choice.adapter,
    backendFallback: choice.fallback,
    forward,
    // On webgpu a result is returned once the GPU ran it without failing (a lost device, out of memory).
    run: async (x) => (choice.name === "webgpu" ? guardWebgpuRun(() => forward(x), (out) => tf.dispose(out as tf.TensorContainer), (message) => new BackendError(message)) : forward(x)),
    dispose() {
      if (disposed) return;
      disposed = true;
      // The recordings first: they hand tfjs back the weights' buffers they claimed, which the weights' dispose then frees.
      replay?.dispose();
      weights.dispose();
    },
  };
}

/**
 * An onnxruntime result as the tfjs engine gives it: tensors as tfjs tensors, plain values (shapes,
 * ints, tuples) as they are. The tensors hold ONNX Runtime's arrays as they are, on tfjs's cpu
 * backend: tfjs moves one to the backend in use when an op first reads it, and reading its data
 * copies nothing. Copied into the wasm backend at once instead, every result grew its memory, which
 * never shrinks (resnet50 layer1..4 at batch 8: 48 MB of results, ~40 MB more peak RSS).
 */
function toFeature(v: HostValue): unknown {
  if (Array.isArray(v)) return v.map(toFeature);
  if (v !== null && typeof v === "object") {
    const host = v as HostArray;
    return tf.engine().makeTensor(host.data, [...host.shape], "float32", tf.findBackend("cpu"));
  }
  return v;
}

function onnxExtractor<F, I extends Tensor | readonly Tensor[]>(program: OnnxProgram, choice: BackendChoice): Extractor<F, I> {
  let disposed = false;
  return {
    engine: "onnxruntime",
    trainableVariables: {},
    runningStats: {},
    backend: choice.name,
    adapter: choice.adapter,
    backendFallback: choice.fallback,
    forward() {
      throw new EngineError("onnxruntime", "runs asynchronously, and forward is synchronous", "use await extractor.run(x), or load with engine 'tfjs'");
    },
    async run(x) {
      if (disposed) throw new Error("this extractor was disposed; load it again");
      checkDtype(x);
      const outputs = await program.run(Array.isArray(x) ? await Promise.all((x as readonly Tensor[]).map(hostArray)) : await hostArray(x as Tensor));
      return keyedRecord(Object.entries(outputs).map(([key, o]) => [key, toFeature(o)] as const)) as F;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      void program.release();
    },
  };
}
