import { alignChannelsLast } from "./support/layout.js";
import { tf, type Tensor } from "./tf.js";

/**
 * Python's arithmetic operators on tensors and numbers, with torch broadcasting. With
 * `channelsLast`, the result is a channels-last 4-D value and lower-rank operands are
 * aligned to it first.
 */
type Operand = Tensor | number;
type Attrs = { readonly channelsLast?: boolean };

function binary(fn: (a: Tensor | number, b: Tensor | number) => Tensor) {
  return (a: Operand, b: Operand, attrs: Attrs = {}): Tensor => {
    if (!attrs.channelsLast) return fn(a, b);
    return tf.tidy(() => fn(typeof a === "number" ? a : alignChannelsLast(a), typeof b === "number" ? b : alignChannelsLast(b)));
  };
}

export const add = binary((a, b) => tf.add(a, b));
export const sub = binary((a, b) => tf.sub(a, b));
export const mul = binary((a, b) => tf.mul(a, b));
export const div = binary((a, b) => tf.div(a, b));
export const floorDiv = binary((a, b) => tf.floorDiv(a, b));
