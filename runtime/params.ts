import { tf, type Tensor } from "./ops/tf.js";
import { WeightsError, type TensorSource } from "./weights/types.js";
import { elementCount } from "./weights/dtype.js";
import { copyStrided } from "./weights/strided.js";
import { InternalError } from "./errors.js";

/** How a checkpoint tensor is turned into the tensor an op wants, once, at load time. */
export type ParamTransform =
  | "none"
  /** torch OIHW to tfjs HWIO. */
  | "conv2dFilter"
  /** torch [C, 1, kh, kw] to tfjs depthwise [kh, kw, C, 1]. */
  | "depthwiseFilter"
  /** torch [out, in] to [in, out], so that `matMul(x, w)` needs no transpose per call. */
  | "linearWeight";

export type ParamSource =
  | { readonly key: string }
  /**
   * Batch norm folded into the preceding convolution (eval mode): the filter scaled by
   * weight / sqrt(var + eps) per output channel, or the bias shifted to match. `conv` and
   * `bn` are module paths; their tensors have torch's names (`weight`, `running_mean`...).
   */
  | {
      readonly fold: "filter" | "bias";
      readonly conv: string;
      readonly convBias: boolean;
      readonly bn: string;
      readonly affine: boolean;
      readonly eps: number;
    };

/** The checkpoint keys a parameter is made from. */
export function sourceKeys(source: ParamSource): string[] {
  if ("key" in source) return [source.key];
  const keys = [`${source.conv}.weight`, `${source.bn}.running_mean`, `${source.bn}.running_var`];
  if (source.convBias) keys.push(`${source.conv}.bias`);
  if (source.affine) keys.push(`${source.bn}.weight`, `${source.bn}.bias`);
  return keys;
}

export interface ParamSpec {
  readonly id: string;
  readonly source: ParamSource;
  readonly transform: ParamTransform;
  /**
   * Part `index` of `count` equal slices of the prepared tensor's last axis: one group's
   * filters (HWIO) or biases of a grouped convolution, kept as its own tensor so that the
   * backend prepares each group's convolution once instead of on every call.
   */
  readonly part?: { readonly index: number; readonly count: number };
}

/**
 * The checkpoint tensors an extractor reads, with their torch shapes. Integer tensors (index
 * tables such as Swin's and MaxViT's `relative_position_index`) say so; every other one must
 * be a float tensor.
 */
export type CheckpointShapes = Readonly<Record<string, CheckpointTensor>>;
export type CheckpointTensor = readonly number[] | { readonly shape: readonly number[]; readonly integer: true };

export const shapeOfEntry = (entry: CheckpointTensor): readonly number[] => ("integer" in entry ? entry.shape : (entry as readonly number[]));

/** The prepared tensors of an extractor by id; a generated module names its ids (`Params<ParamId>`), so a misspelled id is a type error. */
export type Params<Id extends string = string> = Record<Id, Tensor>;

const FLOAT_DTYPES: readonly string[] = ["F32", "F16", "BF16", "F64"];
/**
 * Index tables are read as float32 (exact below 2^24) and cast back where an op indexes with
 * them; a table stored as floats is read as it is.
 */
const INDEX_DTYPES: readonly string[] = [...FLOAT_DTYPES, "I64", "I32", "I16", "I8", "U8"];

/** A prepared parameter's values, row-major, before any engine takes them. */
export interface HostTensor {
  readonly values: Float32Array;
  readonly shape: readonly number[];
  /**
   * Set where the values are another array's permuted (a filter read in torch's OIHW and taken in
   * tfjs's HWIO): `values` is then made from it when read. An engine that wants yet another
   * layout (ONNX's OIHW again) permutes the source once, or not at all, instead of twice.
   */
  readonly permutationOf?: PermutationSource;
}

/** An array in `shape` whose dims `perm` reorders: the result's dim i is the source's dim perm[i]. */
export interface PermutationSource {
  readonly values: Float32Array;
  readonly shape: readonly number[];
  readonly perm: readonly number[];
}

/**
 * A parameter whose values are a permutation of another array's (see HostTensor.permutationOf),
 * made on each read and not kept: a reader that copies them (tfjs's tensor) holds no third copy
 * beside the source and its own while the other parameters are made.
 */
class PermutedHostTensor implements HostTensor {
  readonly shape: readonly number[];

  constructor(readonly permutationOf: PermutationSource) {
    this.shape = permutationOf.perm.map((p) => permutationOf.shape[p]!);
  }

  get values(): Float32Array {
    return permute(this.permutationOf.values, this.permutationOf.shape, this.permutationOf.perm);
  }
}

/**
 * Reads, checks and prepares an extractor's parameters as tfjs tensors. Every key is checked
 * (present, shape, dtype) before anything is read, and nothing is left allocated if any step fails.
 */
