import { defineOp } from "./registry.js";
import { ELLIPSIS } from "../../models/nn/functional.js";
import { asBool, asInt, asString, asTensor, isAbstract, type ArgValue } from "./schema.js";
import { BATCH, ShapeError, normalizeDim, runtimeDim, tensor, type AbstractValue, type Dim, type TensorValue } from "../graph/value.js";
import { lowerShapeOp } from "./shape.js";
import { isSlice } from "../graph/node.js";
import { call, type Json, type LowerContext, type Lowered, type MemoryFormat } from "./lowering.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/**
 * Python-level ops that torch.fx records when forward code inspects shapes:
 * `x.shape`, `n, c, h, w = x.shape`, `h == 224`, `torch._assert(...)`, `x.dim()`.
 * Shapes are static here, so these fold to constants; only the batch stays symbolic.
 */

/** Tells the runtime that a 4-D input is stored channels-last, so dims map back to torch's. */
function formatAttrs(format: MemoryFormat | undefined): { inFormat?: MemoryFormat } {
  return format === "channelsLast" ? { inFormat: format } : {};
}

function pyValue(a: ArgValue | undefined): AbstractValue {
  if (a !== undefined && isAbstract(a)) return a;
  if (typeof a === "number") return Number.isInteger(a) ? { kind: "int", value: a } : { kind: "float", value: a };
  if (typeof a === "boolean") return { kind: "bool", value: a };
  if (a === null) return { kind: "none" };
  throw new InternalError("unsupported Python value");
}

defineOp({
  schema: "getattr(input, name)",
  infer(a) {
    const name = asString(a.name, "attribute name");
    if (name !== "shape") throw new InternalError(`getattr '${name}' is not supported`);
    return { kind: "size", dims: asTensor(a.input, "getattr input").shape };
  },
  lower: (ctx) => call("shapeOf", [ctx.tensor("input", "any")], formatAttrs(ctx.formatOf("input"))),
});

defineOp({
  schema: "getitem(input, index)",
  infer(a) {
    const v = pyValue(a.input);
    const index = a.index;
    // `out["0"]` on a dict (FeaturePyramidNetwork's levels): the entry under that key.
    if (v.kind === "tuple" && v.keys !== undefined && typeof index === "string") return v.items[dictIndex(v.keys, index)]!;
    if (v.kind === "size" || v.kind === "tuple") {
      const items: AbstractValue[] = v.kind === "size" ? v.dims.map((d) => ({ kind: "int", value: d })) : [...v.items];
      if (typeof index === "number" || (index !== undefined && isAbstract(index) && index.kind === "int")) {
        return items[normalizeDim(asInt(index, "index"), items.length, "index")]!;
      }
      if (isSlice(index)) {
        const [start, stop, step] = index.slice;
        const picked = pySlice(items, start, stop, step);
        return v.kind === "size" ? { kind: "size", dims: picked.map((p) => (p as { value: number }).value) } : { kind: "tuple", items: picked };
      }
    }
    if (v.kind === "tensor" && isTensorIndex(index)) return tensor(gatherShape(v.shape, index.shape));
    if (v.kind === "tensor") return tensor(planIndex(v.shape, index).shape);
    throw new ShapeError(`indexing a ${v.kind} is not supported`);
  },
  lower(ctx) {
    const input = ctx.args.input;
    if (input !== undefined && isAbstract(input) && input.kind === "tensor" && isTensorIndex(ctx.args.index)) return lowerGather(ctx);
    if (input !== undefined && isAbstract(input) && input.kind === "tensor") {
      const plan = planIndex(input.shape, ctx.args.index);
      return lowerShapeOp(ctx, "index", { begin: plan.begin, end: plan.end, strides: plan.strides, shape: plan.shape.map(runtimeDim) });
    }
    const source = ctx.operand("input");
    // Unpacking a tuple that only exists at compile time (a leaf's several results, a dict's entries) picks an item.
    const keys = input !== undefined && isAbstract(input) && input.kind === "tuple" ? input.keys : undefined;
    const position = keys !== undefined && typeof ctx.args.index === "string" ? dictIndex(keys, ctx.args.index) : ctx.args.index;
    const item = source.kind === "list" && typeof position === "number" ? source.items[position] : undefined;
    if (item !== undefined) return { alias: item };
    return call("getitem", [source, ctx.operand("index")], {}, ctx.formatOf("input") ?? "contiguous");
  },
});

/** The position of `key` in a dict's keys; Python's KeyError otherwise. */
function dictIndex(keys: readonly string[], key: string): number {
  const i = keys.indexOf(key);
  if (i === -1) throw new ShapeError(`KeyError: '${key}' is not a key of this dict (its keys: ${keys.map((k) => `'${k}'`).join(", ")})`);
  return i;
}

function isTensorIndex(index: ArgValue | undefined): index is TensorValue {
  return index !== undefined && isAbstract(index) && index.kind === "tensor";
}

