import { withAtomicFile } from "../io/atomic.js";
import { DTYPE_SIZE, elementCount, isNonNegativeInteger, toFloat32 } from "./dtype.js";
import { readOpenFile, type RandomAccessFile } from "./file.js";
import { missingKey, WeightsError, type DType, type TensorInfo, type TensorSource } from "./types.js";

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;

const SAFETENSORS_DTYPES: ReadonlySet<string> = new Set(Object.keys(DTYPE_SIZE));

const REEXPORT = "re-export it with safetensors.torch.save_file or download it again";

export interface SafetensorsSource extends TensorSource {
  readonly format: "safetensors";
  /** The `__metadata__` string map of the header (empty if absent). */
  readonly metadata: Readonly<Record<string, string>>;
}

interface Entry {
  readonly info: TensorInfo;
  /** Byte range relative to the start of the data section. */
  readonly begin: number;
  readonly end: number;
}

/** Opens a .safetensors file: parses and validates the header now, reads tensor bytes only on request. */
export function openSafetensors(path: string): Promise<SafetensorsSource> {
  return readOpenFile(path, readSafetensors);
}

/** Reads a .safetensors header from an open file, which the source then owns; on error the caller closes it. */
export async function readSafetensors(file: RandomAccessFile): Promise<SafetensorsSource> {
  const { entries, metadata, dataStart } = await readHeader(file);
  return new SafetensorsFile(file, entries, metadata, dataStart);
}

