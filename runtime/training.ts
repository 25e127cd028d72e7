import { tf, type Tensor } from "./ops/tf.js";
// After tfjs-core itself: registers tfjs's gradient functions in its global registry.
import "./gradients/tfjsGradients.js";
import { registerBackwardKernels } from "./gradients/kernels.js";
import { TrainingError } from "./errors.js";
export { TrainingError };
import { checkpointShape, isIndexTable, prepareFrom, sourceKeys, toTensors, type CheckpointShapes, type ParamSpec, type ParamTransform, type Params } from "./params.js";

/**
 * Which checkpoint parameters load as `tf.Variable`s that an optimizer trains (torch's
 * `requires_grad`), by state_dict key: `"all"` (every parameter the model does not freeze),
 * a list of keys, or a predicate over the keys of the parameters the extractor reads.
 */
export type TrainableSelection = "all" | readonly string[] | ((key: string) => boolean);

/** Which of a module's checkpoint keys are not trainable parameters, as its model says. */
export interface ParameterKinds {
  /** Buffers (running statistics, FrozenBatchNorm2d's affine, index tables): never trainable. */
  readonly buffers?: readonly string[];
  /** Parameters the model freezes (`requires_grad = False`: a detection backbone's `trainable_layers`): left out of `"all"`. */
  readonly frozen?: readonly string[];
}


/** Buffers by name, for a module that does not list its own (modules generated before the list existed). */
const BUFFER_NAME = /(^|\.)(running_mean|running_var|num_batches_tracked)$/;
const RUNNING_STAT = /(^|\.)(running_mean|running_var)$/;

/**
 * The checkpoint keys a selection makes trainable, in checkpoint order. `"all"` leaves out what the
 * model freezes; a list or a predicate decides for every parameter, frozen or not (as setting
 * `requires_grad` in torch does); buffers are never trainable, and naming one is an error.
 */
export function selectTrainable(selection: TrainableSelection, checkpoint: CheckpointShapes, kinds: ParameterKinds = {}): string[] {
  const keys = Object.keys(checkpoint);
  const buffers = new Set(kinds.buffers ?? keys.filter((k) => BUFFER_NAME.test(k)));
  const frozen = new Set(kinds.frozen ?? []);
  const parameters = keys.filter((k) => !buffers.has(k) && !isIndexTable(checkpoint, k));
  if (selection === "all") return parameters.filter((k) => !frozen.has(k));
  if (typeof selection === "function") return parameters.filter((k) => selection(k));
  if (!Array.isArray(selection)) {
    throw new TrainingError(`trainable must be "all", a list of state_dict keys or a function of the key, not ${typeof selection}`);
  }
  const known = new Set(parameters);
  for (const key of selection as readonly unknown[]) {
    if (typeof key === "string" && known.has(key)) continue;
    const what = typeof key !== "string" ? `${typeof key} ${String(key)}` : `'${key}'`;
    const why = typeof key === "string" && keys.includes(key) ? "is a buffer, not a parameter (buffers are never trained)" : "is not a parameter this extractor reads";
    const shown = parameters.slice(0, 3).join(", ");
    throw new TrainingError(`trainable: ${what} ${why}; name state_dict keys of the parameters the returned nodes use (${parameters.length} here: ${shown}${parameters.length > 3 ? ", ..." : ""})`);
  }
  const chosen = new Set(selection);
  return parameters.filter((k) => chosen.has(k));
}

/** The weights of an extractor loaded for training: what each forward reads, and the variables behind it. */
export interface TrainingParams {
  /** The trainable parameters as variables, in torch's shapes, by state_dict key. */
  readonly trainableVariables: Readonly<Record<string, tf.Variable>>;
  /** Batch norm's running statistics (train mode updates them as torch does), by state_dict key. */
  readonly runningStats: Readonly<Record<string, tf.Variable>>;
  /**
   * The params one forward reads: constants and variables as they are, and the tensors made from
   * variables (a transposed filter, a batch norm folded into a filter) computed now, so that a
   * gradient tape around the forward records them; `release` frees those after the forward.
   */
  params(): { readonly params: Params; release(): void };
  dispose(): void;
}

/**
 * Loads checkpoint tensors for training: the selected keys as trainable variables, running
 * statistics read directly by a batch norm as variables it updates, and every parameter made
 * only of constants prepared once, as for inference.
 */
