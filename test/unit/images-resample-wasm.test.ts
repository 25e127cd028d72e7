import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { resampleRows } from "../../runtime/images/resample.js";
import { scalarResampleRows } from "../support/scalarResample.js";
import { resampleWasmModule, WASM_MODULE_FILE } from "../support/wasm.js";

test("runtime/images/resampleWasm.ts holds resample.wat as assembled now (npm run wasm rewrites it)", async () => {
  assert.equal(await readFile(WASM_MODULE_FILE, "utf8"), await resampleWasmModule(), "resampleWasm.ts is stale: run npm run wasm and commit it");
});

/** Bytes from a fixed seed, with runs of 0 and 255 so that bicubic's overshoot clips at both ends. */
function noise(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const r = s >>> 24;
    data[i] = r < 40 ? 0 : r > 215 ? 255 : r;
  }
  return data;
}

test("the SIMD passes give the scalar port's bytes: down- and upscales, one axis or both, bands and column windows, both filters", () => {
  // [width, height, outWidth, outHeight]: a photo-like 13x downscale, upscales, one axis only, sizes that are not multiples of 16 bytes.
  const sizes: [number, number, number, number][] = [
    [403, 302, 31, 23],
    [97, 61, 40, 101],
    [50, 7, 177, 7],
    [6, 93, 6, 17],
    [1, 1, 5, 3],
    [333, 2, 1, 1],
    [17, 17, 17, 16],
  ];
  let seed = 1;
  for (const [width, height, outWidth, outHeight] of sizes) {
    for (const interpolation of ["bilinear", "bicubic"] as const) {
      const source = noise(width * height * 3, seed++);
      const bands = [
        { rowStart: 0, rowEnd: outHeight },
        { rowStart: Math.floor(outHeight / 3), rowEnd: outHeight, columnStart: Math.floor(outWidth / 4), columnEnd: Math.max(Math.floor(outWidth / 4) + 1, outWidth - 2) },
      ];
      for (const rows of bands) {
        const band = { source, width, height, outWidth, outHeight, interpolation, ...rows };
        const expected = new Uint8Array(outWidth * outHeight * 3);
        const actual = new Uint8Array(outWidth * outHeight * 3);
        scalarResampleRows({ ...band, out: expected });
        resampleRows({ ...band, out: actual });
        assert.deepEqual(actual, expected, `${width}x${height} -> ${outWidth}x${outHeight} ${interpolation} rows ${rows.rowStart}..${rows.rowEnd} columns ${rows.columnStart ?? 0}..${rows.columnEnd ?? outWidth}`);
      }
    }
  }
});
