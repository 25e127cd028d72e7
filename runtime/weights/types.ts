import { FxcError } from "../errors.js";
/** Element types a checkpoint tensor may have; everything is converted to float32 on read. */
export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export interface TensorInfo {
  readonly key: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** Lazy random access to the tensors of one checkpoint file: nothing is read until asked for. */
export interface TensorSource {
  /** The file this source reads, for messages. */
  readonly path: string;
  readonly format: "safetensors" | "pth";
  /** Tensor names in file order. */
  keys(): string[];
  info(key: string): TensorInfo | undefined;
  /** The tensor as float32 in row-major (C) order of its logical shape, converted from F16/BF16/F64/ints. */
  readFloat32(key: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * A weights file could not be used. The message is one line: the file, the problem, and what to do
 * about it, so that a CLI can print it as is.
 */
export class WeightsError extends FxcError {
  override readonly name = "WeightsError";
  readonly file: string;
  readonly problem: string;
  readonly fix: string;

  constructor(file: string, problem: string, fix: string) {
    super(oneLine(`${file}: ${problem}; ${fix}`));
    this.file = file;
    this.problem = problem;
    this.fix = fix;
  }
}

/** Longest message kept whole; longer ones lose their middle, where text quoted from a file sits. */
const MAX_MESSAGE_LENGTH = 1000;

/**
 * Makes text quoted from a file safe to print as one message line: line breaks collapse, and a message
 * that would run past MAX_MESSAGE_LENGTH (a 20 MB integer literal, a megabyte-long key) keeps only its
 * start and end, so the problem's subject and the fix both survive.
 */
export function oneLine(text: string): string {
  let bounded = text;
  if (text.length > MAX_MESSAGE_LENGTH) {
    const head = text.slice(0, 600);
    const tail = text.slice(-300);
    bounded = `${head}... (${text.length - head.length - tail.length} characters left out) ...${tail}`;
  }
  return bounded.replace(/\s*[\r\n]+\s*/g, " ");
}

/** The `code` of a Node system error (`ENOENT`, `EISDIR`...), or "" for anything else. */
export function errorCode(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
}

/** The one-line error for a key that is not in a file, shared by all formats. */
export function missingKey(path: string, key: string, keys: readonly string[]): WeightsError {
  const sample = keys
    .slice(0, 3)
    .map((k) => `'${k}'`)
    .join(", ");
  return new WeightsError(
    path,
    `has no tensor named '${key}'`,
    keys.length === 0
      ? "the file holds no tensors"
      : `check the name; the file has ${keys.length} tensors such as ${sample}`,
  );
}
