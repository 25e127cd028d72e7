import { test } from "node:test";
import assert from "node:assert/strict";
import { resizeRgb, type Window } from "../../runtime/images/resize.js";
import type { RgbImage } from "../../runtime/images/decode.js";

/**
 * A resize told which part of its output the caller keeps (the preset's center crop) computes only
 * that part, and those pixels equal the whole resize's byte for byte, on any number of threads.
 */

function noise(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { data, width, height };
}

function windowOf(image: RgbImage, w: Window): Uint8Array {
  const out = new Uint8Array(w.width * w.height * 3);
  for (let y = 0; y < w.height; y++) out.set(image.data.subarray(((w.top + y) * image.width + w.left) * 3, ((w.top + y) * image.width + w.left + w.width) * 3), y * w.width * 3);
  return out;
}

test("the kept window equals the whole resize's pixels; both filters, down and up", async () => {
  const sizes: [RgbImage, number, number][] = [
    [noise(403, 302, 1), 93, 70], // a 4:3 photo's downscale, cropped 70x70 in the middle
    [noise(61, 90, 2), 120, 177], // an upscale
    [noise(300, 40, 3), 75, 10], // only the width changes ... and the height
    [noise(80, 64, 4), 80, 30], // only the height changes
  ];
  for (const [image, width, height] of sizes) {
    for (const interpolation of ["bilinear", "bicubic"] as const) {
      const whole = await resizeRgb(image, width, height, interpolation);
      const side = Math.min(width, height);
      const keep = { left: Math.round((width - side) / 2), top: Math.round((height - side) / 2), width: side, height: side };
      const kept = await resizeRgb(image, width, height, interpolation, { keep });
      assert.deepEqual(windowOf(kept, keep), windowOf(whole, keep), `${image.width}x${image.height} -> ${width}x${height} ${interpolation}`);
    }
  }
});

test("a window reaching outside the output (a crop that pads) computes the part inside", async () => {
  const image = noise(50, 40, 5);
  const whole = await resizeRgb(image, 20, 16, "bilinear");
  const kept = await resizeRgb(image, 20, 16, "bilinear", { keep: { left: -2, top: -3, width: 24, height: 22 } });
  assert.deepEqual(kept.data, whole.data);
});
