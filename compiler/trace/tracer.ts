import { FxcError, InternalError } from "@fxc/runtime/internal/errors";
import type { CustomOpAttrs } from "@fxc/runtime/internal/ops/support/custom";
import { withDispatcher, type Dispatcher, type UserOpSpec } from "../../models/nn/dispatch.js";
import { Module, isLeafClass } from "../../models/nn/module.js";
import { Buffer, Parameter } from "../../models/nn/parameter.js";
import type { Tensor } from "../../models/nn/tensor.js";
import { Graph } from "../graph/graph.js";
import { Node, isDictArgument, leafInputs, type Argument } from "../graph/node.js";
import { ShapeError, type AbstractValue, type Dim } from "../graph/value.js";
import { userOpDef } from "../ops/custom.js";
import { getOp } from "../ops/index.js";
import { argValue, bindArgs, type ArgValue } from "../ops/schema.js";
import { NodeNamer, fxBaseName } from "./naming.js";
import { Proxy, dictView } from "./proxy.js";
import { userFrame } from "./userFrame.js";

/** Which modules are leaves beyond the default torch.nn and torchvision.ops layers. */
export type LeafModules = readonly (string | (new (...args: never[]) => Module))[];

export interface TraceOptions {
  /** The input shape, batch first; the batch is usually symbolic (`"N"`). */
  readonly inputShape?: readonly Dim[];
  /** Each input's shape, one per argument of forward, for a model that takes several. */
  readonly inputShapes?: readonly (readonly Dim[])[];
  /** Extra leaf modules: module classes, or module paths. */
  readonly leafModules?: LeafModules;
}

/** A failure while tracing, tied to the node where it happened. */
export class TraceError extends FxcError {
  override readonly name = "TraceError";
  constructor(
    message: string,
    readonly node: string,
    readonly isShapeError: boolean,
  ) {
    super(message);
  }
}

/** Names shared by a tracer and the body tracers of its leaves. */
interface RootIndex {
  readonly modulePaths: Map<Module, string>;
  readonly tensorNames: Map<Parameter | Buffer, string>;
}

function indexRoot(root: Module): RootIndex {
  const modulePaths = new Map<Module, string>();
  for (const [path, m] of root.namedModules()) modulePaths.set(m, path);
  const tensorNames = new Map<Parameter | Buffer, string>();
  for (const [name, p] of root.namedParameters()) tensorNames.set(p, name);
  for (const [name, b] of root.namedBuffers()) tensorNames.set(b, name);
  return { modulePaths, tensorNames };
}

/**
 * Symbolic tracing as torch.fx does it: run `forward` on proxies and record every op.
 *
 * The main tracer names nodes as torchvision does and stops at leaf modules; each leaf's own
 * forward is traced again by a body tracer, which records primitive ops only, so that leaves
 * can be compiled while staying single nodes in the graph torchvision users see.
 */
export class Tracer implements Dispatcher {
  readonly graph = new Graph();
  private currentPath = "";
  private readonly attrNodes = new Map<string, Node>();
  private readonly namer: NodeNamer | undefined;
  private readonly bodyNames = new Map<string, number>();

  constructor(
    private readonly index: RootIndex,
    private readonly leaf: ((m: Module, path: string) => boolean) | undefined,
  ) {
    this.namer = leaf === undefined ? undefined : new NodeNamer();
  }

  callModule(m: Module, args: readonly unknown[]): unknown {
    const path = this.index.modulePaths.get(m);
    if (path === undefined) throw new Error(`a ${m.typeName} was called that is not a submodule of the traced model`);
    const outer = this.currentPath;
    this.currentPath = path;
    try {
      if (this.leaf === undefined || !this.leaf(m, path)) return m.forward(...(args as never[]));
      return this.recordLeaf(m, path, args);
    } finally {
      this.currentPath = outer;
    }
  }

  /** `self.weight` read in forward code: torch.fx records the `get_attr` node at the read, not at its first use. */
  readAttribute(t: Parameter | Buffer): Proxy {
    return new Proxy(this.attr(t), this);
  }

