import assert from "node:assert/strict";
import { test } from "node:test";
import { halfToFloat, toFloat32 } from "../../runtime/weights/dtype.js";

/** float16 decoded from its definition, independently of the table the reader uses. */
function referenceHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

test("all 65536 float16 values convert exactly (zeros, subnormals, inf, nan)", () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const converted = toFloat32(new Uint8Array(bits.buffer), "F16", 65536);
  for (let i = 0; i < 65536; i++) {
    const want = referenceHalf(i);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(converted[i]), `0x${i.toString(16)}`);
    else assert.ok(Object.is(converted[i], want), `0x${i.toString(16)}: ${converted[i]} vs ${want}`);
  }
  assert.equal(halfToFloat(0x3c00), 1);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.equal(halfToFloat(0x0001), 2 ** -24);
});

test("bfloat16 is the upper half of float32", () => {
  const source = Float32Array.from([1, -0, 2 ** -130, -Infinity, Number.NaN, 3.140625]);
  const upper = new Uint16Array(new Uint32Array(source.buffer).map((b) => b >>> 16));
  const converted = toFloat32(new Uint8Array(upper.buffer), "BF16", source.length);
  assert.deepEqual([...converted], [...source]);
  assert.ok(Object.is(converted[1], -0));
});

test("integers, bools and float64 widen to float32 with rounding", () => {
  const cases: [Parameters<typeof toFloat32>[1], ArrayBufferView, number[]][] = [
    ["I64", BigInt64Array.from([-(2n ** 40n), 3n, 2n ** 53n + 1n]), [-(2 ** 40), 3, 2 ** 53]],
    ["I32", Int32Array.from([-5, 16777217]), [-5, 16777216]],
    ["I16", Int16Array.from([-32768, 7]), [-32768, 7]],
    ["I8", Int8Array.from([-128, 127]), [-128, 127]],
    ["U8", Uint8Array.from([0, 255]), [0, 255]],
    ["BOOL", Uint8Array.from([0, 1, 2]), [0, 1, 1]],
    ["F64", Float64Array.from([0.1, 1e300, 1e-50]), [Math.fround(0.1), Infinity, 0]],
  ];
  for (const [dtype, view, want] of cases) {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    assert.deepEqual([...toFloat32(bytes, dtype, want.length)], want, dtype);
  }
});

test("misaligned input is copied rather than rejected", () => {
  const backing = new Uint8Array(9);
  new DataView(backing.buffer).setFloat32(1, 2.5, true);
  new DataView(backing.buffer).setFloat32(5, -1, true);
  assert.deepEqual([...toFloat32(backing.subarray(1), "F32", 2)], [2.5, -1]);
});