/** `x[index]` with an integer tensor: torch's advanced indexing of dim 0 gives index.shape + x.shape[1:]. */
function gatherShape(shape: readonly Dim[], index: readonly Dim[]): Dim[] {
  if (shape.length === 0) throw new ShapeError("a 0-d tensor cannot be indexed with a tensor");
  if (shape[0] === BATCH) throw new ShapeError("indexing the batch dim with a tensor is not supported: the batch stays free");
  return [...index, ...shape.slice(1)];
}

/**
 * Rows of `input` picked by an integer index tensor (a constant such as a buffer). Dim 0 is
 * never the batch here, so the input is no image and the result is in torch's order.
 */
function lowerGather(ctx: LowerContext): Lowered {
  const out = ctx.out.kind === "tensor" ? ctx.out.shape : [];
  return call("gather", [ctx.tensor("input", "contiguous"), ctx.tensor("index", "contiguous")], { shape: out.map(runtimeDim) }, "contiguous");
}


/**
 * torch's basic indexing (ints, slices, None, one ellipsis) as one strided slice over the
 * input's dims followed by a reshape: ints drop their dim, None adds a dim of 1.
 */
export function planIndex(shape: readonly Dim[], index: ArgValue | undefined): { begin: number[]; end: number[]; strides: number[]; shape: Dim[] } {
  const items = (Array.isArray(index) ? index : [index]) as ArgValue[];
  const consumed = items.filter((i) => i !== null && i !== ELLIPSIS).length;
  if (consumed > shape.length) throw new ShapeError(`too many indices for a tensor of rank ${shape.length}`);
  const begin: number[] = [];
  const end: number[] = [];
  const strides: number[] = [];
  const out: Dim[] = [];
  let dim = 0;
  const full = (d: Dim): void => {
    begin.push(0);
    end.push(runtimeDim(d));
    strides.push(1);
    out.push(d);
  };
  for (const item of items) {
    if (item === null) {
      out.push(1);
    } else if (item === ELLIPSIS) {
      for (const stop = dim + shape.length - consumed; dim < stop; dim++) full(shape[dim]!);
    } else if (isSlice(item)) {
      const size = shape[dim]!;
      const [start, stop, step] = item.slice;
      if (size === BATCH) {
        if (start !== null || stop !== null || (step ?? 1) !== 1) throw new ShapeError("slicing the batch dim is not supported: the batch stays free");
        full(size);
      } else {
        const taken = pySlice([...Array(size).keys()], start, stop, step);
        const s = step ?? 1;
        if (s < 1) throw new ShapeError("negative slice steps are not supported by torch");
        begin.push(taken[0] ?? 0);
        end.push(taken.length === 0 ? taken[0] ?? 0 : taken[taken.length - 1]! + 1);
        strides.push(s);
        out.push(taken.length);
      }
      dim++;
    } else {
      const size = shape[dim]!;
      if (size === BATCH) throw new ShapeError("indexing the batch dim with an int is not supported: the batch stays free");
      const i = normalizeDim(asInt(item, "index"), size, "index");
      begin.push(i);
      end.push(i + 1);
      strides.push(1);
      dim++;
    }
  }
  for (; dim < shape.length; dim++) full(shape[dim]!);
  return { begin, end, strides, shape: out };
}

function pySlice<T>(items: readonly T[], start: number | null, stop: number | null, step: number | null): T[] {
  const n = items.length;
  const s = step ?? 1;
  const clamp = (i: number | null, dflt: number): number => (i === null ? dflt : i < 0 ? Math.max(i + n, 0) : Math.min(i, n));
  const out: T[] = [];
  if (s > 0) for (let i = clamp(start, 0); i < clamp(stop, n); i += s) out.push(items[i]!);
  else for (let i = start === null ? n - 1 : clamp(start, n - 1); i > (stop === null ? -1 : clamp(stop, -1)); i += s) out.push(items[i]!);
  return out;
}

defineOp({
  schema: "eq(input, other)",
  infer(a) {
    const x = pyValue(a.input);
    const y = pyValue(a.other);
    const val = (v: AbstractValue): unknown => ("value" in v ? v.value : v.kind === "size" ? v.dims.join(",") : v.kind);
    if (val(x) === "N" || val(y) === "N") throw new ShapeError("comparing the batch size at compile time is not supported: the batch stays free");
    return { kind: "bool", value: val(x) === val(y) };
  },
});

defineOp({
  schema: "_assert(condition, message)",
  infer(a) {
    // Shapes are static, so a failing check is a compile-time error with the model's own message.
    if (!asBool(a.condition, "condition")) throw new ShapeError(String(a.message));
    return { kind: "none" };
  },
});

defineOp({
  schema: "dim(input)",
  infer: (a) => ({ kind: "int", value: asTensor(a.input, "dim input").shape.length }),
});

defineOp({
  schema: "size(input, dim=None)",
  infer(a) {
    const shape = asTensor(a.input, "size input").shape;
    if (a.dim === null) return { kind: "size", dims: shape };
    return { kind: "int", value: shape[normalizeDim(asInt(a.dim, "dim"), shape.length)]! };
  },
  lower: (ctx) => call("shapeOf", [ctx.tensor("input", "any")], { ...formatAttrs(ctx.formatOf("input")), dim: ctx.args.dim === null ? null : asInt(ctx.args.dim, "dim") }),
});