  callFunction(target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Proxy {
    return this.owner(target, [...args, ...Object.values(kwargs)]).record("call_function", target, args, kwargs);
  }

  callMethod(target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Proxy {
    return this.owner(target, [...args, ...Object.values(kwargs)]).record("call_method", target, args, kwargs);
  }

  /**
   * The tracer that records an op: the one owning its traced arguments. A parameter is a traced
   * value too (torch.fx makes it a proxy), so with no traced argument but a parameter it is this one.
   */
  private owner(target: string, args: readonly unknown[]): Tracer {
    const proxy = findProxy(args);
    if (proxy !== undefined) return proxy.tracer;
    if (args.some((a) => a instanceof Parameter)) return this;
    throw new Error(`${target}() needs a traced tensor: fxc models run only under tracing`);
  }

  markTorchOrder(x: Tensor): void {
    const value = x instanceof Proxy ? x.node.value : undefined;
    if (value?.kind !== "tensor" || value.shape.length !== 4) throw new InternalError("torchOrder marks 4-D tensors only");
    (x as Proxy).node.value = { ...value, torchOrder: true };
  }

  /** Records a `call_function` or `call_method` node for a registered op. */
  record(kind: "call_function" | "call_method", target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Proxy {
    const op = getOp(target);
    const nodeArgs = args.map((a) => this.toArgument(a));
    const nodeKwargs = Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [k, this.toArgument(v)]));
    const name = this.nameFor(kind, target);
    const bound = bindArgs(op.schema, nodeArgs.map(argValue), Object.fromEntries(Object.entries(nodeKwargs).map(([k, v]) => [k, argValue(v)])));
    const value = this.infer(name.display, () => op.infer(bound as Readonly<Record<string, ArgValue>>));
    return new Proxy(this.graph.add(name.id, kind, target, nodeArgs, nodeKwargs, value, name.qualname, this.currentPath), this);
  }

  /**
   * A wrapped function (torch.fx's autowrap_functions): one `call_function` node named after the
   * function, as torchvision lists it, whose body (the function traced into primitive ops, as a
   * leaf module's) is what compiles. A body that cannot be traced (`int(x.shape[0])`) leaves the
   * node without a value: torchvision keeps such nodes in the graph, and fxc refuses only to
   * compile one an output needs.
   */
  callWrapped(name: string, fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown {
    const owner = findProxy(args)?.tracer ?? this;
    if (owner !== this) return owner.callWrapped(name, fn, args);
    // Inside a leaf's or another function's body only primitive ops are recorded: run it inline.
    if (this.namer === undefined) return fn(...(args as never[]));
    const nodeName = this.nameFor("call_function", name);
    const nodeArgs = args.map((a) => this.toArgument(a));
    let body: Graph | undefined;
    let failure: unknown;
    try {
      body = traceBody((inputs) => fn(...(inputs as never[])), this.index, nodeArgs);
    } catch (e) {
      failure = e;
    }
    const node = this.graph.add(nodeName.id, "call_function", name, nodeArgs, {}, body === undefined ? { kind: "none" } : bodyValue(body), nodeName.qualname, this.currentPath);
    if (body !== undefined) node.body = body;
    else node.bodyFailure = failure instanceof Error ? failure.message.split("\n")[0]! : String(failure);
    return new Proxy(node, this);
  }

  /** A user op (F.defineOp): one `call_function` node named after it, as a registered op's. */
  callUserOp(op: UserOpSpec, inputs: readonly Tensor[], attrs: CustomOpAttrs): Proxy {
    userOpDef(op);
    return this.callFunction(op.name, [inputs, attrs], {});
  }

  private recordLeaf(m: Module, path: string, args: readonly unknown[]): Proxy {
    const name = this.nameFor("call_module", path);
    const nodeArgs = args.map((a) => this.toArgument(a));
    const body = this.infer(name.display, () => traceBody((inputs) => m.forward(...(inputs as never[])), this.index, nodeArgs));
    const node = this.graph.add(name.id, "call_module", path, nodeArgs, {}, bodyValue(body), name.qualname, path);
    node.body = body;
    const proxy = new Proxy(node, this);
    return node.value.kind === "tuple" && node.value.keys !== undefined ? dictView(proxy, node.value.keys) : proxy;
  }

  /** Turns what forward code passed into node arguments; parameters become `get_attr` nodes. */
  toArgument(a: unknown): Argument {
    if (a instanceof Proxy) return a.node;
    if (a instanceof Parameter || a instanceof Buffer) return this.attr(a);
    if (a === undefined) return null;
    if (Array.isArray(a)) return a.map((x) => this.toArgument(x));
    if (a instanceof Node || typeof a === "number" || typeof a === "string" || typeof a === "boolean" || a === null) return a;
    if (typeof a === "object" && "slice" in a) return a as Argument;
    if (typeof a === "object") return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, this.toArgument(v)]));
    throw new InternalError(`cannot trace an argument of type ${typeof a}`);
  }

  /**
   * A parameter read in traced code is a `get_attr` node, recorded once per tracer as torch.fx
   * caches parameter proxies. Buffers are constants torchvision does not list.
   */
  private attr(t: Parameter | Buffer): Node {
    if (t instanceof Buffer && t.stored !== t) return this.bufferView(t);
    const key = this.index.tensorNames.get(t);
    if (key === undefined) throw new Error("a parameter was used that does not belong to the traced model");
    const cached = this.attrNodes.get(key);
    if (cached !== undefined) return cached;
    const integer = t instanceof Buffer && t.options.dtype === "int64";
    const value: AbstractValue = { kind: "tensor", shape: t.shape, ...(integer ? { integer: true as const } : {}) };
    let node: Node;
    if (t instanceof Parameter) {
      const name = this.nameFor("get_attr", key);
      node = this.graph.add(name.id, "get_attr", key, [], {}, value, name.qualname, this.currentPath);
    } else {
      node = this.graph.add(`@${key}`, "get_attr", key, [], {}, value, undefined, this.currentPath);
    }
    this.attrNodes.set(key, node);
    return node;
  }

  /**
   * `buffer.view(...)`: torch.fx evaluates it eagerly into a constant it does not list. Here
   * it is an unlisted `view` of the buffer's node, so the checkpoint tensor keeps its shape.
   */
  private bufferView(t: Buffer): Node {
    const stored = this.attr(t.stored);
    const id = `${stored.name}.view[${t.shape.join(",")}]`;
    const cached = this.graph.get(id);
    if (cached !== undefined) return cached;
    return this.graph.add(id, "call_method", "view", [stored, ...t.shape], {}, { kind: "tensor", shape: t.shape }, undefined, this.currentPath);
  }

  addPlaceholder(name: string, value: AbstractValue): Proxy {
    const n = this.nameFor("placeholder", name);
    return new Proxy(this.graph.add(n.id, "placeholder", name, [], {}, value, n.qualname, this.currentPath), this);
  }

  private nameFor(kind: Node["op"], target: string): { id: string; qualname: string | undefined; display: string } {
    if (this.namer !== undefined) {
      const fx = kind === "call_module" ? target : fxBaseName(kind as "call_function", target);
      const qualname = this.namer.name(this.currentPath, kind === "call_module", fx);
      return { id: qualname, qualname, display: qualname };
    }
    // Inside a leaf body names only need to be unique: torch.fx's global numbering.
    const base = kind === "call_module" ? target.replace(/\W/g, "_") : fxBaseName(kind as "call_function", target);
    const count = this.bodyNames.get(base) ?? 0;
    this.bodyNames.set(base, count + 1);
    const id = count === 0 ? base : `${base}_${count}`;
    return { id, qualname: undefined, display: `${this.currentPath}:${id}` };
  }

  private infer<T>(where: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof TraceError) throw e;
      // A shape error inside a leaf's body is reported at the leaf: its node is the one users know.
      if (e instanceof ShapeError && this.namer !== undefined) throw new TraceError(`${where}: ${e.message}`, where, true);
      throw e;
    }
  }
}

