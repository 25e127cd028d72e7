import { alignChannelsLast } from "./layout.js";
import * as o from "./onnx.js";

/** runtime/ops/elementwise.ts over ONNX: Python's arithmetic with torch broadcasting. */
type Attrs = { readonly channelsLast?: boolean };

function binary(fn: (a: o.Operand, b: o.Operand) => o.OnnxValue) {
  return (a: o.Operand, b: o.Operand, attrs: Attrs = {}): o.OnnxValue => {
    if (!attrs.channelsLast) return fn(a, b);
    return fn(typeof a === "number" ? a : alignChannelsLast(a), typeof b === "number" ? b : alignChannelsLast(b));
  };
}

export const add = binary(o.add);
export const sub = binary(o.sub);
export const mul = binary(o.mul);
export const div = binary(o.div);
export const floorDiv = binary(o.floorDiv);
