import { EngineError } from "../../engine.js";
import { expandedShape } from "../../ops/shape.js";
import { storeAs, torchOrder } from "./layout.js";
import * as o from "./onnx.js";
import { OnnxValue } from "./onnx.js";

/** runtime/ops/shape.ts over ONNX. Axes arrive already mapped to storage by the compiler. */

export const permute = (x: OnnxValue, attrs: { readonly perm: readonly number[] }): OnnxValue => (attrs.perm.every((p, i) => p === i) ? o.identity(x) : o.transpose(x, attrs.perm));

export function reshape(x: OnnxValue, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): OnnxValue {
  return storeAs(o.reshape(torchOrder(x, attrs), shape), attrs);
}

export const concat = (xs: readonly OnnxValue[], attrs: { readonly axis: number }): OnnxValue => o.concat(xs, attrs.axis);
export const split = (x: OnnxValue, attrs: { readonly sizes: readonly number[]; readonly axis: number }): OnnxValue[] => o.split(x, attrs.sizes, attrs.axis);

type Reduce = { readonly axes: readonly number[]; readonly keepDims: boolean };
export const mean = (x: OnnxValue, attrs: Reduce): OnnxValue => o.reduce("ReduceMean", x, attrs.axes, attrs.keepDims);
export const sum = (x: OnnxValue, attrs: Reduce): OnnxValue => o.reduce("ReduceSum", x, attrs.axes, attrs.keepDims);
export const max = (x: OnnxValue, attrs: Reduce): OnnxValue => o.reduce("ReduceMax", x, attrs.axes, attrs.keepDims);

export const softmax = (x: OnnxValue, attrs: { readonly axis: number }): OnnxValue => o.softmax(x, attrs.axis);
export const matmul = (a: OnnxValue, b: OnnxValue): OnnxValue => o.matmul(a, b);

/** torch's layer_norm over the last `dims` dims: ONNX's LayerNormalization (biased variance, as torch). */
export function layerNorm(x: OnnxValue, weight: OnnxValue | null, bias: OnnxValue | null, attrs: { readonly dims: number; readonly eps: number }): OnnxValue {
  const normalized = x.shape.slice(-attrs.dims);
  const g = x.graph;
  const ones = (value: number): OnnxValue => g.constant({ dtype: "float", dims: normalized, data: new Float32Array(normalized.reduce((a, b) => a * b, 1)).fill(value) });
  const inputs = [x, weight ?? ones(1), bias ?? ones(0)];
  return g.node("LayerNormalization", inputs, { axis: -attrs.dims, epsilon: { float: attrs.eps } }, x.shape);
}

export function stochasticDepth(_x: OnnxValue, _attrs: { readonly p: number; readonly mode: string }): OnnxValue {
  throw new EngineError("onnxruntime", "runs eval mode only (stochastic depth is train mode)", "compile with --mode eval, or use --engine tfjs for train mode");
}

export function index(
  x: OnnxValue,
  attrs: { readonly begin: readonly number[]; readonly end: readonly number[]; readonly strides: readonly number[]; readonly shape: readonly number[]; readonly inFormat?: string; readonly outFormat?: string },
): OnnxValue {
  const t = torchOrder(x, attrs);
  const end = attrs.end.map((e, i) => (e === -1 ? t.shape[i]! : e));
  return storeAs(o.reshape(o.slice(t, attrs.begin, end, attrs.strides), attrs.shape), attrs);
}

export function expand(x: OnnxValue, shape: readonly number[], attrs: { readonly inFormat?: string; readonly outFormat?: string } = {}): OnnxValue {
  const t = torchOrder(x, attrs);
  return storeAs(o.expand(t, expandedShape(shape, t.shape)), attrs);
}
