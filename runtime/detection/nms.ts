/**
 * torchvision's non-maximum suppression: ops.nms (its CPU kernel nms_kernel.cpp, in float32 steps)
 * and ops.batched_nms with both of its CPU paths.
 */

import { boxCount } from "./boxes.js";
import { DetectionInputError } from "./errors.js";
import { decreasingOrder } from "./topk.js";

const f32 = Math.fround;

/** torchvision's batched_nms takes the coordinate trick on CPU up to this many box values (4 per box), the per-class loop above. */
export const COORDINATE_TRICK_MAX_VALUES = 4000;

function checkScores(boxes: Float32Array, scores: Float32Array, what: string): number {
  const n = boxCount(boxes, `${what}'s boxes`);
  if (scores.length !== n) throw new DetectionInputError(`${what}: ${n} boxes but ${scores.length} scores; pass one score per box`);
  return n;
}

/**
 * Greedy suppression over `order` (indices by decreasing score): each box not yet suppressed is kept
 * and suppresses the later ones whose IoU with it exceeds the threshold. Writes the kept indices into
 * `kept` from `start` and returns the new count. The IoU is nms_kernel.cpp's, step for step in float32.
 */
function suppress(boxes: Float32Array, order: Int32Array, iouThreshold: number, kept: Int32Array, start: number): number {
  const n = order.length;
  const x1 = new Float32Array(n), y1 = new Float32Array(n), x2 = new Float32Array(n), y2 = new Float32Array(n), area = new Float32Array(n);
  // Gathered in score order, so that the inner loop reads memory in sequence.
  for (let r = 0; r < n; r++) {
    const b = 4 * order[r]!;
    x1[r] = boxes[b]!;
    y1[r] = boxes[b + 1]!;
    x2[r] = boxes[b + 2]!;
    y2[r] = boxes[b + 3]!;
    area[r] = f32(x2[r]! - x1[r]!) * f32(y2[r]! - y1[r]!);
  }
  const suppressed = new Uint8Array(n);
  let count = start;
  for (let r = 0; r < n; r++) {
    if (suppressed[r]) continue;
    kept[count++] = order[r]!;
    const ix1 = x1[r]!, iy1 = y1[r]!, ix2 = x2[r]!, iy2 = y2[r]!, iarea = area[r]!;
    for (let s = r + 1; s < n; s++) {
      if (suppressed[s]) continue;
      const w = f32(Math.min(ix2, x2[s]!) - Math.max(ix1, x1[s]!));
      if (!(w > 0)) continue; // no overlap: IoU 0 never exceeds a threshold >= 0
      const h = f32(Math.min(iy2, y2[s]!) - Math.max(iy1, y1[s]!));
      if (!(h > 0)) continue;
      const inter = f32(w * h);
      if (f32(inter / f32(f32(iarea + area[s]!) - inter)) > iouThreshold) suppressed[s] = 1;
    }
  }
  return count;
}

/** torchvision.ops.nms: the indices of the kept boxes, by decreasing score (ties: lower index first, as its stable sort). */
export function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Int32Array {
  checkScores(boxes, scores, "nms");
  if (!(iouThreshold >= 0)) throw new DetectionInputError(`nms: IoU threshold ${iouThreshold} is not a number >= 0; pass one in [0, 1]`);
  const order = decreasingOrder(scores);
  const kept = new Int32Array(order.length);
  return kept.slice(0, suppress(boxes, order, iouThreshold, kept, 0));
}

function checkIdxs(n: number, idxs: Int32Array): void {
  if (idxs.length !== n) throw new DetectionInputError(`batchedNms: ${n} boxes but ${idxs.length} category indices; pass one per box`);
}

/**
 * batched_nms's coordinate trick: every box shifted by idx × (largest coordinate + 1), so that boxes of
 * different categories cannot overlap (when coordinates are >= 0), then one nms. Float32 as torch's.
 */
export function batchedNmsCoordinateTrick(boxes: Float32Array, scores: Float32Array, idxs: Int32Array, iouThreshold: number): Int32Array {
  const n = checkScores(boxes, scores, "batchedNms");
  checkIdxs(n, idxs);
  if (n === 0) return new Int32Array(0);
  let max = -Infinity;
  for (let i = 0; i < boxes.length; i++) if (boxes[i]! > max || boxes[i]! !== boxes[i]!) max = boxes[i]!;
  const spacing = f32(max + 1);
  const shifted = new Float32Array(boxes.length);
  for (let i = 0; i < n; i++) {
    const offset = f32(idxs[i]! * spacing);
    for (let c = 0; c < 4; c++) shifted[4 * i + c] = boxes[4 * i + c]! + offset;
  }
  return nms(shifted, scores, iouThreshold);
}

/**
 * batched_nms's loop: nms within each category, then the kept boxes of all categories by decreasing
 * score (ties: lower index first). One sort for all: each category's subsequence of the global order
 * is that category's own order.
 */
export function batchedNmsVanilla(boxes: Float32Array, scores: Float32Array, idxs: Int32Array, iouThreshold: number): Int32Array {
  const n = checkScores(boxes, scores, "batchedNms");
  checkIdxs(n, idxs);
  if (!(iouThreshold >= 0)) throw new DetectionInputError(`batchedNms: IoU threshold ${iouThreshold} is not a number >= 0; pass one in [0, 1]`);
  const order = decreasingOrder(scores);
  const byCategory = new Map<number, number[]>();
  for (const i of order) {
    const list = byCategory.get(idxs[i]!);
    if (list) list.push(i);
    else byCategory.set(idxs[i]!, [i]);
  }
  const keptMask = new Uint8Array(n);
  const kept = new Int32Array(n);
  for (const members of byCategory.values()) {
    const count = suppress(boxes, Int32Array.from(members), iouThreshold, kept, 0);
    for (let k = 0; k < count; k++) keptMask[kept[k]!] = 1;
  }
  let count = 0;
  for (const i of order) if (keptMask[i]) kept[count++] = i;
  return kept.slice(0, count);
}

/** torchvision.ops.batched_nms on CPU: the coordinate trick up to 4000 box values (1000 boxes), the per-category loop above. */
export function batchedNms(boxes: Float32Array, scores: Float32Array, idxs: Int32Array, iouThreshold: number): Int32Array {
  return boxes.length > COORDINATE_TRICK_MAX_VALUES
    ? batchedNmsVanilla(boxes, scores, idxs, iouThreshold)
    : batchedNmsCoordinateTrick(boxes, scores, idxs, iouThreshold);
}
