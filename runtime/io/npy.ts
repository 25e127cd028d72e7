import { elementCount, isNonNegativeInteger, toFloat32, widen } from "../weights/dtype.js";
import { oneLine } from "../weights/types.js";
import { writeFileAtomic } from "./atomic.js";
import { NotARegularFileError, openRegularFile, readRange, type RegularFile } from "./regularFile.js";
import { FxcError } from "../errors.js";

/** A .npy file could not be read or written; the message is one line: file, problem, fix. */
export class NpyError extends FxcError {
  override readonly name = "NpyError";
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(oneLine(`${file}: ${problem}; ${fix}`));
  }
}

export interface NpyArray {
  readonly shape: number[];
  /** Values converted to float32, in C (row-major) order. */
  readonly data: Float32Array;
  /** The dtype as stored in the file, e.g. `<f4`. */
  readonly dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const RESAVE = "save it again with np.save";

/** Little-endian (or single-byte) dtypes and how to widen them to float32. */
const DTYPES: Readonly<
  Record<string, { size: number; convert: (buffer: ArrayBuffer, count: number) => Float32Array }>
> = {
  "<f4": { size: 4, convert: (b, n) => new Float32Array(b, 0, n) },
  "<f8": { size: 8, convert: (b, n) => widen(new Float64Array(b, 0, n)) },
  "<f2": { size: 2, convert: (b, n) => toFloat32(new Uint8Array(b, 0, n * 2), "F16", n) },
  "<i8": { size: 8, convert: (b, n) => Float32Array.from(new BigInt64Array(b, 0, n), Number) },
  "<u8": { size: 8, convert: (b, n) => Float32Array.from(new BigUint64Array(b, 0, n), Number) },
  "<i4": { size: 4, convert: (b, n) => widen(new Int32Array(b, 0, n)) },
  "<u4": { size: 4, convert: (b, n) => widen(new Uint32Array(b, 0, n)) },
  "<i2": { size: 2, convert: (b, n) => widen(new Int16Array(b, 0, n)) },
  "<u2": { size: 2, convert: (b, n) => widen(new Uint16Array(b, 0, n)) },
  "|i1": { size: 1, convert: (b, n) => widen(new Int8Array(b, 0, n)) },
  "|u1": { size: 1, convert: (b, n) => widen(new Uint8Array(b, 0, n)) },
  "|b1": { size: 1, convert: (b, n) => widen(new Uint8Array(b, 0, n).map((v) => (v === 0 ? 0 : 1))) },
};

/**
 * numpy's own np.load refuses headers above this (its `max_header_size` default): a real header holds
 * a dtype, an order flag and at most 64 sizes, so anything longer is not from np.save.
 */
export const MAX_NPY_HEADER_BYTES = 10_000;
/** Largest array returned as one Float32Array (8 GiB); the same bound as the weights readers'. */
const MAX_NPY_ELEMENTS = 2 ** 31;

/** Where a .npy file's parts lie, from its first bytes: checked against the file's size before any data is read. */
interface NpyLayout {
  readonly shape: number[];
  readonly descr: string;
  readonly convert: (buffer: ArrayBuffer, count: number) => Float32Array;
  readonly count: number;
  readonly dataStart: number;
  readonly byteLength: number;
}

/**
 * Reads a whole .npy file (format versions 1.0, 2.0 and 3.0) as float32. Only a regular file is read
 * (never a FIFO or a device such as /dev/zero), its header is bounded, and its data must be exactly
 * what the header's shape and dtype need; all of it checked before the data is read.
 */
export async function readNpy(path: string): Promise<NpyArray> {
  let file: RegularFile;
  try {
    file = await openRegularFile(path, ".npy file");
  } catch (error) {
    if (error instanceof NotARegularFileError) throw new NpyError(error.path, error.problem, error.fix);
    throw error;
  }
  const { handle, size } = file;
  const readAt = (position: number, length: number): Promise<Uint8Array> =>
    readRange(handle, position, length, () => new NpyError(path, "ended early while reading (was it modified?)", RESAVE));
  try {
    const lead = await readAt(0, Math.min(size, 12));
    const { headerStart, dataStart } = headerExtent(path, lead, size);
    const prefix = await readAt(0, dataStart);
    const layout = parseLayout(path, prefix, headerStart, dataStart, size);
    // A fresh buffer of exactly the data: typed views need alignment, and callers own the result.
    const data = await readAt(layout.dataStart, layout.byteLength);
    return { shape: layout.shape, data: layout.convert(data.buffer as ArrayBuffer, layout.count), dtype: layout.descr };
  } finally {
    await handle.close();
  }
}

/** Parses the bytes of a whole .npy file; `path` is only used in messages. */
export function parseNpy(path: string, bytes: Uint8Array): NpyArray {
  const { headerStart, dataStart } = headerExtent(path, bytes, bytes.byteLength);
  const layout = parseLayout(path, bytes, headerStart, dataStart, bytes.byteLength);
  const data = new Uint8Array(bytes.subarray(layout.dataStart, layout.dataStart + layout.byteLength));
  return { shape: layout.shape, data: layout.convert(data.buffer, layout.count), dtype: layout.descr };
}

/** Where the header text starts and ends, from the first (up to 12) bytes of a file of `fileSize` bytes. */
function headerExtent(path: string, lead: Uint8Array, fileSize: number): { headerStart: number; dataStart: number } {
  if (lead.byteLength < 10 || !MAGIC.every((byte, i) => lead[i] === byte)) {
    throw new NpyError(path, "is not a .npy file (no \\x93NUMPY magic)", RESAVE);
  }
  const major = lead[6]!;
  const view = new DataView(lead.buffer, lead.byteOffset, lead.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (lead.byteLength < 12) throw new NpyError(path, "is truncated inside its header", RESAVE);
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new NpyError(
      path,
      `uses .npy format version ${major}.${lead[7]}, which fxc does not know`,
      "save it with np.save from numpy >= 1.17",
    );
  }
  if (headerLength > MAX_NPY_HEADER_BYTES) {
    throw new NpyError(
      path,
      `has a ${headerLength}-byte header, more than the ${MAX_NPY_HEADER_BYTES} bytes numpy itself reads`,
      RESAVE,
    );
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > fileSize) throw new NpyError(path, "is truncated inside its header", RESAVE);
  return { headerStart, dataStart };
}

/** Reads the header in `prefix` (which holds at least the bytes before `dataStart`) and checks the data size. */
function parseLayout(path: string, prefix: Uint8Array, headerStart: number, dataStart: number, fileSize: number): NpyLayout {
  const major = prefix[6]!;
  // Versions 1 and 2 use latin-1 headers, version 3 UTF-8; the fields fxc reads are ASCII either way.
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(prefix.subarray(headerStart, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(path, header);

  if (descr.startsWith(">") && !descr.endsWith("1")) {
    throw new NpyError(
      path,
      `stores big-endian data (${descr})`,
      "convert it with a.astype(a.dtype.newbyteorder('<')) before np.save",
    );
  }
  const key = descr.replace(/^[<|=](?=[iub]1$)/, "|");
  const dtype = Object.hasOwn(DTYPES, key) ? DTYPES[key] : undefined; // never Object.prototype members
  if (dtype === undefined) {
    throw new NpyError(
      path,
      `has dtype '${descr}', which fxc does not read`,
      "save a float32 array (a.astype(np.float32))",
    );
  }
  if (fortranOrder && shape.filter((size) => size > 1).length > 1) {
    throw new NpyError(
      path,
      "stores its array in Fortran (column-major) order",
      "save np.ascontiguousarray(a) instead",
    );
  }
  const count = elementCount(shape);
  const byteLength = count * dtype.size;
  const remaining = fileSize - dataStart;
  if (byteLength > remaining) {
    throw new NpyError(
      path,
      `is truncated: shape (${shape.join(", ")}) needs ${byteLength} data bytes but ${remaining} remain`,
      RESAVE,
    );
  }
  if (byteLength < remaining) {
    throw new NpyError(
      path,
      `has ${remaining - byteLength} bytes after the ${byteLength} data bytes its shape (${shape.join(", ")}) needs, so it is not what np.save wrote`,
      RESAVE,
    );
  }
  if (count > MAX_NPY_ELEMENTS) {
    throw new NpyError(path, `holds ${count} values, more than one Float32Array can hold`, "save it in smaller pieces");
  }
  return { shape, descr, convert: dtype.convert, count, dataStart, byteLength };
}

/** Reads the Python dict literal of the header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }. */
function parseHeader(path: string, header: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) {
      throw new NpyError(path, "holds a structured array", "save a plain float32 array");
    }
    throw new NpyError(path, "has a malformed header", RESAVE);
  }
  const parts = shapeText
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  const shape = parts.map((part) => (/^\d+L?$/.test(part) ? Number(part.replace(/L$/, "")) : Number.NaN));
  if (shape.some((size) => !Number.isSafeInteger(size))) {
    throw new NpyError(path, `has a malformed shape (${shapeText})`, RESAVE);
  }
  return { descr, fortranOrder: fortran === "True", shape };
}

/** Writes a float32 array as a version 1.0 .npy file (`<f4`, C order), atomically. */
export async function writeNpy(path: string, shape: readonly number[], data: Float32Array): Promise<void> {
  await writeFileAtomic(path, encodeNpy(path, shape, data));
}

/** The bytes of a version 1.0 `<f4` .npy file. */
export function encodeNpy(path: string, shape: readonly number[], data: Float32Array): Uint8Array[] {
  const header = npyHeader(path, shape);
  const count = elementCount(shape);
  if (data.length !== count) {
    throw new NpyError(
      path,
      `has ${data.length} values for shape [${shape.join(", ")}] (${count})`,
      "pass data matching the shape",
    );
  }
  return [header, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

/** The header of a version 1.0 `<f4` .npy file, for writers that stream the data after it. */
export function npyHeader(path: string, shape: readonly number[]): Uint8Array {
  if (!shape.every((size) => isNonNegativeInteger(size))) {
    throw new NpyError(path, `cannot write shape [${shape.join(", ")}]`, "pass non-negative integer sizes");
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads with spaces so that magic + length + header (ending in \n) is a multiple of 64 bytes.
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  if (total - 10 > 0xffff)
    throw new NpyError(path, "shape is too long for a version 1.0 header", "use fewer dimensions");
  const header = new Uint8Array(total);
  header.set(MAGIC);
  header[6] = 1;
  header[7] = 0;
  new DataView(header.buffer).setUint16(8, total - 10, true);
  header.set(new TextEncoder().encode(dict.padEnd(total - 11, " ") + "\n"), 10);
  return header;
}
