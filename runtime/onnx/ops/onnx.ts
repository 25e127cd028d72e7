import { windowCount } from "../../ops/support/conv.js";
import { OnnxGraph, OnnxValue } from "../graph.js";
import type { AttributeValue } from "../proto.js";
import { InternalError } from "../../errors.js";

/**
 * ONNX's operators as functions over `OnnxValue`s with shape inference, the counterpart of
 * tfjs's `tf.*` in runtime/ops/tf.ts: the ONNX kernels are written with these.
 */
export { OnnxGraph, OnnxValue };
export type Operand = OnnxValue | number;

const graphOf = (...xs: readonly (Operand | readonly Operand[])[]): OnnxGraph => {
  for (const x of xs.flat()) if (x instanceof OnnxValue) return x.graph;
  throw new InternalError("an ONNX op with no graph value among its inputs");
};

export const unary = (op: string, x: OnnxValue, attributes: Readonly<Record<string, AttributeValue>> = {}): OnnxValue => x.graph.node(op, [x], attributes, x.shape, x.dtype);

export const relu = (x: OnnxValue): OnnxValue => unary("Relu", x);
export const sigmoid = (x: OnnxValue): OnnxValue => unary("Sigmoid", x);
export const tanh = (x: OnnxValue): OnnxValue => unary("Tanh", x);
export const erf = (x: OnnxValue): OnnxValue => unary("Erf", x);
export const exp = (x: OnnxValue): OnnxValue => unary("Exp", x);
export const sqrt = (x: OnnxValue): OnnxValue => unary("Sqrt", x);
export const neg = (x: OnnxValue): OnnxValue => unary("Neg", x);
export const identity = (x: OnnxValue): OnnxValue => unary("Identity", x);
export const floor = (x: OnnxValue): OnnxValue => unary("Floor", x);

/** Clip(x, lo, hi): relu6 is clip(x, 0, 6). */
export function clip(x: OnnxValue, lo: number, hi: number): OnnxValue {
  return x.graph.node("Clip", [x, x.graph.scalar(lo), x.graph.scalar(hi)], {}, x.shape);
}
export const relu6 = (x: OnnxValue): OnnxValue => clip(x, 0, 6);

/** numpy broadcasting of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new InternalError(`shapes [${a.join(", ")}] and [${b.join(", ")}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function binary(op: string) {
  return (a: Operand, b: Operand): OnnxValue => {
    const g = graphOf(a, b);
    const va = typeof a === "number" ? g.scalar(a) : a;
    const vb = typeof b === "number" ? g.scalar(b) : b;
    return g.node(op, [va, vb], {}, broadcastShapes(va.shape, vb.shape));
  };
}
export const add = binary("Add");
export const sub = binary("Sub");
export const mul = binary("Mul");
export const div = binary("Div");
export const pow = binary("Pow");
export const minimum = binary("Min");
export const maximum = binary("Max");

/** Python's floor division on floats. */
export const floorDiv = (a: Operand, b: Operand): OnnxValue => floor(div(a, b));

export function transpose(x: OnnxValue, perm: readonly number[]): OnnxValue {
  if (perm.every((p, i) => p === i)) return x;
  return x.graph.node("Transpose", [x], { perm: [...perm] }, perm.map((p) => x.shape[p]!), x.dtype);
}

/** A reshape; one -1 takes what is left, as in tfjs. */
export function reshape(x: OnnxValue, shape: readonly number[]): OnnxValue {
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  if (resolved.join() === x.shape.join()) return x;
  return x.graph.node("Reshape", [x, x.graph.int64s(resolved)], {}, resolved, x.dtype);
}

export function concat(xs: readonly OnnxValue[], axis: number): OnnxValue {
  if (xs.length === 1) return xs[0]!;
  const first = xs[0]!;
  const a = axis < 0 ? axis + first.rank : axis;
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a]!, 0);
  return first.graph.node("Concat", xs, { axis: a }, shape, first.dtype);
}

/** Splits an axis into parts of the given sizes (a number: that many equal parts). */
export function split(x: OnnxValue, sizes: number | readonly number[], axis: number): OnnxValue[] {
  const a = axis < 0 ? axis + x.rank : axis;
  const parts = typeof sizes === "number" ? Array<number>(sizes).fill(x.shape[a]! / sizes) : sizes;
  const shapes = parts.map((s) => x.shape.map((d, i) => (i === a ? s : d)));
  return x.graph.nodeN("Split", [x, x.graph.int64s(parts)], { axis: a }, shapes);
}