export function trainingParams(data: ReadonlyMap<string, Float32Array>, checkpoint: CheckpointShapes, specs: readonly ParamSpec[], trainable: readonly string[]): TrainingParams {
  registerBackwardKernels();
  const selected = new Set(trainable);
  const directStats = specs.filter((s) => "key" in s.source && s.transform === "none" && s.part === undefined && RUNNING_STAT.test(s.source.key)).map((s) => sourceKeys(s.source)[0]!);
  const live = specs.filter((s) => sourceKeys(s.source).some((k) => selected.has(k)) || ("key" in s.source && directStats.includes(s.source.key)));
  const constant = specs.filter((s) => !live.includes(s));
  const allocated: tf.Tensor[] = [];
  try {
    const fixed = toTensors(prepareFrom(data, checkpoint, constant));
    allocated.push(...Object.values(fixed));
    const trainableVariables: Record<string, tf.Variable> = {};
    const runningStats: Record<string, tf.Variable> = {};
    // Every tensor the live params are made of, in torch's layout: variables, or constants beside them (a frozen filter under a trained batch norm).
    const sources = new Map<string, Tensor>();
    for (const key of new Set(live.flatMap((s) => sourceKeys(s.source)))) {
      const initial = tf.tensor(data.get(key)!, checkpointShape(checkpoint, key) as number[], "float32");
      if (!selected.has(key) && !directStats.includes(key)) {
        allocated.push(initial);
        sources.set(key, initial);
        continue;
      }
      const variable = tf.variable(initial, selected.has(key), freeVariableName(key));
      initial.dispose();
      allocated.push(variable);
      sources.set(key, variable);
      (selected.has(key) ? trainableVariables : runningStats)[key] = variable;
    }
    const get = (key: string): Tensor => sources.get(key)!;
    return {
      trainableVariables,
      runningStats,
      params() {
        const made: Tensor[] = [];
        const params: Params = { ...fixed };
        for (const spec of live) {
          const source = spec.source;
          if ("key" in source && spec.transform === "none" && spec.part === undefined) {
            params[spec.id] = get(source.key);
            continue;
          }
          const t = tf.tidy(() => derive(spec, get));
          made.push(t);
          params[spec.id] = t;
        }
        return { params, release: () => tf.dispose(made) };
      },
      dispose: () => tf.dispose(allocated),
    };
  } catch (e) {
    tf.dispose(allocated);
    throw e;
  }
}

/**
 * tfjs registers variables by name, once: a variable is named after its key, with a suffix where
 * another extractor loaded at the same time holds that name, so gradients come keyed by it.
 */
function freeVariableName(key: string): string {
  const registered = tf.engine().registeredVariables;
  let name = key;
  for (let i = 2; name in registered; i++) name = `${key}_${i}`;
  return name;
}

/** One parameter made from tensors with tfjs ops (as params.ts's `prepare` makes it from arrays), so that gradients reach the tensors. */
function derive(spec: ParamSpec, get: (key: string) => Tensor): Tensor {
  const source = spec.source;
  let t: Tensor;
  if ("key" in source) {
    t = transform(get(source.key), spec.transform);
  } else {
    const variance = get(`${source.bn}.running_var`);
    const inverseStd = tf.rsqrt(tf.add(variance, source.eps));
    const scale = source.affine ? tf.mul(get(`${source.bn}.weight`), inverseStd) : inverseStd;
    if (source.fold === "filter") {
      const w = get(`${source.conv}.weight`);
      // torch's filter is [out, ...]: one scale per output channel.
      const perChannel = tf.reshape(scale, [scale.size, ...w.shape.slice(1).map(() => 1)]);
      t = transform(tf.mul(w, perChannel), spec.transform);
    } else {
      const shift = source.convBias ? tf.sub(get(`${source.conv}.bias`), get(`${source.bn}.running_mean`)) : tf.neg(get(`${source.bn}.running_mean`));
      const shifted = tf.mul(shift, scale);
      t = source.affine ? tf.add(get(`${source.bn}.bias`), shifted) : shifted;
    }
  }
  if (spec.part === undefined) return t;
  const last = t.rank - 1;
  return tf.split(t, spec.part.count, last)[spec.part.index]!;
}

/** params.ts's layout moves as tfjs ops. */
function transform(t: Tensor, kind: ParamTransform): Tensor {
  switch (kind) {
    case "none":
      return t;
    case "linearWeight":
      return tf.transpose(t, [1, 0]);
    case "conv2dFilter":
      return tf.transpose(t, [2, 3, 1, 0]);
    case "depthwiseFilter": {
      const [c, , h, w] = t.shape as [number, number, number, number];
      return tf.reshape(tf.transpose(tf.reshape(t, [c, h, w]), [1, 2, 0]), [h, w, c, 1]);
    }
  }
}
