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
 * The value at ascending position `rank` of `a` (which it reorders), by quickselect with Hoare
 * partitions around the median of three: expected linear time. `a` holds no NaN.
 */
function select(a: Float32Array, rank: number): number {
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo]!, y = a[mid]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (rank <= j) hi = j;
    else if (rank >= i) lo = i;
    else return a[rank]!;
  }
  return a[rank]!;
}

/**
 * torch.topk(values, k) (largest, sorted): the indices of the k largest values in decreasing order.
 * k larger than the length takes them all (torchvision clamps pre_nms_top_n the same way with min()).
 * A quickselect over a copy finds the k-th largest value; only the values at or above it are sorted
 * (the RPN takes 1000 of ~180,000 objectness scores on an 800 × 1216 image's first level).
 */
export function topk(values: Float32Array, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new DetectionInputError(`topk: k = ${k} is not a count; pass a whole number >= 0`);
  const n = values.length;
  const take = Math.min(k, n);
  if (take === 0) return new Int32Array(0);
  // NaN sorts above everything: they are taken first, by index.
  let nans = 0;
  for (let i = 0; i < n; i++) if (values[i] !== values[i]) nans++;
  const picked = new Int32Array(take);
  let c = 0;
  if (nans >= take) {
    for (let i = 0; c < take; i++) if (values[i] !== values[i]) picked[c++] = i;
    return picked;
  }
  const numbers = new Float32Array(n - nans);
  for (let i = 0, j = 0; i < n; i++) if (values[i] === values[i]) numbers[j++] = values[i]!;
  const fromNumbers = take - nans;
  const threshold = select(numbers, numbers.length - fromNumbers);
  // Every value above the threshold is taken; of those equal to it, the lowest indices.
  let above = 0;
  for (let i = 0; i < numbers.length; i++) if (numbers[i]! > threshold) above++;
  let equalLeft = fromNumbers - above;
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
