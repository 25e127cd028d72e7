import { CHANNELS_LAST, storageOrder } from "../ops/layout.js";
import { call } from "../ops/lowering.js";
import { BATCH, runtimeDim, type Dim } from "../graph/value.js";
import { operandValues, readCounts, returnedValues, rewritten, type Instruction, type Operand, type Program } from "../graph/program.js";

/**
 * Folds chains of pure data movement (views, permutes, layout changes) into at most one
 * transpose. ShuffleNet's channel shuffle on channels-last data is such a chain: to NCHW,
 * view, transpose, view, back to NHWC is three transposes where one of the innermost axes
 * does (about 9x faster); a ViT's `flatten(2).transpose(1, 2)` after its patch convolution
 * needs none. A chain is folded only through values nothing else reads, and only when
 * folding saves a transpose; values the caller asked for are never folded away.
 */
export function foldDataMovement(program: Program): Program {
  const readers = readCounts(program.instructions.flatMap((i) => i.inputs));
  const returned = returnedValues(program);
  const byId = new Map(program.instructions.map((i) => [i.id, i]));
  // A movement whose input is a movement read by it alone continues that movement's chain.
  const previous = (ins: Instruction): Instruction | undefined => {
    const source = ins.inputs[0]?.kind === "value" ? byId.get(ins.inputs[0].id) : undefined;
    return source !== undefined && stepsOf(source) !== undefined && readers.get(source.id) === 1 && !returned.has(source.id) ? source : undefined;
  };
  const continued = new Set(program.instructions.filter((i) => stepsOf(i) !== undefined).map(previous).filter((p) => p !== undefined));

  const replaced = new Map<string, Instruction>();
  const removed = new Set<string>();
  for (const last of program.instructions) {
    if (stepsOf(last) === undefined || continued.has(last)) continue;
    const chain = [last];
    for (let p = previous(last); p !== undefined; p = previous(p)) chain.unshift(p);
    const folded = foldChain(chain, byId);
    if (folded === undefined) continue;
    chain.slice(0, -1).forEach((i) => removed.add(i.id));
    replaced.set(last.id, folded);
  }
  if (replaced.size === 0) return program;
  const instructions = rewritten(program.instructions, removed, replaced);
  return { ...program, instructions: dropDeadShapeReads(instructions, returned) };
}

/** What a movement op does to its input's storage, step by step. */
export type Step = { readonly transpose: readonly number[] } | { readonly reshape: readonly Dim[] };

const TO_CONTIGUOUS = [0, 3, 1, 2];

export function stepsOf(ins: Instruction): Step[] | undefined {
  const torchShape = ins.value.kind === "tensor" ? ins.value.shape : undefined;
  switch (ins.op) {
    case "permute":
      return [{ transpose: ins.attrs.perm as number[] }];
    case "toContiguous":
      return [{ transpose: TO_CONTIGUOUS }];
    case "toChannelsLast":
      return [{ transpose: CHANNELS_LAST }];
    case "reshape":
    case "flatten":
      // In torch's order: from channels-last storage first, back to it after (see lowerShapeOp).
      if (torchShape === undefined) return undefined;
      return [
        ...(ins.attrs.inFormat === "channelsLast" ? [{ transpose: TO_CONTIGUOUS }] : []),
        { reshape: torchShape },
        ...(ins.attrs.outFormat === "channelsLast" ? [{ transpose: CHANNELS_LAST }] : []),
      ];
    default:
      return undefined;
  }
}

/** A value's dims in storage order. */
export function storedShape(ins: Instruction): Dim[] | undefined {
  if (ins.value.kind !== "tensor") return undefined;
  const shape = ins.value.shape;
  return storageOrder(shape.length, ins.format).map((d) => shape[d]!);
}

const isIdentity = (perm: readonly number[]): boolean => perm.every((p, i) => p === i);