/** A leaf's value: one tensor, a tuple of results, or a dict (torchvision's FeaturePyramidNetwork returns one) as a keyed tuple. */
function bodyValue(body: Graph): AbstractValue {
  const out = body.output;
  const item = (o: Argument | undefined): AbstractValue => (o instanceof Node ? o.value : { kind: "none" });
  if (out instanceof Node) return out.value;
  if (Array.isArray(out)) return { kind: "tuple", items: out.map(item) };
  if (isDictArgument(out)) return { kind: "tuple", items: Object.values(out).map(item), keys: Object.keys(out) };
  return { kind: "none" };
}

/** Traces a leaf module's forward, or a wrapped function, into primitive ops, every module inside inlined. */
function traceBody(run: (inputs: readonly unknown[]) => unknown, index: RootIndex, args: readonly Argument[]): Graph {
  const tracer = new Tracer(index, undefined);
  // One placeholder per distinct input: `attention(x, x, x)` sees the same tensor three times.
  const placeholders = new Map<Node, Proxy>(leafInputs(args).map((n, i) => [n, tracer.addPlaceholder(`input_${i}`, n.value)]));
  const rebuild = (a: Argument): unknown => {
    if (a instanceof Node) return placeholders.get(a)!;
    if (Array.isArray(a)) return a.map((x) => rebuild(x as Argument));
    if (isDictArgument(a)) return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, rebuild(v)]));
    return a;
  };
  const inputs = args.map(rebuild);
  const result = withDispatcher(tracer, () => run(inputs));
  tracer.graph.output = tracer.toArgument(result);
  return tracer.graph;
}

