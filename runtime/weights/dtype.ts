import { endianness } from "node:os";
import type { DType } from "./types.js";

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

// Every format fxc reads stores little-endian data; typed-array views are only valid on a little-endian host.
if (endianness() !== "LE") {
  throw new Error("fxc weights readers need a little-endian host");
}

let halfTable: Uint32Array | undefined;

/** float32 bit patterns for all 65536 float16 values, built once on first use. */
function halfToFloatBits(): Uint32Array {
  if (halfTable !== undefined) return halfTable;
  const table = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0x1f) {
      // inf (mantissa 0) or nan: keep the payload, shifted into float32's wider mantissa.
      table[h] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
    } else if (exponent === 0) {
      // zero or subnormal: mantissa * 2^-24 is exact in float32.
      scratch[0] = mantissa * 2 ** -24;
      table[h] = (sign | scratchBits[0]!) >>> 0;
    } else {
      table[h] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    }
  }
  halfTable = table;
  return table;
}

/** Converts one float16 bit pattern to a number (exported for tests and small conversions). */
export function halfToFloat(bits: number): number {
  const scratch = new Uint32Array([halfToFloatBits()[bits & 0xffff]!]);
  return new Float32Array(scratch.buffer)[0]!;
}

/**
 * Converts `count` little-endian elements of `dtype` to float32. `bytes` must start at an offset that is a
 * multiple of the element size within its buffer (callers read into fresh buffers, which guarantees that).
 * F32 bytes that are exactly their whole buffer are viewed, not copied: the result then shares them.
 */
export function toFloat32(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  const needed = count * DTYPE_SIZE[dtype];
  if (bytes.byteLength < needed) {
    throw new RangeError(`need ${needed} bytes for ${count} ${dtype} elements, have ${bytes.byteLength}`);
  }
  // Typed-array views need aligned offsets; a misaligned slice is copied to a fresh buffer first.
  const aligned = bytes.byteOffset % DTYPE_SIZE[dtype] === 0 ? bytes : new Uint8Array(bytes.subarray(0, needed));
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case "F32":
      // Bytes that are their whole buffer (a fresh read) are viewed; bytes within a larger buffer are copied out.
      return byteOffset === 0 && aligned.byteLength === needed && buffer.byteLength === needed
        ? new Float32Array(buffer, 0, count)
        : new Float32Array(buffer.slice(byteOffset, byteOffset + needed));
    case "F64":
      return widen(new Float64Array(buffer, byteOffset, count));
    case "F16": {
      const table = halfToFloatBits();
      const source = new Uint16Array(buffer, byteOffset, count);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[source[i]!]!;
      return new Float32Array(out.buffer);
    }
    case "BF16": {
      // bfloat16 is the top half of a float32, so widening is exact.
      const source = new Uint16Array(buffer, byteOffset, count);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = source[i]! << 16;
      return new Float32Array(out.buffer);
    }
    case "I64": {
      const source = new BigInt64Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(source[i]!);
      return out;
    }
    case "I32":
      return widen(new Int32Array(buffer, byteOffset, count));
    case "I16":
      return widen(new Int16Array(buffer, byteOffset, count));
    case "I8":
      return widen(new Int8Array(buffer, byteOffset, count));
    case "U8":
      return widen(new Uint8Array(buffer, byteOffset, count));
    case "BOOL": {
      const source = new Uint8Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = source[i] === 0 ? 0 : 1;
      return out;
    }
  }
}

/** TypedArray.set converts element by element with float32 rounding, faster than Float32Array.from. */
export function widen(
  source: Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array,
): Float32Array {
  const out = new Float32Array(source.length);
  out.set(source);
  return out;
}

/** A size, count or offset: a safe integer that is not negative. */
export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Number of elements of a shape; 1 for a scalar. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The arrays' values one after another, in a new array. */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
