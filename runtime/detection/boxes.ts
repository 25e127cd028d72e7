/**
 * torchvision.ops.boxes' elementwise box helpers over (x1, y1, x2, y2) lists: a list of n boxes is a
 * Float32Array of length 4n. Arithmetic is float32 as torch's (each step rounded with Math.fround).
 */

import { DetectionInputError } from "./errors.js";

const f32 = Math.fround;

/** The number of boxes in a list, refusing a length that is not a multiple of 4. */
export function boxCount(boxes: Float32Array, what = "boxes"): number {
  if (boxes.length % 4 !== 0) throw new DetectionInputError(`${what}: ${boxes.length} values is not a list of (x1, y1, x2, y2) boxes; pass 4 values per box`);
  return boxes.length / 4;
}

/** box_area: (x2 - x1) * (y2 - y1) per box. */
export function boxArea(boxes: Float32Array): Float32Array {
  const n = boxCount(boxes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const b = 4 * i;
    out[i] = f32(boxes[b + 2]! - boxes[b]!) * f32(boxes[b + 3]! - boxes[b + 1]!);
  }
  return out;
}

/** box_iou: the n×m matrix of intersection over union, row-major. */
export function boxIou(a: Float32Array, b: Float32Array): Float32Array {
  const n = boxCount(a, "boxIou's first boxes");
  const m = boxCount(b, "boxIou's second boxes");
  const areaA = boxArea(a);
  const areaB = boxArea(b);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    const ax1 = a[4 * i]!, ay1 = a[4 * i + 1]!, ax2 = a[4 * i + 2]!, ay2 = a[4 * i + 3]!;
    for (let j = 0; j < m; j++) {
      const w = Math.max(f32(Math.min(ax2, b[4 * j + 2]!) - Math.max(ax1, b[4 * j]!)), 0);
      const h = Math.max(f32(Math.min(ay2, b[4 * j + 3]!) - Math.max(ay1, b[4 * j + 1]!)), 0);
      const inter = f32(w * h);
      out[i * m + j] = inter / f32(f32(areaA[i]! + areaB[j]!) - inter);
    }
  }
  return out;
}

/** clip_boxes_to_image: x clamped to [0, width], y to [0, height]; a new list. */
export function clipBoxesToImage(boxes: Float32Array, [height, width]: readonly [number, number]): Float32Array {
  boxCount(boxes);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i++) {
    const limit = i % 2 === 0 ? width : height;
    const v = boxes[i]!;
    // clamp keeps NaN, as torch's does.
    out[i] = v < 0 ? 0 : v > limit ? limit : v;
  }
  return out;
}

/** remove_small_boxes: the indices (ascending) of the boxes whose width and height are both >= minSize. */
export function removeSmallBoxes(boxes: Float32Array, minSize: number): Int32Array {
  const n = boxCount(boxes);
  const kept = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const b = 4 * i;
    if (f32(boxes[b + 2]! - boxes[b]!) >= minSize && f32(boxes[b + 3]! - boxes[b + 1]!) >= minSize) kept[count++] = i;
  }
  return kept.slice(0, count);
}

/** The boxes at the given indices, in that order. */
export function selectBoxes(boxes: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(4 * indices.length);
  for (let i = 0; i < indices.length; i++) out.set(boxes.subarray(4 * indices[i]!, 4 * indices[i]! + 4), 4 * i);
  return out;
}
