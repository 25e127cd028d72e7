import type { KernelAttrs } from "@fxc/runtime/internal/kernels";
import { BATCH, ShapeError, normalizeDim, runtimeDim, tensor, type AbstractValue, type Dim } from "../graph/value.js";
import { physicalAxis, planPermute } from "./layout.js";
import { call, type LowerContext, type Lowered, type LoweredCall, type Operand } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asDim, asInt, asTensor, isAbstract, type ArgValue } from "./schema.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/** Tensor methods and torch functions that move, join, split or flatten dims. */

export function dimsArg(a: ArgValue | undefined, what: string): ArgValue[] {
  if (Array.isArray(a)) return a.length === 1 && Array.isArray(a[0]) ? (a[0] as ArgValue[]) : (a as ArgValue[]);
  if (a !== undefined && isAbstract(a) && a.kind === "size") return a.dims.map((d) => ({ kind: "int", value: d }) as AbstractValue);
  throw new InternalError(`${what} must be a list of dims`);
}

function permuteDims(a: ArgValue | undefined, rank: number): number[] {
  const dims = dimsArg(a, "dims").map((d, i) => normalizeDim(asInt(d, `dims[${i}]`), rank));
  if (dims.length !== rank || new Set(dims).size !== rank) throw new ShapeError(`permute needs each of the ${rank} dims once, got [${dims.join(", ")}]`);
  return dims;
}

function lowerPermute(ctx: LowerContext, dims: number[]): Lowered {
  const plan = planPermute(dims, ctx.formatOf("input"));
  return call("permute", [ctx.tensor("input", "any")], { perm: plan.perm }, plan.format);
}

defineOp({
  schema: "permute(input, *dims)",
  infer(a) {
    const x = asTensor(a.input, "permute input");
    return tensor(permuteDims(a.dims, x.shape.length).map((d) => x.shape[d]!));
  },
  lower: (ctx) => lowerPermute(ctx, permuteDims(ctx.args.dims, asTensor(ctx.args.input, "input").shape.length)),
});

/** torch.transpose and torch.swapaxes: a permute that swaps two dims. */
for (const [schema, first, second] of [
  ["transpose(input, dim0, dim1)", "dim0", "dim1"],
  ["swapaxes(input, axis0, axis1)", "axis0", "axis1"],
] as const) {
  const swapped = (a: Readonly<Record<string, ArgValue>>, rank: number): number[] => {
    const [d0, d1] = [normalizeDim(asInt(a[first], first), rank), normalizeDim(asInt(a[second], second), rank)];
    const dims = [...Array(rank).keys()];
    [dims[d0], dims[d1]] = [d1, d0];
    return dims;
  };
  defineOp({
    schema,
    infer(a) {
      const x = asTensor(a.input, "transpose input");
      return tensor(swapped(a, x.shape.length).map((d) => x.shape[d]!));
    },
    lower: (ctx) => lowerPermute(ctx, swapped(ctx.args, asTensor(ctx.args.input, "input").shape.length)),
  });
}

defineOp({
  schema: "float(input)",
  infer(a) {
    const x = asTensor(a.input, "float input");
    if (x.integer) throw new ShapeError("float() of an integer table is not supported; index with it instead");
    return tensor(x.shape);
  },
  // Values are float32 throughout: the node stays, as in torchvision, and costs nothing.
  lower: (ctx) => ({ alias: ctx.tensor("input", "any") }),
});

defineOp({
  schema: "contiguous(input)",
  infer: (a) => tensor(asTensor(a.input, "contiguous input").shape),
  // Storage order is the compiler's business here: contiguous() changes nothing.
  lower: (ctx) => ({ alias: ctx.tensor("input", "any") }),
});

/** The target shape of view/reshape: -1 and the batch resolved against the input's static size. */
function viewShape(input: readonly Dim[], target: readonly Dim[]): Dim[] {
  const staticIn = input.filter((d) => d !== BATCH).reduce<number>((p, d) => p * (d as number), 1);
  const hasBatch = input.includes(BATCH);
  // `x.reshape(-1, 48)` on [N, 3, 4, 4]: the -1 is the batch itself when the other dims take every static element.
  if (hasBatch && !target.includes(BATCH) && target.filter((d) => d === -1).length === 1) {
    const known = target.filter((d) => d !== -1).reduce<number>((p, d) => p * (d as number), 1);
    if (known === staticIn) return target.map((d) => (d === -1 ? BATCH : d));
    throw new ShapeError(`shape [${target.join(", ")}] folds the batch into a dim with other elements (${staticIn} per sample, ${known} in the given dims); keep the batch its own dim, e.g. x.reshape(x.shape[0], ...)`);
  }
  if (hasBatch !== target.includes(BATCH)) {
    throw new ShapeError(`view from [${input.join(", ")}] to [${target.join(", ")}] moves the batch dim; the batch stays free`);
  }
  const known = target.filter((d) => d !== BATCH && d !== -1).reduce<number>((p, d) => p * (d as number), 1);
  const free = target.filter((d) => d === -1).length;
  if (free > 1) throw new ShapeError("view can infer only one dim (-1)");
  if (free === 0 && known !== staticIn) throw new ShapeError(`shape [${target.join(", ")}] does not fit an input of shape [${input.join(", ")}]`);
  if (free === 1 && staticIn % known !== 0) throw new ShapeError(`shape [${target.join(", ")}] does not fit an input of shape [${input.join(", ")}]`);
  return target.map((d) => (d === -1 ? staticIn / known : d));
}

