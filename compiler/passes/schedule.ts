import { operandValues, returnedValues, type Program } from "../graph/program.js";

/**
 * When each intermediate dies: after instruction i, `disposeAfter[i]` lists the values
 * nothing later reads. Returned values are kept for the caller, and so is `input`, which
 * is the caller's. Freeing each value right after its last use keeps peak memory at what
 * the live values need, not the whole forward's.
 */
export function disposalSchedule(program: Program): string[][] {
  const lastUse = new Map<string, number>();
  program.instructions.forEach((ins, i) => {
    for (const o of ins.inputs) for (const id of operandValues(o)) lastUse.set(id, i);
  });
  const returned = returnedValues(program);
  const after: string[][] = program.instructions.map(() => []);
  program.instructions.forEach((ins, i) => {
    if (returned.has(ins.id) || !holdsTensors(ins.value.kind)) return;
    // A value nothing reads dies where it is made (e.g. a leaf's unused second result).
    after[lastUse.get(ins.id) ?? i]!.push(ins.id);
  });
  return after;
}

function holdsTensors(kind: string): boolean {
  return kind === "tensor" || kind === "tuple";
}
