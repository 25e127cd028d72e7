import { defineOp } from "./registry.js";
import { asBool, asDim, asInt, asNumber, asString, asTensor, isAbstract, type ArgValue } from "./schema.js";
import { lowerShapeOp } from "./shape.js";
import { physicalAxis, planPermute, storageOrder } from "./layout.js";
import { call, type LowerContext, type Lowered, type Operand } from "./lowering.js";
import { BATCH, ShapeError, normalizeDim, runtimeDim, tensor, type AbstractValue, type Dim } from "../graph/value.js";

/** Tensor methods and torch functions that move, join or reduce dims. */

function dimsArg(a: ArgValue | undefined, what: string): ArgValue[] {
  if (Array.isArray(a)) return a.length === 1 && Array.isArray(a[0]) ? (a[0] as ArgValue[]) : (a as ArgValue[]);
  if (a !== undefined && isAbstract(a) && a.kind === "size") return a.dims.map((d) => ({ kind: "int", value: d }) as AbstractValue);
  throw new Error(`internal: ${what} must be a list of dims`);
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

/** Dims of a reduction: an int, a list, or None for all. */
function reduceDims(a: ArgValue | undefined, rank: number): number[] {
  if (a === null || a === undefined) return [...Array(rank).keys()];
  const list = Array.isArray(a) ? (a as ArgValue[]) : [a];
  return list.map((d, i) => normalizeDim(asInt(d, `dim[${i}]`), rank)).sort((x, y) => x - y);
}

for (const [name, runtime] of [
  ["mean", "mean"],
  ["sum", "sum"],
  ["amax", "max"],
] as const) {
  defineOp({
    schema: `${name}(input, dim=None, keepdim=False)`,
    infer(a) {
      const x = asTensor(a.input, `${name} input`);
      const dims = reduceDims(a.dim, x.shape.length);
      const keep = asBool(a.keepdim, "keepdim");
      return tensor(x.shape.flatMap((d, i) => (dims.includes(i) ? (keep ? [1] : []) : [d])));
    },
    lower(ctx) {
      const x = asTensor(ctx.args.input, "input");
      const rank = x.shape.length;
      const dims = reduceDims(ctx.args.dim, rank);
      const keepDims = asBool(ctx.args.keepdim, "keepdim");
      // Reducing channels-last storage keeps torch's order of the remaining dims only in some cases.
      let format = ctx.formatOf("input");
      if (format === "channelsLast" && !keepDims) {
        const remaining = storageOrder(rank, format).filter((d) => !dims.includes(d));
        if (remaining.some((d, i) => i > 0 && d < remaining[i - 1]!)) format = "contiguous";
      }
      const axes = dims.map((d) => physicalAxis(d, rank, format));
      return call(runtime, [ctx.tensor("input", format ?? "any")], { axes, keepDims }, keepDims && rank === 4 ? format ?? "contiguous" : "contiguous");
    },
  });
}

defineOp({
  schema: "softmax(input, dim, _stacklevel=3, dtype=None)",
  infer: (a) => tensor(asTensor(a.input, "softmax input").shape),
  lower(ctx) {
    const rank = asTensor(ctx.args.input, "input").shape.length;
    const format = ctx.formatOf("input");
    return call("softmax", [ctx.tensor("input", "any")], { axis: physicalAxis(normalizeDim(asInt(ctx.args.dim, "dim"), rank), rank, format) }, format ?? "contiguous");
  },
});

defineOp({
  schema: "matmul(input, other)",
  infer(a) {
    const x = asTensor(a.input, "matmul input");
    const y = asTensor(a.other, "matmul other");
    if (x.shape.length < 2 || y.shape.length < 2) throw new ShapeError("matmul of vectors is not supported");
    if (x.shape[x.shape.length - 1] !== y.shape[y.shape.length - 2]) {
      throw new ShapeError(`matmul of [${x.shape.join(", ")}] and [${y.shape.join(", ")}]: inner dims differ`);
    }
    const batch = x.shape.length >= y.shape.length ? x.shape.slice(0, -2) : y.shape.slice(0, -2);
    return tensor([...batch, x.shape[x.shape.length - 2]!, y.shape[y.shape.length - 1]!]);
  },
  lower: (ctx) => call("matmul", [ctx.tensor("input", "contiguous"), ctx.tensor("other", "contiguous")], {}, "contiguous"),
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

/** layer_norm's `normalized_shape`: one int or a list of them. */
const normalizedShape = (a: Readonly<Record<string, ArgValue>>) => dimsArg(Array.isArray(a.normalized_shape) ? a.normalized_shape : [a.normalized_shape], "normalized_shape");

defineOp({
  schema: "layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05)",
  infer(a) {
    const x = asTensor(a.input, "layer_norm input");
    const normalized = normalizedShape(a).map((d, i) => asInt(d, `normalized_shape[${i}]`));
    const tail = x.shape.slice(x.shape.length - normalized.length);
    if (tail.join(",") !== normalized.join(",")) throw new ShapeError(`layer_norm over [${normalized.join(", ")}] needs those last dims, got [${x.shape.join(", ")}]`);
    return tensor(x.shape);
  },
  lower(ctx) {
    const normalized = normalizedShape(ctx.args);
    // Normalizing torch's last dims: the input must be in torch's order.
    return call("layerNorm", [ctx.tensor("input", "contiguous"), ctx.optionalTensor("weight"), ctx.optionalTensor("bias")], { dims: normalized.length, eps: asNumber(ctx.args.eps, "eps") }, "contiguous");
  },
});

defineOp({
  schema: "stochastic_depth(input, p, mode, training=True)",
  infer: (a) => tensor(asTensor(a.input, "stochastic_depth input").shape),
  lower(ctx) {
    const p = asNumber(ctx.args.p, "p");
    // The identity in eval mode, as in torchvision.
    if (!asBool(ctx.args.training, "training") || p === 0) return { alias: ctx.tensor("input", "any") };
    return call("stochasticDepth", [ctx.tensor("input", "any")], { p, mode: asString(ctx.args.mode, "mode") }, ctx.formatOf("input") ?? "contiguous");
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