/** Elements [begin, end) with steps along every axis (tfjs's stridedSlice with positive bounds). */
export function slice(x: OnnxValue, begin: readonly number[], end: readonly number[], steps?: readonly number[]): OnnxValue {
  const step = steps ?? begin.map(() => 1);
  const shape = x.shape.map((d, i) => (i < begin.length ? Math.max(0, Math.ceil((Math.min(end[i]!, d) - begin[i]!) / step[i]!)) : d));
  const axes = begin.map((_, i) => i);
  const g = x.graph;
  return g.node("Slice", [x, g.int64s(begin), g.int64s(end), g.int64s(axes), g.int64s(step)], {}, shape, x.dtype);
}

/** Constant padding, [before, after] per axis. */
export function pad(x: OnnxValue, pads: readonly (readonly [number, number])[], value = 0): OnnxValue {
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  const g = x.graph;
  const shape = x.shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  return g.node("Pad", [x, g.int64s([...pads.map((p) => p[0]), ...pads.map((p) => p[1])]), g.scalar(value)], { mode: "constant" }, shape);
}

/** Output size of a window walk over one axis: floor((size + pads - dilated kernel) / stride) + 1. */

export interface ConvOptions {
  readonly strides: readonly [number, number];
  /** [top, left, bottom, right], ONNX's order. */
  readonly pads: readonly [number, number, number, number];
  readonly dilations: readonly [number, number];
  readonly group: number;
}

/** ONNX Conv on NCHW with an OIHW filter. */
export function conv(x: OnnxValue, w: OnnxValue, b: OnnxValue | null, o: ConvOptions): OnnxValue {
  const [n, , h, wd] = x.shape as [number, number, number, number];
  const [outC, , kh, kw] = w.shape as [number, number, number, number];
  const shape = [n, outC, windowCount(h, kh, o.strides[0], o.pads[0], o.pads[2], o.dilations[0]), windowCount(wd, kw, o.strides[1], o.pads[1], o.pads[3], o.dilations[1])];
  const attributes = { strides: [...o.strides], pads: [...o.pads], dilations: [...o.dilations], group: o.group, kernel_shape: [kh, kw] };
  return x.graph.node("Conv", b === null ? [x, w] : [x, w, b], attributes, shape);
}

/** ONNX MaxPool / AveragePool on NCHW with explicit pads ([top, left, bottom, right]). */
export function pool(op: "MaxPool" | "AveragePool", x: OnnxValue, kernel: readonly [number, number], strides: readonly [number, number], pads: readonly [number, number, number, number], extra: Readonly<Record<string, AttributeValue>> = {}): OnnxValue {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const shape = [n, c, windowCount(h, kernel[0], strides[0], pads[0], pads[2]), windowCount(w, kernel[1], strides[1], pads[1], pads[3])];
  return x.graph.node(op, [x], { kernel_shape: [...kernel], strides: [...strides], pads: [...pads], ...extra }, shape);
}

/** numpy's matmul with batch broadcasting. */
export function matmul(a: OnnxValue, b: OnnxValue): OnnxValue {
  const [m] = a.shape.slice(-2) as [number];
  const nOut = b.shape[b.rank - 1]!;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return a.graph.node("MatMul", [a, b], {}, [...batch, m, nOut]);
}

const reducedShape = (x: OnnxValue, axes: readonly number[], keepDims: boolean): number[] => {
  const norm = axes.map((a) => (a < 0 ? a + x.rank : a));
  return x.shape.flatMap((d, i) => (norm.includes(i) ? (keepDims ? [1] : []) : [d]));
};

/** ReduceMean / ReduceMax / ReduceSum over axes (opset 17: axes an attribute except for ReduceSum). */
export function reduce(op: "ReduceMean" | "ReduceMax" | "ReduceSum", x: OnnxValue, axes: readonly number[], keepDims: boolean): OnnxValue {
  const shape = reducedShape(x, axes, keepDims);
  if (op === "ReduceSum") return x.graph.node(op, [x, x.graph.int64s(axes)], { keepdims: keepDims ? 1 : 0 }, shape);
  return x.graph.node(op, [x], { axes: [...axes], keepdims: keepDims ? 1 : 0 }, shape);
}

export function softmax(x: OnnxValue, axis: number): OnnxValue {
  return x.graph.node("Softmax", [x], { axis }, x.shape);
}

export function cast(x: OnnxValue, to: "float" | "int64"): OnnxValue {
  if (x.dtype === to) return x;
  return x.graph.node("Cast", [x], { to: to === "float" ? 1 : 7 }, x.shape, to);
}

/** Rows of `x` along `axis` picked by integer indices: the result has the indices' shape in place of that axis. */
export function gather(x: OnnxValue, indices: OnnxValue, axis = 0): OnnxValue {
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  return x.graph.node("Gather", [x, cast(indices, "int64")], { axis }, shape);
}

export function expand(x: OnnxValue, shape: readonly number[]): OnnxValue {
  return x.graph.node("Expand", [x, x.graph.int64s(shape)], {}, broadcastShapes(x.shape, shape));
}

/** A copy (a new graph value) of x: ONNX outputs must be distinct names. */
export const clone = identity;