function foldChain(chain: readonly Instruction[], byId: Map<string, Instruction>): Instruction | undefined {
  const first = chain[0]!;
  const last = chain[chain.length - 1]!;
  const source = first.inputs[0]?.kind === "value" ? byId.get(first.inputs[0].id) : undefined;
  const inShape = source === undefined ? undefined : storedShape(source);
  const outShape = storedShape(last);
  if (inShape === undefined || outShape === undefined) return undefined;
  const steps = chain.flatMap((i) => stepsOf(i)!);
  const transposes = steps.filter((s) => "transpose" in s && !isIdentity(s.transpose)).length;
  const plan = planMoves(inShape, steps);
  if (plan === undefined || (isIdentity(plan.perm) ? 0 : 1) >= transposes) return undefined;
  return {
    ...last,
    ...call("rearrange", [first.inputs[0]!], { split: plan.split.map(runtimeDim), perm: plan.perm, shape: outShape.map(runtimeDim) }),
    nodes: chain.flatMap((i) => i.nodes),
    note: isIdentity(plan.perm) ? "views and permutes folded into one reshape" : "views and permutes folded into one transpose",
  };
}

/** One axis of the data as it sits in storage, which reshapes may split further. */
interface Atom {
  size: Dim;
}

/**
 * Follows the steps on "atoms": the axes of the input's storage, refined wherever a reshape
 * cuts one. Every step only reorders atoms, so the whole chain is one reshape of the input
 * into its atoms, one transpose of them, and one reshape into the result. Undefined where a
 * reshape mixes axes (no common refinement) or would split the batch.
 */
export function planMoves(inShape: readonly Dim[], steps: readonly Step[]): { split: Dim[]; perm: number[] } | undefined {
  const atomsOf = (d: Dim): Atom[] => (d === 1 ? [] : [{ size: d }]);
  let dims: Atom[][] = inShape.map(atomsOf);
  const order: Atom[] = dims.flat();
  for (const step of steps) {
    if ("transpose" in step) {
      dims = step.transpose.map((p) => dims[p]!);
      continue;
    }
    const flat = dims.flat();
    const out: Atom[][] = [];
    let k = 0;
    for (const target of step.reshape) {
      const group: Atom[] = [];
      if (target === BATCH) {
        if (flat[k]?.size !== BATCH) return undefined;
        group.push(flat[k++]!);
      } else {
        let rest = target;
        while (rest > 1) {
          const atom = flat[k];
          if (atom === undefined || atom.size === BATCH) return undefined;
          if (atom.size <= rest) {
            if (rest % atom.size !== 0) return undefined;
            group.push(atom);
            rest /= atom.size;
            k++;
          } else {
            // The cut falls inside this atom: its outer part ends the group, its inner part stays.
            if (atom.size % rest !== 0) return undefined;
            const outer: Atom = { size: rest };
            const inner: Atom = { size: atom.size / rest };
            order.splice(order.indexOf(atom), 1, outer, inner);
            flat.splice(k, 1, outer, inner);
            group.push(outer);
            k++;
            rest = 1;
          }
        }
      }
      out.push(group);
    }
    if (k !== flat.length) return undefined;
    dims = out;
  }
  const result = dims.flat();
  // Atoms that stay neighbours through the transpose are one axis for it.
  const runs: Atom[][] = [];
  for (const atom of order) {
    const run = runs[runs.length - 1];
    const tail = run?.[run.length - 1];
    if (run !== undefined && tail !== undefined && result.indexOf(atom) === result.indexOf(tail) + 1) run.push(atom);
    else runs.push([atom]);
  }
  const runOf = (atom: Atom): number => runs.findIndex((r) => r[0] === atom);
  const perm = result.filter((atom) => runOf(atom) >= 0).map(runOf);
  const split = runs.map((r) => (r.some((a) => a.size === BATCH) ? BATCH : r.reduce((p, a) => p * (a.size as number), 1)));
  return { split, perm };
}

/** Shape reads (`x.size()`, its items) that only fed a folded view's target shape. */
export function dropDeadShapeReads(instructions: Instruction[], returned: ReadonlySet<string>): Instruction[] {
  for (;;) {
    const read = new Set(instructions.flatMap((i) => i.inputs.flatMap((o: Operand) => operandValues(o))));
    const dead = instructions.filter((i) => (i.op === "shapeOf" || i.op === "getitem") && i.value.kind !== "tensor" && i.value.kind !== "tuple" && !read.has(i.id) && !returned.has(i.id));
    if (dead.length === 0) return instructions;
    const gone = new Set(dead.map((i) => i.id));
    instructions = instructions.filter((i) => !gone.has(i.id));
  }
}
