/**
 * Orderings by value: torch.topk and the descending stable sort that torchvision's nms starts from.
 * NaN counts as the largest value, as in torch's CPU sorts. Ties keep the lower index first (a
 * stable order); torch's CPU topk leaves tied values in an unspecified order, so this is the rule
 * fxc documents and tests.
 */

import { DetectionInputError } from "./errors.js";

/** a before b in decreasing order: NaN first, then larger values, ties by lower index. */
function comesBefore(values: Float32Array, a: number, b: number): number {
  const va = values[a]!, vb = values[b]!;
  const nanA = va !== va, nanB = vb !== vb;
  if (nanA || nanB) return nanA && nanB ? a - b : nanA ? -1 : 1;
  return va > vb ? -1 : va < vb ? 1 : a - b;
}

/** The indices of `indices` (all of values' by default) sorted by decreasing value, ties by lower index first. */
export function decreasingOrder(values: Float32Array, indices?: Int32Array): Int32Array {
  const order = indices ? Int32Array.from(indices) : Int32Array.from({ length: values.length }, (_, i) => i);
  return order.sort((a, b) => comesBefore(values, a, b));
}

/**
 * torch.topk(values, k) (largest, sorted): the indices of the k largest values in decreasing order.
 * k larger than the length takes them all (torchvision clamps pre_nms_top_n the same way with min()).
 * Sorting every index with a comparator would cost n log n comparisons in JavaScript; instead the
 * native numeric sort of a copy finds the k-th largest value, and only the values at or above it
 * are ordered.
 */
export function topk(values: Float32Array, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new DetectionInputError(`topk: k = ${k} is not a count; pass a whole number >= 0`);
  const n = values.length;
  const take = Math.min(k, n);
  if (take === 0) return new Int32Array(0);
  const sorted = Float32Array.from(values).sort(); // ascending, NaN last
  const threshold = sorted[n - take]!;
  if (threshold !== threshold) {
    // The k largest are all NaN: the first k NaNs by index.
    const nans = new Int32Array(take);
    for (let i = 0, c = 0; c < take; i++) if (values[i]! !== values[i]!) nans[c++] = i;
    return nans;
  }
  // Every value above the threshold (NaN included) is taken; of those equal to it, the lowest indices.
  let above = 0;
  for (let i = n - take; i < n; i++) if (!(sorted[i] === threshold)) above++;
  let equalLeft = take - above;
  const picked = new Int32Array(take);
  let c = 0;
  for (let i = 0; i < n && c < take; i++) {
    const v = values[i]!;
    if (v > threshold || v !== v) picked[c++] = i;
    else if (v === threshold && equalLeft > 0) {
      picked[c++] = i;
      equalLeft--;
    }
  }
  return decreasingOrder(values, picked);
}