/** The first traced value among `args`, looking into arrays. */
function findProxy(a: unknown): Proxy | undefined {
  if (a instanceof Proxy) return a;
  if (Array.isArray(a)) {
    for (const x of a) {
      const p = findProxy(x);
      if (p) return p;
    }
  }
  return undefined;
}

/** torch.fx's default: torch.nn layers and torchvision.ops modules are leaves, Sequential is not. */
export function leafPredicate(extra: LeafModules = []): (m: Module, path: string) => boolean {
  return (m, path) =>
    isLeafClass(m) || extra.some((e) => (typeof e === "string" ? e === path : m instanceof e));
}

/**
 * Failures that name no fix of their own: JavaScript's (a missing method, a wrong type), and fxc's
 * InternalError, as the ops' argument checks ("start_dim must be an int") are also reached by a
 * user's call that TypeScript did not check, which the user's line explains.
 */
const BUILT_IN_ERRORS = new Set<unknown>([Error, TypeError, RangeError, ReferenceError, SyntaxError, InternalError]);

/**
 * A failure raised in the user's own model code (a method fxc's tensors do not have, a value of
 * the wrong type) as one line that names the user's line and what the tracer follows.
 */
function userCodeFailure(root: Module, e: unknown): unknown {
  // An error of a class of its own (fxc's OptionsError from an extractor the model holds, ...) already says what to do.
  if (!(e instanceof Error) || !BUILT_IN_ERRORS.has(e.constructor)) return e;
  const where = userFrame(e.stack);
  if (where === undefined) return e;
  const message = `${e.message.split("\n")[0]!} at ${where}, while tracing ${root.typeName}; the tracer follows fxc's module library only (modules, F functions and tensor methods from fxc/models): write that step with them`;
  return new TraceError(message, where, false);
}

/**
 * The names of a forward's parameters, which torch.fx gives its placeholders (`forward(img, mask)`
 * gives `img` and `mask`); empty when the source does not show them.
 */
function parameterNames(fn: (...args: never[]) => unknown): string[] {
  const m = /^[^(]*\(([^)]*)\)/.exec(Function.prototype.toString.call(fn));
  if (m === null) return [];
  return m[1]!
    .split(",")
    .map((p) => /^\s*([A-Za-z_$][\w$]*)/.exec(p)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Traces `root` in its current mode (`root.train()` or `root.eval()`). */
export function trace(root: Module, options: TraceOptions): Graph {
  const tracer = new Tracer(indexRoot(root), leafPredicate(options.leafModules));
  const names = parameterNames(root.forward);
  const shapes = options.inputShapes ?? (options.inputShape === undefined ? [] : [options.inputShape]);
  const inputs = shapes.map((shape, i) => tracer.addPlaceholder(names[i] ?? (i === 0 ? "x" : `x_${i}`), { kind: "tensor", shape }));
  const result = withDispatcher(tracer, () => {
    try {
      return root.forward(...(inputs as never[]));
    } catch (e) {
      throw userCodeFailure(root, e);
    }
  });
  tracer.graph.output = tracer.toArgument(result);
  return tracer.graph;
}