function viewTarget(a: Readonly<Record<string, ArgValue>>): Dim[] {
  return dimsArg(a.shape, "shape").map((d, i) => asDim(d, `shape[${i}]`));
}

function operandItems(o: Operand): Operand[] {
  if (o.kind === "list") return [...o.items];
  if (o.kind === "const" && Array.isArray(o.value)) return o.value.map((v) => ({ kind: "const", value: v }) as Operand);
  return [o];
}

/**
 * The runtime shape operand for `shape`, made from the argument `argName` that gave it: static
 * dims as numbers, the batch as the traced int that carries it.
 */
function shapeOperand(ctx: LowerContext, argName: string, shape: readonly Dim[]): Operand {
  let items = operandItems(ctx.operand(argName));
  // `x.view([b, -1])` passes one list where `x.view(b, -1)` passes several ints.
  if (items.length === 1 && shape.length !== 1) items = operandItems(items[0]!);
  const out = shape.map((d, i) => (d === BATCH ? items[i]! : ({ kind: "const", value: d } as Operand)));
  return out.every((o) => o.kind === "const") ? { kind: "const", value: out.map((o) => (o as { value: number }).value) } : { kind: "list", items: out };
}

for (const name of ["view", "reshape"]) {
  defineOp({
    schema: `${name}(input, *shape)`,
    infer: (a) => tensor(viewShape(asTensor(a.input, `${name} input`).shape, viewTarget(a))),
    lower(ctx) {
      const shape = viewShape(asTensor(ctx.args.input, "input").shape, viewTarget(ctx.args));
      const lowered = lowerShapeOp(ctx, "reshape", {});
      return { ...lowered, inputs: [...lowered.inputs, shapeOperand(ctx, "shape", shape)] };
    },
  });
}

defineOp({
  schema: "cat(tensors, dim=0)",
  infer(a) {
    const items = (a.tensors as ArgValue[]).map((t, i) => asTensor(t, `cat tensors[${i}]`));
    const rank = items[0]!.shape.length;
    const dim = normalizeDim(asInt(a.dim, "dim"), rank);
    const shape = [...items[0]!.shape];
    let total: Dim = 0;
    for (const t of items) {
      if (t.shape.length !== rank || t.shape.some((d, i) => i !== dim && d !== shape[i])) {
        throw new ShapeError(`cat needs equal shapes except dim ${dim}, got [${items.map((x) => x.shape.join(", ")).join("] and [")}]`);
      }
      const d = t.shape[dim]!;
      total = typeof total === "number" && typeof d === "number" ? total + d : BATCH;
    }
    shape[dim] = total;
    return tensor(shape);
  },
  lower(ctx) {
    const items = (ctx.args.tensors as ArgValue[]).map((t) => asTensor(t, "tensor"));
    const rank = items[0]!.shape.length;
    const format = rank === 4 ? "channelsLast" : "contiguous";
    const dim = normalizeDim(asInt(ctx.args.dim, "dim"), rank);
    return call("concat", [{ kind: "list", items: ctx.tensors("tensors", format) }], { axis: physicalAxis(dim, rank, format) }, format);
  },
});

/** torch.chunk's pieces: `ceil(size / chunks)` each, the last one smaller, fewer than `chunks` if they run out. */
function chunkSizes(size: number, chunks: number): number[] {
  const each = Math.ceil(size / chunks);
  const sizes: number[] = [];
  for (let start = 0; start < size; start += each) sizes.push(Math.min(each, size - start));
  return sizes;
}

