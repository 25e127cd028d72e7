import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Shared helpers for the weights-*.test.ts files (not a test file itself). */

export const FIXTURES = fileURLToPath(new URL("./fixtures/weights/", import.meta.url));

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

export interface ExpectedTensor {
  readonly dtype: string;
  readonly shape: number[];
  /** float32 bit patterns, row-major. */
  readonly bits: number[];
}

export interface Expected {
  readonly basic: Record<string, ExpectedTensor>;
  readonly basic_keys: string[];
  readonly legacy_view: Record<string, ExpectedTensor>;
  readonly checkpoint: Record<string, ExpectedTensor>;
  readonly checkpoint_keys: string[];
  readonly safetensors: Record<string, ExpectedTensor>;
  readonly safetensors_keys: string[];
}

export const expected: Expected = JSON.parse(readFileSync(fixture("expected.json"), "utf8")) as Expected;

/** Exact comparison by bit pattern (so -0 and subnormals count); any NaN matches any NaN. */
export function assertSameFloats(actual: Float32Array, bits: readonly number[], label: string): void {
  assert.equal(actual.length, bits.length, `${label}: length`);
  const actualBits = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  for (let i = 0; i < bits.length; i++) {
    const want = bits[i]!;
    const wantNaN = (want & 0x7f800000) === 0x7f800000 && (want & 0x7fffff) !== 0;
    if (wantNaN) assert.ok(Number.isNaN(actual[i]), `${label}[${i}]: expected NaN, got ${actual[i]}`);
    else assert.equal(actualBits[i], want, `${label}[${i}]: got ${actual[i]}, expected bits 0x${want.toString(16)}`);
  }
}

/** Asserts that `promise` rejects with a one-line error whose message matches every pattern. */
export async function rejectsOneLine(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Error, "expected a rejection");
  assert.ok(!/[\r\n]/.test(caught.message), `message spans lines: ${JSON.stringify(caught.message)}`);
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}
