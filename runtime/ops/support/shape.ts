/** Helpers that the shape kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** torch's expand sizes against the input's torch-ordered shape: -1 keeps that dim (the free batch, say), as in torch. */
export function expandedShape(sizes: readonly number[], input: readonly number[]): number[] {
  const lead = sizes.length - input.length;
  return sizes.map((s, i) => (s === -1 ? input[i - lead]! : s));
}