export async function loadParams(
  source: TensorSource,
  checkpoint: CheckpointShapes,
  specs: readonly ParamSpec[],
  onWarning: (message: string) => void = (message) => process.emitWarning(message),
): Promise<Params> {
  return toTensors(await prepareParams(source, checkpoint, specs, onWarning));
}

/** Prepared parameters as tfjs tensors; nothing is left allocated if one fails. */
export function toTensors(prepared: Readonly<Record<string, HostTensor>>): Params {
  const params: Params = {};
  try {
    for (const [id, { values, shape }] of Object.entries(prepared)) params[id] = tf.tensor(values, shape as number[], "float32");
  } catch (e) {
    for (const t of Object.values(params)) t.dispose();
    throw e;
  }
  return params;
}

/**
 * Reads, checks and prepares an extractor's parameters as host arrays, in the layouts the tfjs
 * kernels take (every engine's kernels take them so). Every key is checked before anything is read.
 */
export async function prepareParams(
  source: TensorSource,
  checkpoint: CheckpointShapes,
  specs: readonly ParamSpec[],
  onWarning: (message: string) => void = (message) => process.emitWarning(message),
): Promise<Record<string, HostTensor>> {
  return prepareFrom(await readCheckpoint(source, checkpoint, onWarning), checkpoint, specs);
}

/**
 * Reads and checks the checkpoint tensors an extractor needs, in torch's layouts, by key. Every key
 * is checked (present, shape, dtype) before anything is read.
 */
export async function readCheckpoint(
  source: TensorSource,
  checkpoint: CheckpointShapes,
  onWarning: (message: string) => void = (message) => process.emitWarning(message),
): Promise<Map<string, Float32Array>> {
  for (const [key, entry] of Object.entries(checkpoint)) {
    const shape = shapeOfEntry(entry);
    const integer = "integer" in entry;
    const info = source.info(key);
    if (info === undefined) {
      throw new WeightsError(source.path, `has no tensor '${key}' (expected shape [${shape.join(", ")}])`, hintForMissing(source, key));
    }
    if (info.shape.join(",") !== shape.join(",")) {
      throw new WeightsError(source.path, `tensor '${key}' has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}]`, "check that the weights match the model and its options (e.g. numClasses)");
    }
    if (!(integer ? INDEX_DTYPES : FLOAT_DTYPES).includes(info.dtype)) {
      throw new WeightsError(source.path, `tensor '${key}' has dtype ${info.dtype}, expected ${integer ? "an index" : "a float"} tensor`, "check that the weights match the model");
    }
  }
  const data = new Map<string, Float32Array>();
  for (const key of Object.keys(checkpoint)) data.set(key, await source.readFloat32(key));
  const warning = nonFiniteWarning(source.path, data);
  if (warning !== undefined) onWarning(warning);
  return data;
}

/** A checkpoint tensor's torch shape. */
export const checkpointShape = (checkpoint: CheckpointShapes, key: string): readonly number[] => shapeOfEntry(checkpoint[key]!);

/** Whether a checkpoint tensor is an index table (read as integers), not a float tensor. */
export const isIndexTable = (checkpoint: CheckpointShapes, key: string): boolean => "integer" in checkpoint[key]!;

/** Prepares parameters from checkpoint tensors already read and checked (torch's layouts, by key). */
export function prepareFrom(data: ReadonlyMap<string, Float32Array>, checkpoint: CheckpointShapes, specs: readonly ParamSpec[]): Record<string, HostTensor> {
  const shapeOf = (key: string): readonly number[] => checkpointShape(checkpoint, key);
  const read = (key: string): Float32Array => data.get(key)!;
  const params: Record<string, HostTensor> = {};
  // The parts of one grouped filter share their preparation (transform, batch-norm folding): the
  // whole filter in the kernels' layout, made once, which each part slices.
  const preparedOnce = new Map<string, HostTensor>();
  for (const spec of specs) {
    const preparedKey = JSON.stringify([spec.source, spec.transform]);
    let prepared = preparedOnce.get(preparedKey) ?? prepare(spec, read, shapeOf);
    if (spec.part !== undefined && !preparedOnce.has(preparedKey)) {
      prepared = { values: prepared.values, shape: prepared.shape };
      preparedOnce.set(preparedKey, prepared);
    }
    params[spec.id] = spec.part === undefined ? prepared : lastAxisPart(prepared.values, prepared.shape, spec.part);
  }
  return params;
}

/**
 * One line about the tensors holding NaN or infinite values, or undefined if none does. torch loads
 * such weights without a word and so does fxc, but the features they make are NaN: say so once.
 */
