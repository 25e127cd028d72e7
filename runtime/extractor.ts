import type { Tensor, Tensor4D } from "./ops/tf.js";
import { useBackend, type BackendName } from "./backend.js";
import { loadParams, type CheckpointShapes, type ParamSpec, type Params } from "./params.js";
import { openWeights } from "./weights/open.js";
import { withPrefix } from "./weights/open.js";
import type { TensorSource } from "./weights/types.js";
import { withRenamedKeys, type KeyRename } from "./weights/rename.js";

/** What a compiled module hands the runtime: the checkpoint tensors it reads and its forward. */
export interface ExtractorModule<F> {
  readonly checkpoint: CheckpointShapes;
  readonly parameters: readonly ParamSpec[];
  /** How the model's loader renames checkpoint keys (torchvision's DenseNet files use old names). */
  readonly keyRenames?: readonly KeyRename[];
  forward(input: Tensor4D, params: Params): F;
}

/** A checkpoint: a path to a `.pth`/`.pt` or `.safetensors` file, or tensors already opened. */
export type WeightsInput = string | TensorSource;

export interface LoadOptions {
  /** tfjs backend; by default the best installed one (tensorflow, then wasm, then cpu). */
  readonly backend?: BackendName | "auto";
  /** Reads only keys under this prefix, without it (e.g. `backbone.body.`). */
  readonly prefix?: string;
  /** Hears warnings about the weights (NaN or infinite values); by default process.emitWarning. */
  readonly onWarning?: (message: string) => void;
}

export interface Extractor<F> {
  /** Runs the extractor. Returned tensors belong to the caller, who disposes them. */
  forward(x: Tensor4D): F;
  /** Frees the weights. */
  dispose(): void;
  /** The tfjs backend in use. */
  readonly backend: BackendName;
}

/** What a generated module exports, as fxc runs it (the CLI, the pool's workers, the tests). */
export interface CompiledModule {
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>>>;
}

/** Loads the weights a compiled module needs and returns its extractor. */
export async function createExtractor<F>(module: ExtractorModule<F>, weights: WeightsInput, options: LoadOptions = {}): Promise<Extractor<F>> {
  const backend = await useBackend(options.backend);
  const opened = typeof weights === "string";
  const file = opened ? await openWeights(weights, { prefix: options.prefix }) : weights;
  const prefixed = !opened && options.prefix ? withPrefix(file, options.prefix) : file;
  const source = withRenamedKeys(prefixed, module.keyRenames ?? []);
  let params: Params;
  try {
    params = await loadParams(source, module.checkpoint, module.parameters, options.onWarning);
  } finally {
    if (opened) await file.close();
  }
  let disposed = false;
  return {
    backend,
    forward(x) {
      if (disposed) throw new Error("this extractor was disposed; load it again");
      return module.forward(x, params);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const t of Object.values(params)) t.dispose();
    },
  };
}
