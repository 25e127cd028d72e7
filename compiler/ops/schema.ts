import type { AbstractValue, Dim, TensorValue } from "../graph/value.js";
import { ShapeError } from "../graph/value.js";
import { Node, type Argument, type SliceArg } from "../graph/node.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/**
 * Op signatures written as torch documents them, e.g.
 * `conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)`,
 * so that positional and keyword arguments bind as they do in Python.
 */
export interface Schema {
  readonly name: string;
  readonly params: readonly { readonly name: string; readonly variadic: boolean; readonly default?: Literal }[];
}

export type Literal = number | string | boolean | null | SliceArg | readonly Literal[];

/** An argument as op rules see it: an abstract value for traced inputs, else the literal. */
export type ArgValue = AbstractValue | Literal | readonly ArgValue[];

/** A node argument as op rules see it: traced nodes by their abstract value. */
export function argValue(a: Argument): ArgValue {
  if (a instanceof Node) return a.value;
  if (Array.isArray(a)) return a.map(argValue);
  return a as ArgValue;
}

export function parseSchema(text: string): Schema {
  const m = /^(\w+)\((.*)\)$/.exec(text.trim());
  if (!m) throw new InternalError(`bad op schema ${text}`);
  const params = m[2]!
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => {
      const variadic = p.startsWith("*");
      const [name, def] = p.replace(/^\*/, "").split("=") as [string, string | undefined];
      return def === undefined ? { name, variadic } : { name, variadic, default: parseLiteral(def) };
    });
  return { name: m[1]!, params };
}

function parseLiteral(text: string): Literal {
  if (text === "None") return null;
  if (text === "True") return true;
  if (text === "False") return false;
  if (/^\(.*\)$/.test(text)) return text.slice(1, -1).split(";").map(parseLiteral);
  const n = Number(text);
  if (!Number.isNaN(n)) return n;
  return text.replace(/^["']|["']$/g, "");
}

/** Binds arguments to a schema as Python would, defaults filled in. */
export function bindArgs<T>(schema: Schema, args: readonly T[], kwargs: Readonly<Record<string, T>>): Record<string, T | Literal | T[]> {
  const out: Record<string, T | Literal | T[]> = {};
  let i = 0;
  for (const p of schema.params) {
    if (p.variadic) {
      out[p.name] = args.slice(i);
      i = args.length;
      continue;
    }
    if (i < args.length) out[p.name] = args[i++]!;
    else if (p.name in kwargs) out[p.name] = kwargs[p.name]!;
    else if ("default" in p) out[p.name] = p.default!;
    else throw new InternalError(`${schema.name}() is missing argument '${p.name}'`);
  }
  if (i < args.length) throw new InternalError(`${schema.name}() takes ${schema.params.length} arguments, got ${args.length}`);
  for (const k of Object.keys(kwargs)) {
    if (!schema.params.some((p) => p.name === k)) throw new InternalError(`${schema.name}() has no argument '${k}'`);
  }
  return out;
}

// ---- reading bound arguments ----

function isAbstract(a: ArgValue): a is AbstractValue {
  return typeof a === "object" && a !== null && !Array.isArray(a) && "kind" in a;
}

export function asTensor(a: ArgValue | undefined, what: string): TensorValue {
  if (a !== undefined && isAbstract(a) && a.kind === "tensor") return a;
  throw new InternalError(`${what} must be a tensor`);
}

export function asOptionalTensor(a: ArgValue | undefined, what: string): TensorValue | null {
  return a === null || a === undefined || (isAbstract(a) && a.kind === "none") ? null : asTensor(a, what);
}

/** A Python int: a literal or a traced int (which may be the symbolic batch). */
export function asDim(a: ArgValue | undefined, what: string): Dim {
  if (typeof a === "number") return a;
  if (a !== undefined && isAbstract(a) && a.kind === "int") return a.value;
  throw new InternalError(`${what} must be an int`);
}

export function asInt(a: ArgValue | undefined, what: string): number {
  const d = asDim(a, what);
  if (typeof d !== "number") throw new ShapeError(`${what} depends on the batch size, which stays free in a compiled module`);
  return d;
}

/** An int or a sequence of ints, expanded to `n` values as torch's `_pair` does. */
export function asInts(a: ArgValue | undefined, n: number, what: string): number[] {
  if (Array.isArray(a)) {
    const xs = a.map((x, i) => asInt(x as ArgValue, `${what}[${i}]`));
    if (xs.length === 1) return Array(n).fill(xs[0]);
    if (xs.length !== n) throw new InternalError(`${what} needs ${n} values, got ${xs.length}`);
    return xs;
  }
  return Array(n).fill(asInt(a, what));
}

export function asBool(a: ArgValue | undefined, what: string): boolean {
  if (typeof a === "boolean") return a;
  if (a !== undefined && isAbstract(a) && a.kind === "bool") return a.value;
  throw new InternalError(`${what} must be a bool`);
}

export function asNumber(a: ArgValue | undefined, what: string): number {
  if (typeof a === "number") return a;
  if (a !== undefined && isAbstract(a) && (a.kind === "int" || a.kind === "float") && typeof a.value === "number") return a.value;
  throw new InternalError(`${what} must be a number`);
}

export function asString(a: ArgValue | undefined, what: string): string {
  if (typeof a === "string") return a;
  throw new InternalError(`${what} must be a string`);
}

export { isAbstract };
