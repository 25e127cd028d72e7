import type { RgbImage } from "../images/decode.js";
import { drawText, fitText, GLYPH_HEIGHT, textWidth } from "./font.js";

/** What `drawDetections` draws: boxes (x1, y1, x2, y2 in the image's pixels), their captions, and masks if any. */
export interface DrawnDetections {
  /** n x 4. */
  readonly boxes: Float32Array;
  /** A caption per box, e.g. `dog 0.97`. */
  readonly captions: readonly string[];
  /** A colour index per box (boxes of one class share a colour). */
  readonly colours: readonly number[];
  /** n x height x width probabilities, in the image's pixels; a pixel is the object's above 0.5. */
  readonly masks?: Float32Array;
}

/** Twelve colours far apart (Tableau's), cycled by colour index. */
const PALETTE: readonly (readonly [number, number, number])[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
  [255, 187, 120],
  [152, 223, 138],
];

const MASK_ALPHA = 0.45;
const LINE = 2;
const CAPTION_SCALE = 2;

/** The image with each mask blended in its colour, then each box outlined and captioned above its top-left corner (inside the picture). */
export function drawDetections(image: RgbImage, detections: DrawnDetections): RgbImage {
  const { width, height } = image;
  const out = new Uint8Array(image.data);
  const n = detections.captions.length;
  const colour = (i: number): readonly [number, number, number] => PALETTE[detections.colours[i]! % PALETTE.length]!;
  if (detections.masks !== undefined) {
    const plane = width * height;
    for (let i = 0; i < n; i++) {
      const c = colour(i);
      const mask = detections.masks.subarray(i * plane, (i + 1) * plane);
      for (let p = 0; p < plane; p++) {
        if (!(mask[p]! > 0.5)) continue;
        for (let k = 0; k < 3; k++) out[p * 3 + k] = Math.round((1 - MASK_ALPHA) * out[p * 3 + k]! + MASK_ALPHA * c[k]!);
      }
    }
  }
  const fill = (x0: number, y0: number, x1: number, y1: number, c: readonly [number, number, number]): void => {
    for (let y = Math.max(0, y0); y < Math.min(height, y1); y++) for (let x = Math.max(0, x0); x < Math.min(width, x1); x++) out.set(c, (y * width + x) * 3);
  };
  // Lowest score first, so that the best boxes' outlines and captions end up on top.
  for (let i = n - 1; i >= 0; i--) {
    const c = colour(i);
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((k) => Math.round(detections.boxes[4 * i + k]!)) as [number, number, number, number];
    fill(x1, y1, x2, y1 + LINE, c);
    fill(x1, y2 - LINE, x2, y2, c);
    fill(x1, y1, x1 + LINE, y2, c);
    fill(x2 - LINE, y1, x2, y2, c);
    const text = fitText(detections.captions[i]!, Math.max(width - 4, 0), CAPTION_SCALE);
    const boxHeight = GLYPH_HEIGHT * CAPTION_SCALE + 4;
    const boxWidth = textWidth(text, CAPTION_SCALE) + 4;
    const left = Math.min(Math.max(x1, 0), Math.max(width - boxWidth, 0));
    const top = y1 - boxHeight >= 0 ? y1 - boxHeight : Math.min(Math.max(y1, 0), Math.max(height - boxHeight, 0));
    fill(left, top, left + boxWidth, top + boxHeight, c);
    drawText(out, width, text, left + 2, top + 2, [255, 255, 255], CAPTION_SCALE);
  }
  return { data: out, width, height };
}

/** A probability plane as 8-bit grey levels (0 black, 1 white), one byte per pixel, for encodeGreyPng. */
export function maskGreyLevels(mask: Float32Array): Uint8Array {
  return Uint8Array.from(mask, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}
