import * as o from "./onnx.js";
import { OnnxValue } from "./onnx.js";

/** runtime/ops/reduction.ts over ONNX. */

type Reduce = { readonly axes: readonly number[]; readonly keepDims: boolean };
export const mean = (x: OnnxValue, attrs: Reduce): OnnxValue => o.reduce("ReduceMean", x, attrs.axes, attrs.keepDims);
export const sum = (x: OnnxValue, attrs: Reduce): OnnxValue => o.reduce("ReduceSum", x, attrs.axes, attrs.keepDims);
export const max = (x: OnnxValue, attrs: Reduce): OnnxValue => o.reduce("ReduceMax", x, attrs.axes, attrs.keepDims);