defineOp({
  schema: "chunk(input, chunks, dim=0)",
  infer(a) {
    const x = asTensor(a.input, "chunk input");
    const dim = normalizeDim(asInt(a.dim, "dim"), x.shape.length);
    const chunks = asInt(a.chunks, "chunks");
    const size = x.shape[dim];
    if (typeof size !== "number") throw new ShapeError("chunking the batch dim is not supported: the batch stays free");
    const items = chunkSizes(size, chunks).map((part) => tensor(x.shape.map((d, i) => (i === dim ? part : d))));
    return { kind: "tuple", items };
  },
  lower(ctx) {
    const x = asTensor(ctx.args.input, "input");
    const format = ctx.formatOf("input");
    const dim = normalizeDim(asInt(ctx.args.dim, "dim"), x.shape.length);
    const sizes = chunkSizes(x.shape[dim] as number, asInt(ctx.args.chunks, "chunks"));
    return call("split", [ctx.tensor("input", "any")], { sizes, axis: physicalAxis(dim, x.shape.length, format) }, format ?? "contiguous");
  },
});
defineOp({
  schema: "unsqueeze(input, dim)",
  infer(a) {
    const x = asTensor(a.input, "unsqueeze input");
    const d = normalizeDim(asInt(a.dim, "dim"), x.shape.length + 1);
    return tensor([...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
  },
  lower: (ctx) => lowerReshapeTo(ctx),
});

defineOp({
  schema: "squeeze(input, dim=None)",
  infer(a) {
    const x = asTensor(a.input, "squeeze input");
    if (a.dim === null) return tensor(x.shape.filter((d) => d !== 1));
    const d = normalizeDim(asInt(a.dim, "dim"), x.shape.length);
    return tensor(x.shape[d] === 1 ? x.shape.filter((_, i) => i !== d) : x.shape);
  },
  lower: (ctx) => lowerReshapeTo(ctx),
});

/** An op whose result is its input's data in a new shape (unsqueeze, squeeze). */
function lowerReshapeTo(ctx: LowerContext): Lowered {
  const out = ctx.out.kind === "tensor" ? ctx.out.shape : [];
  const lowered = lowerShapeOp(ctx, "reshape", {});
  return { ...lowered, inputs: [...lowered.inputs, { kind: "const", value: out.map(runtimeDim) }] };
}

/** torch's expand: -1 keeps a dim; the batch may come in as a traced int. */
defineOp({
  schema: "expand(input, *sizes)",
  infer(a) {
    const x = asTensor(a.input, "expand input");
    const sizes = dimsArg(a.sizes, "sizes").map((d, i) => asDim(d, `sizes[${i}]`));
    if (sizes.length < x.shape.length) throw new ShapeError(`expand to [${sizes.join(", ")}] has fewer dims than [${x.shape.join(", ")}]`);
    const lead = sizes.length - x.shape.length;
    return tensor(
      sizes.map((s, i) => {
        const own = i < lead ? undefined : x.shape[i - lead];
        if (s === -1) {
          if (own === undefined) throw new ShapeError("expand cannot use -1 for a new dim");
          return own;
        }
        if (own !== undefined && own !== 1 && own !== s) throw new ShapeError(`expand cannot grow dim ${i} from ${String(own)} to ${String(s)}`);
        return s;
      }),
    );
  },
  lower(ctx) {
    const out = ctx.out.kind === "tensor" ? ctx.out.shape : [];
    const lowered = lowerShapeOp(ctx, "expand", {});
    return { ...lowered, inputs: [...lowered.inputs, shapeOperand(ctx, "sizes", out)] };
  },
});

/**
 * Shape ops work in torch's dim order. A channels-last input is brought to torch order
 * first (`inFormat`), and a 4-D result is stored channels-last again (`outFormat`), so
 * every 4-D value outside these ops keeps the layout that convolutions want; one marked
 * `torchOrder` (not image-like) stays in torch's order.
 */
/** The kernels lowerShapeOp writes, each taking the layout attrs it adds. */
type ShapeKernel = "flatten" | "reshape" | "expand" | "index";
type LayoutAttrs = "inFormat" | "outFormat";

export function lowerShapeOp<K extends ShapeKernel>(ctx: LowerContext, op: K, attrs: Omit<KernelAttrs<K>, LayoutAttrs>): LoweredCall {
  const outRank = ctx.out.kind === "tensor" ? ctx.out.shape.length : 0;
  const imageLike = outRank === 4 && ctx.out.kind === "tensor" && ctx.out.torchOrder !== true;
  const inFormat = ctx.formatOf("input");
  const layout = { ...(inFormat === "channelsLast" ? { inFormat } : {}), ...(imageLike ? { outFormat: "channelsLast" } : {}) };
  // K's attrs are exactly `attrs` plus the layout ones, which tsc cannot prove for a generic K.
  return call(op, [ctx.tensor("input", "any")], { ...attrs, ...layout } as KernelAttrs<K>, imageLike || outRank !== 4 ? "channelsLast" : "contiguous");
}

/** Multiplies static dims; the free batch cannot be merged with other dims. */
function product(dims: readonly Dim[]): Dim {
  if (dims.length === 1) return dims[0]!;
  if (dims.includes(BATCH)) throw new ShapeError("merging the batch dim with other dims is not supported: the batch stays free");
  return dims.reduce<number>((a, b) => a * (b as number), 1);
}
defineOp({
  schema: "flatten(input, start_dim=0, end_dim=-1)",
  infer(a) {
    const x = asTensor(a.input, "flatten input");
    if (x.shape.length === 0) return tensor([1]);
    const s = normalizeDim(asInt(a.start_dim, "start_dim"), x.shape.length, "start_dim");
    const e = normalizeDim(asInt(a.end_dim, "end_dim"), x.shape.length, "end_dim");
    return tensor([...x.shape.slice(0, s), product(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
  },
  lower(ctx) {
    const rank = asTensor(ctx.args.input, "input").shape.length;
    return lowerShapeOp(ctx, "flatten", {
      startDim: normalizeDim(asInt(ctx.args.start_dim, "start_dim"), rank),
      endDim: normalizeDim(asInt(ctx.args.end_dim, "end_dim"), rank),
    });
  },
});
