import type { KernelAttrs } from "@fxc/runtime/internal/kernels";
import { ShapeError, tensor, type AbstractValue, type Dim } from "../graph/value.js";
import { call, type LowerContext, type Lowered } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asTensor, isAbstract, type ArgValue } from "./schema.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/** torch's broadcasting of two shapes. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else throw new ShapeError(`shapes [${a.join(", ")}] and [${b.join(", ")}] do not broadcast`);
  }
  return out;
}

type Scalar = number | boolean;

function scalarOf(a: ArgValue | undefined): Scalar | "N" | undefined {
  if (typeof a === "number" || typeof a === "boolean") return a;
  if (a !== undefined && isAbstract(a) && (a.kind === "int" || a.kind === "float" || a.kind === "bool")) return a.value;
  return undefined;
}

function isTensorArg(a: ArgValue | undefined): boolean {
  return a !== undefined && isAbstract(a) && a.kind === "tensor";
}

/** Python number arithmetic on known values, as the traced code would compute it. */
function scalarResult(op: string, x: Scalar | "N", y: Scalar | "N", fn: (x: number, y: number) => number): AbstractValue {
  if (x === "N" || y === "N") {
    throw new ShapeError(`'${op}' on the batch size cannot be computed at compile time; the batch stays free`);
  }
  const v = fn(Number(x), Number(y));
  return op !== "truediv" && Number.isInteger(v) ? { kind: "int", value: v } : { kind: "float", value: v };
}

/** Elementwise lowering shared by the binary and unary ops: formats follow the 4-D tensor inputs. */
type BinaryKernel = "add" | "sub" | "mul" | "div" | "floorDiv";
export type UnaryKernel = "relu" | "relu6" | "sigmoid" | "tanh" | "silu" | "hardsigmoid" | "hardswish" | "gelu" | "dropout";

export function lowerElementwise<K extends BinaryKernel | UnaryKernel>(ctx: LowerContext, op: K, names: readonly string[], attrs: KernelAttrs<K>): Lowered {
  const out = ctx.out.kind === "tensor" ? ctx.out : undefined;
  const channelsLast = out !== undefined && out.shape.length === 4 && names.some((n) => ctx.formatOf(n) === "channelsLast");
  const inputs = names.map((n) => (isTensorArg(ctx.args[n]) ? ctx.tensor(n, channelsLast ? "channelsLast" : "contiguous") : ctx.operand(n)));
  // A lower-rank operand broadcast against a channels-last value needs its dims moved too.
  const needsAlign = channelsLast && names.some((n) => isTensorArg(ctx.args[n]) && (ctx.args[n] as { shape: readonly unknown[] }).shape.length < 4);
  // Only a binary kernel reads a lower-rank operand, and each takes `channelsLast`; tsc cannot see that for a generic K.
  return call(op, inputs, needsAlign ? ({ ...attrs, channelsLast: true } as KernelAttrs<K>) : attrs, channelsLast ? "channelsLast" : "contiguous");
}

const binary: [string, BinaryKernel, (x: number, y: number) => number][] = [
  ["add", "add", (x, y) => x + y],
  ["sub", "sub", (x, y) => x - y],
  ["mul", "mul", (x, y) => x * y],
  ["truediv", "div", (x, y) => x / y],
  ["floordiv", "floorDiv", (x, y) => Math.floor(x / y)],
];

for (const [name, runtime, fn] of binary) {
  defineOp({
    schema: `${name}(input, other)`,
    infer(a) {
      if (isTensorArg(a.input) || isTensorArg(a.other)) {
        const shapeOf = (v: ArgValue | undefined): readonly Dim[] => (isTensorArg(v) ? asTensor(v, name).shape : []);
        return tensor(broadcastShapes(shapeOf(a.input), shapeOf(a.other)));
      }
      const x = scalarOf(a.input);
      const y = scalarOf(a.other);
      if (x === undefined || y === undefined) throw new InternalError(`${name} of unsupported values`);
      return scalarResult(name, x, y, fn);
    },
    lower: (ctx) => lowerElementwise(ctx, runtime, ["input", "other"], {}),
  });
}
