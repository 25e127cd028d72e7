/** Helpers that the einsum kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

/** An einsum equation read into one list of labels per operand and the output's labels. */
export interface EinsumPlan {
  readonly inputs: readonly (readonly string[])[];
  readonly output: readonly string[];
}

/**
 * Reads an equation as torch.einsum does: letters are labels, spaces are ignored, and without
 * `->` the output is the labels used once, in alphabetical order (capitals first, as torch).
 * Ellipses and a label repeated within one operand (diagonals) are not supported.
 */
export function parseEinsum(equation: string, operands: number): EinsumPlan {
  const text = equation.replace(/\s+/g, "");
  if (text.includes(".")) throw new Error(`einsum '${equation}': ellipses (...) are not supported`);
  const [lhs, rhs, ...extra] = text.split("->");
  if (extra.length > 0) throw new Error(`einsum '${equation}' has more than one '->'`);
  const inputs = lhs!.split(",").map((term) => [...term]);
  if (inputs.length !== operands) throw new Error(`einsum '${equation}' names ${inputs.length} operands, got ${operands}`);
  const labels = (term: readonly string[], what: string): readonly string[] => {
    const bad = term.find((l) => !/^[A-Za-z]$/.test(l));
    if (bad !== undefined) throw new Error(`einsum '${equation}': '${bad}' in ${what} is not a letter`);
    if (new Set(term).size !== term.length) throw new Error(`einsum '${equation}': a label repeated in ${what} (a diagonal) is not supported`);
    return term;
  };
  inputs.forEach((term, i) => labels(term, `operand ${i}`));
  const all = inputs.flat();
  if (rhs === undefined) return { inputs, output: [...new Set(all)].filter((l) => all.indexOf(l) === all.lastIndexOf(l)).sort() };
  const output = labels([...rhs], "the output");
  const unknown = output.find((l) => !all.includes(l));
  if (unknown !== undefined) throw new Error(`einsum '${equation}': output label '${unknown}' is in no operand`);
  return { inputs, output };
}
