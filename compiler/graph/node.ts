import type { AbstractValue } from "./value.js";
import type { Graph } from "./graph.js";

/** The six node kinds of torch.fx. */
export type OpKind = "placeholder" | "call_module" | "call_function" | "call_method" | "get_attr" | "output";

/** A slice in a `getitem` index, as Python's `a:b:c`. */
export interface SliceArg {
  readonly slice: readonly [number | null, number | null, number | null];
}

/** What a node argument can hold: other nodes, literals, and containers of them. */
export type Argument =
  | Node
  | number
  | string
  | boolean
  | null
  | SliceArg
  | readonly Argument[]
  | { readonly [key: string]: Argument };

export class Node {
  /** For a leaf `call_module` or a wrapped function: its body traced into primitive ops. */
  body?: Graph;
  /** For a wrapped function whose body could not be traced: why, said if an output needs it. */
  bodyFailure?: string;

  constructor(
    /** Unique within its graph; the torchvision node name for recorded nodes. */
    readonly name: string,
    readonly op: OpKind,
    /** Module path (call_module), function or method name, or state_dict key (get_attr). */
    readonly target: string,
    readonly args: readonly Argument[],
    readonly kwargs: { readonly [key: string]: Argument },
    /** What the value is: tensor shape, int, tuple... */
    public value: AbstractValue,
    /** The torchvision node name; undefined for nodes torchvision does not list (buffer constants). */
    readonly qualname: string | undefined,
    /** The module whose forward was running when this node was recorded. */
    readonly modulePath: string,
  ) {}

  /** Nodes this node reads, in argument order, without repeats. */
  inputs(): Node[] {
    const seen = new Set<Node>();
    forEachNode([this.args, this.kwargs], (n) => seen.add(n));
    return [...seen];
  }

  toString(): string {
    return this.name;
  }
}

export function isSlice(a: unknown): a is SliceArg {
  return typeof a === "object" && a !== null && !Array.isArray(a) && !(a instanceof Node) && "slice" in a;
}

/** Visits every node inside an argument structure. */
export function forEachNode(arg: Argument | readonly Argument[] | { readonly [k: string]: Argument }, fn: (n: Node) => void): void {
  if (arg instanceof Node) fn(arg);
  else if (Array.isArray(arg)) for (const a of arg) forEachNode(a as Argument, fn);
  else if (typeof arg === "object" && arg !== null && !isSlice(arg)) {
    for (const a of Object.values(arg)) forEachNode(a as Argument, fn);
  }
}

/** A `{ key: value }` argument: a Python dict built by forward code. */
export function isDictArgument(a: Argument | undefined): a is { readonly [key: string]: Argument } {
  return typeof a === "object" && a !== null && !(a instanceof Node) && !Array.isArray(a) && !isSlice(a);
}

/**
 * The distinct traced nodes inside a leaf's arguments, in order of first appearance: the
 * leaf's body gets one placeholder for each, also for nodes inside a list or dict argument.
 */
export function leafInputs(args: readonly Argument[]): Node[] {
  const seen = new Set<Node>();
  forEachNode(args, (n) => seen.add(n));
  return [...seen];
}