async function readHeader(
  file: RandomAccessFile,
): Promise<{ entries: Map<string, Entry>; metadata: Record<string, string>; dataStart: number }> {
  const path = file.path;
  if (file.size < 10) {
    throw new WeightsError(path, `is only ${file.size} bytes, too short for a safetensors file`, REEXPORT);
  }
  const headerLength = new DataView((await file.read(0, 8)).buffer).getBigUint64(0, true);
  if (headerLength > BigInt(file.size - 8)) {
    throw new WeightsError(
      path,
      `is truncated: its safetensors header claims ${headerLength} bytes but only ${file.size - 8} follow the length field`,
      REEXPORT,
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new WeightsError(
      path,
      `safetensors header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`,
      REEXPORT,
    );
  }
  const headerBytes = await file.read(8, Number(headerLength));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new WeightsError(path, "safetensors header is not valid UTF-8", REEXPORT);
  }
  if (!text.startsWith("{")) throw new WeightsError(path, "safetensors header does not start with '{'", REEXPORT);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new WeightsError(path, `safetensors header is not valid JSON (${detail})`, REEXPORT);
  }
  if (!isPlainObject(parsed)) throw new WeightsError(path, "safetensors header is not a JSON object", REEXPORT);
  // JSON.parse keeps the last of repeated keys silently; a tensor named twice is ambiguous, so refuse it.
  const repeated = firstRepeatedKey(text);
  if (repeated !== undefined) {
    throw new WeightsError(path, `safetensors header names tensor '${repeated}' more than once`, REEXPORT);
  }

  const dataStart = 8 + Number(headerLength);
  const dataLength = file.size - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, Entry>();
  for (const [key, value] of Object.entries(parsed)) {
    if (key === "__metadata__") {
      if (!isPlainObject(value)) throw new WeightsError(path, "safetensors __metadata__ is not an object", REEXPORT);
      for (const [name, text] of Object.entries(value)) {
        if (typeof text !== "string") {
          throw new WeightsError(path, `safetensors __metadata__ entry '${name}' is not a string`, REEXPORT);
        }
        // defineProperty: a "__proto__" key must become data, not a prototype change.
        Object.defineProperty(metadata, name, { value: text, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    entries.set(key, parseEntry(path, key, value, dataLength));
  }

  // Order by position in the file (the writer's order); also the natural order for the overlap check.
  const ordered = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ordered.length; i++) {
    const previous = ordered[i - 1]!;
    const current = ordered[i]!;
    if (current.begin < previous.end) {
      throw new WeightsError(
        path,
        `safetensors tensors '${previous.info.key}' and '${current.info.key}' overlap (bytes ${previous.begin}..${previous.end} and ${current.begin}..${current.end})`,
        REEXPORT,
      );
    }
  }
  return { entries: new Map(ordered.map((entry) => [entry.info.key, entry])), metadata, dataStart };
}

function parseEntry(path: string, key: string, value: unknown, dataLength: number): Entry {
  const bad = (problem: string): WeightsError =>
    new WeightsError(path, `safetensors tensor '${key}' ${problem}`, REEXPORT);
  if (!isPlainObject(value)) throw bad("is not described by an object in the header");
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== "string") throw bad("has no dtype");
  if (!SAFETENSORS_DTYPES.has(dtype)) {
    throw new WeightsError(
      path,
      `safetensors tensor '${key}' has dtype ${dtype}, which fxc does not read`,
      "convert it to F32 (or F16/BF16/F64/an integer type) before exporting",
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) throw bad("has a shape that is not a list of sizes");
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw bad("has data_offsets that are not two byte positions");
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(`has data_offsets [${begin}, ${end}] that end before they begin`);
  if (end > dataLength) {
    throw bad(
      `needs data bytes ${begin}..${end} but the file holds only ${dataLength} bytes of data (out of range or truncated)`,
    );
  }
  const expected = elementCount(shape) * DTYPE_SIZE[dtype as DType];
  if (end - begin !== expected) {
    throw bad(`has ${end - begin} bytes of data but shape [${shape.join(", ")}] of ${dtype} needs ${expected}`);
  }
  return { info: { key, dtype: dtype as DType, shape: Object.freeze([...shape]) }, begin, end };
}

class SafetensorsFile implements SafetensorsSource {
  readonly format = "safetensors";

  constructor(
    private readonly file: RandomAccessFile,
    private readonly entries: ReadonlyMap<string, Entry>,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly dataStart: number,
  ) {}

  get path(): string {
    return this.file.path;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  info(key: string): TensorInfo | undefined {
    return this.entries.get(key)?.info;
  }

  async readFloat32(key: string): Promise<Float32Array> {
    const entry = this.entries.get(key);
    if (entry === undefined) throw missingKey(this.path, key, this.keys());
    const bytes = await this.file.read(this.dataStart + entry.begin, entry.end - entry.begin);
    return toFloat32(bytes, entry.info.dtype, elementCount(entry.info.shape));
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

export interface Float32TensorToWrite {
  readonly key: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Writes float32 tensors as a .safetensors file, atomically, streaming each tensor's bytes instead of
 * concatenating them. Keys keep the given order in the header and in the data.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly Float32TensorToWrite[],
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const header = buildHeader(path, tensors, metadata);
  await withAtomicFile(path, async (file) => {
    await file.write(header);
    for (const tensor of tensors) {
      await file.write(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    }
  });
}

/** Length prefix + JSON header padded with spaces to a multiple of 8 bytes, as the format requires. */
function buildHeader(
  path: string,
  tensors: readonly Float32TensorToWrite[],
  metadata: Readonly<Record<string, string>> | undefined,
): Uint8Array {
  const header = safetensorsHeader(path, tensors, metadata); // checks keys and shapes first
  for (const { key, shape, data } of tensors) {
    if (!(data instanceof Float32Array) || data.length !== elementCount(shape)) {
      throw new WeightsError(path, `tensor '${key}' has ${data.length} values but shape [${shape.join(", ")}]`, HEADER_FIX);
    }
  }
  return header;
}

const HEADER_FIX = "pass unique non-empty keys, integer shapes and data of matching length";

/**
 * The header of a safetensors file of float32 tensors stored one after another in the given order:
 * for writers that stream the data after it (the 8-byte length included).
 */
export function safetensorsHeader(
  path: string,
  tensors: readonly { readonly key: string; readonly shape: readonly number[] }[],
  metadata: Readonly<Record<string, string>> | undefined,
): Uint8Array {
  const fix = HEADER_FIX;
  // Built by hand instead of JSON.stringify(object) so that integer-like keys keep their order.
  const fields: string[] = [];
  if (metadata !== undefined) {
    for (const [name, value] of Object.entries(metadata)) {
      if (typeof value !== "string")
        throw new WeightsError(path, `metadata '${name}' is not a string`, "pass a string map");
    }
    fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const { key, shape } of tensors) {
    if (key === "" || key === "__metadata__" || seen.has(key)) {
      throw new WeightsError(path, `cannot write tensor key '${key}' (empty, reserved or repeated)`, fix);
    }
    seen.add(key);
    if (!shape.every((size) => isNonNegativeInteger(size))) {
      throw new WeightsError(path, `tensor '${key}' has invalid shape [${shape.join(", ")}]`, fix);
    }
    const end = offset + elementCount(shape) * 4;
    fields.push(
      `${JSON.stringify(key)}:{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${fields.join(",")}}`);
  const paddedLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + paddedLength).fill(0x20, 8 + json.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedLength), true);
  out.set(json, 8);
  return out;
}

/**
 * The first key that occurs twice in the top-level object of `json` (valid JSON, already parsed), found
 * by one pass over the text that tracks strings and nesting.
 */
export function firstRepeatedKey(json: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  // At depth 1, a string right after '{' or ',' is a key; `expectKey` says whether the next one is.
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(json.slice(i, end + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