export function nonFiniteWarning(path: string, tensors: ReadonlyMap<string, Float32Array>): string | undefined {
  const keys = [...tensors].filter(([, values]) => !allFinite(values)).map(([key]) => key);
  if (keys.length === 0) return undefined;
  const others = keys.length === 1 ? "" : ` and ${keys.length - 1} other tensor${keys.length === 2 ? "" : "s"}`;
  return `${path}: tensor '${keys[0]}'${others} ${keys.length === 1 ? "holds" : "hold"} NaN or infinite values (loaded as they are, as torch does); features computed from them will be NaN or infinite`;
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    // x - x is 0 for every finite x, NaN for NaN and for ±Infinity.
    if (values[i]! - values[i]! !== 0) return false;
  }
  return true;
}

function hintForMissing(source: TensorSource, key: string): string {
  const keys = source.keys();
  const tail = key.split(".").slice(-2).join(".");
  const similar = keys.find((k) => k.endsWith(`.${tail}`) && k !== key);
  if (similar !== undefined && similar.endsWith(key)) {
    return `the file's keys carry a prefix ('${similar.slice(0, similar.length - key.length)}'); pass it as the prefix option`;
  }
  return keys.length === 0 ? "the file holds no tensors" : `check that the weights are for this model (the file's first key is '${keys[0]}')`;
}

/** One parameter's values in the layout its op wants. */
function prepare(spec: ParamSpec, read: (k: string) => Float32Array, shapeOf: (k: string) => readonly number[]): HostTensor {
  const source = spec.source;
  if ("key" in source) return transform(read(source.key), shapeOf(source.key), spec.transform);
  const mean = read(`${source.bn}.running_mean`);
  const variance = read(`${source.bn}.running_var`);
  const gamma = source.affine ? read(`${source.bn}.weight`) : null;
  const out = mean.length;
  const scale = new Float32Array(out);
  for (let c = 0; c < out; c++) scale[c] = (gamma === null ? 1 : gamma[c]!) / Math.sqrt(variance[c]! + source.eps);
  if (source.fold === "filter") {
    const key = `${source.conv}.weight`;
    const w = read(key);
    const perChannel = w.length / out;
    const folded = new Float32Array(w.length);
    // Output channel by output channel: torch's filters hold each one's weights together.
    for (let c = 0, i = 0; c < out; c++) {
      const s = scale[c]!;
      for (const end = i + perChannel; i < end; i++) folded[i] = w[i]! * s;
    }
    return transform(folded, shapeOf(key), spec.transform);
  }
  const beta = source.affine ? read(`${source.bn}.bias`) : null;
  const convBias = source.convBias ? read(`${source.conv}.bias`) : null;
  const bias = new Float32Array(out);
  for (let c = 0; c < out; c++) bias[c] = (beta === null ? 0 : beta[c]!) + ((convBias === null ? 0 : convBias[c]!) - mean[c]!) * scale[c]!;
  return { values: bias, shape: [out] };
}

/** Moves a torch-ordered tensor's values into the layout a tfjs kernel wants (when read: see HostTensor.permutationOf). */
function transform(values: Float32Array, shape: readonly number[], kind: ParamTransform): HostTensor {
  switch (kind) {
    case "none":
      return { values, shape };
    case "linearWeight":
      return new PermutedHostTensor({ values, shape, perm: [1, 0] });
    case "conv2dFilter":
      // torch OIHW to tfjs HWIO.
      return new PermutedHostTensor({ values, shape, perm: [2, 3, 1, 0] });
    case "depthwiseFilter":
      // torch [C, 1, kh, kw] to tfjs [kh, kw, C, 1] (one filter per channel).
      return new PermutedHostTensor({ values, shape, perm: [2, 3, 0, 1] });
  }
}

/** Slice `index` of `count` equal slices along the last axis. */
function lastAxisPart(values: Float32Array, shape: readonly number[], part: { readonly index: number; readonly count: number }): { values: Float32Array; shape: readonly number[] } {
  const last = shape[shape.length - 1]!;
  const size = last / part.count;
  if (!Number.isInteger(size)) throw new InternalError(`a last axis of ${last} does not split into ${part.count} parts`);
  const rows = values.length / last;
  const out = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * last + part.index * size, r * last + (part.index + 1) * size), r * size);
  return { values: out, shape: [...shape.slice(0, -1), size] };
}

/** A row-major transpose: `out` dims are `shape[perm[i]]`; a view with permuted strides, copied. */
export function permute(values: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  if (values.length !== elementCount(shape)) throw new RangeError(`${values.length} values do not fill shape [${shape.join(", ")}]`);
  const rank = shape.length;
  const strides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return copyStrided(
    values,
    perm.map((p) => shape[p]!),
    perm.map((p) => strides[p]!),
  );
}
