import type { Graph } from "../graph/graph.js";
import { Node, isDictArgument, isSlice, leafInputs, type Argument } from "../graph/node.js";
import { BATCH, type AbstractValue, type Dim } from "../graph/value.js";
import { TraceError } from "../trace/tracer.js";
import {
  constant,
  valueRef,
  type Instruction,
  type Json,
  type MemoryFormat,
  type Operand,
  type ParamSpec,
  type ParamTransform,
  type Program,
  type ProgramOutput,
} from "../graph/program.js";
import { getOp, type OpDef } from "../ops/index.js";
import { argValue, bindArgs, type ArgValue } from "../ops/schema.js";
import { call, type LowerContext } from "../ops/lowering.js";
import type { ResolvedOutput } from "./returnNodes.js";
import type { CheckpointTensor } from "@fxc/runtime/internal/params";
import type { Layout, Mode } from "../pipeline.js";
import { InternalError } from "@fxc/runtime/internal/errors";

export interface LowerOptions {
  readonly mode: Mode;
  readonly layout: Layout;
}

/** What a graph node stands for once lowered: a runtime value, a constant, or a checkpoint tensor. */
type Binding = { readonly operand: Operand } | { readonly param: string; readonly shape: readonly number[]; readonly integer?: true };

/**
 * The bindings of one graph (the model's, or a leaf's body), and what to do when an op
 * overwrites one of its inputs in place.
 */
interface Scope {
  readonly env: Map<Node, Binding>;
  /** A body placeholder was modified in place: the leaf's caller sees the change too. */
  readonly mutated: (placeholder: Node, binding: Binding) => void;
}

/** Names a generated module keeps for itself: its imports, its top-level names, forward's parameters and result. */
const RESERVED = new Set([
  ...["createExtractor", "dispose", "ops", "Object"],
  ...["returnNodes", "inputShape", "checkpoint", "parameters", "keyRenames", "load", "forward", "Features"],
  ...["input", "p", "params", "features"],
]);
const JS_WORDS = new Set(
  "break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await arguments eval undefined NaN Infinity".split(
    " ",
  ),
);

/** A JavaScript identifier for a torchvision node name or state_dict key: dots become underscores. */
export function identifierFor(name: string): string {
  let id = name.replace(/[^A-Za-z0-9_$]/g, "_");
  if (/^[0-9]/.test(id)) id = `_${id}`;
  if (JS_WORDS.has(id) || RESERVED.has(id)) id = `${id}_`;
  return id;
}

/**
 * Lowers a pruned graph to runtime calls. Leaf modules are inlined from their traced bodies;
 * Python values known at compile time become constants; each 4-D value gets a memory format,
 * with a layout change inserted where an op needs the other one.
 */
export function lower(graph: Graph, outputs: readonly ResolvedOutput[], options: LowerOptions): Program {
  const placeholders = graph.nodes.filter((n) => n.op === "placeholder");
  const b = new ProgramBuilder(options, placeholders);
  const env = new Map<Node, Binding>();
  const scope: Scope = { env, mutated: () => {} };
  for (const node of graph.nodes) b.lowerNode(node, scope, node.qualname ?? node.name, undefined);
  const programOutputs = outputs.map((o) => {
    const operand = b.operandOf(o.node, env);
    if (o.entry === undefined) return b.output(o.key, o.node.qualname!, operand, o.node.value);
    // One entry of a dict-valued leaf (its levels, for an FPN): the leaf's results are a list.
    const value = o.node.value.kind === "tuple" ? o.node.value.items[o.entry.index] : undefined;
    const item = operand.kind === "list" ? operand.items[o.entry.index] : undefined;
    if (value === undefined || item === undefined) throw new InternalError(`entry '${o.entry.key}' of ${o.node.name} is not lowered`);
    return b.output(o.key, o.node.qualname!, item, value);
  });
  const shapes = placeholders.map((p) => (p.value.kind === "tensor" ? p.value.shape : []));
  return {
    mode: options.mode,
    layout: options.layout,
    inputShape: shapes[0] ?? [],
    ...(shapes.length > 1 ? { inputShapes: shapes } : {}),
    instructions: b.instructions,
    params: [...b.params.values()],
    checkpoint: b.checkpoint,
    outputs: programOutputs,
  };
}

/** An input dim as the input kernel checks it: null where any size is accepted (the batch). */
const inputDim = (d: Dim | undefined): number | null => (d === undefined || d === BATCH ? null : d);

class ProgramBuilder {
  readonly instructions: Instruction[] = [];
  readonly params = new Map<string, ParamSpec>();
  readonly checkpoint: Record<string, CheckpointTensor> = {};
  private readonly paramIds = new Map<string, string>();
  private readonly ids = new Set<string>(RESERVED);
  private readonly byId = new Map<string, Instruction>();
  private readonly conversions = new Map<string, Operand>();
  private readonly returned = new Set<string>();

  constructor(
    private readonly options: LowerOptions,
    /** The graph's inputs: with several, forward takes an array and each input op picks its item. */
    private readonly placeholders: readonly Node[],
  ) {}

  lowerNode(node: Node, scope: Scope, owner: string, idOverride: string | undefined): void {
    const env = scope.env;
    switch (node.op) {
      case "placeholder": {
        const shape = node.value.kind === "tensor" ? node.value.shape : [];
        const image = shape.length === 4 && shape[0] === BATCH;
        const [, c, h, w] = shape;
        const id = this.push({
          id: this.uniqueId(idOverride ?? node.name),
          // An [N, C, H, W] image comes in the chosen layout and is stored channels-last; any other input as torch has it.
          ...call(
            "input",
            [valueRef("input")],
            {
              ...(image ? { layout: this.options.layout, shape: [c, h, w].map(inputDim) } : { layout: "torch", shape: shape.map(inputDim) }),
              ...(this.placeholders.length > 1 ? { index: this.placeholders.indexOf(node), count: this.placeholders.length } : {}),
            },
            image ? "channelsLast" : shape.length === 4 ? "contiguous" : undefined,
          ),
          nodes: [owner],
          value: node.value,
        });
        env.set(node, { operand: valueRef(id) });
        return;
      }
      case "get_attr":
        env.set(node, {
          param: node.target,
          shape: node.value.kind === "tensor" ? (node.value.shape as number[]) : [],
          ...(node.value.kind === "tensor" && node.value.integer ? { integer: true as const } : {}),
        });
        return;
      case "output":
        return;
      case "call_module":
        env.set(node, this.lowerLeaf(node, scope, owner));
        return;
      default:
        // A wrapped function (F.wrap): its traced body, as a leaf module's.
        if (node.bodyFailure !== undefined) {
          throw new TraceError(`${owner}: the wrapped function '${node.target}' is needed by an output, but its body could not be traced (${node.bodyFailure}); return a node it does not feed, or write it with tensor ops`, owner, false);
        }
        if (node.body !== undefined) {
          env.set(node, this.lowerLeaf(node, scope, owner));
          return;
        }
        env.set(node, this.lowerCall(node, scope, owner, idOverride));
    }
  }

  /** A leaf module: its body's ops, the last one named after the leaf's node. */
  private lowerLeaf(node: Node, scope: Scope, owner: string): Binding {
    const env = scope.env;
    const body = node.body;
    if (body === undefined) throw new InternalError(`leaf ${node.name} has no traced body`);
    const bodyEnv = new Map<Node, Binding>();
    // The body has one placeholder per distinct input node, in order of first use.
    const outerInputs = leafInputs(node.args);
    const outerOf = new Map<Node, Node>();
    const bodyScope: Scope = {
      env: bodyEnv,
      mutated: (placeholder, binding) => {
        const outer = outerOf.get(placeholder)!;
        this.overwrite(outer, binding, scope);
      },
    };
    let next = 0;
    const leafId = identifierFor(node.name);
    for (const bodyNode of body.nodes) {
      if (bodyNode.op === "placeholder") {
        const outer = outerInputs[next++]!;
        outerOf.set(bodyNode, outer);
        bodyEnv.set(bodyNode, this.bindingOf(outer, env));
        continue;
      }
      const id = bodyNode === body.output ? leafId : `${leafId}__${identifierFor(bodyNode.name)}`;
      this.lowerNode(bodyNode, bodyScope, owner, id);
    }
    const out = body.output;
    if (out instanceof Node) return this.bindingOf(out, bodyEnv);
    // A tuple, or a dict's values in order (its keys are in the leaf's value).
    const items = Array.isArray(out) ? out : isDictArgument(out) ? Object.values(out) : undefined;
    if (items !== undefined) {
      return { operand: { kind: "list", items: items.map((o) => (o instanceof Node ? this.operandOf(o, bodyEnv) : constant(null))) } };
    }
    return { operand: constant(null) };
  }

  /**
   * torch's in-place ops (`ReLU(inplace=True)`, `F.relu(x, inplace=True)`) overwrite their
   * input, so every later reader of that node, and a returned value, sees the new values.
   * torchvision's extractor returns the overwritten tensor too: a `bn1` output after an
   * in-place ReLU holds the ReLU's result. The node is rebound to the op's result to match.
   */
  private overwrite(node: Node, binding: Binding, scope: Scope): void {
    scope.env.set(node, binding);
    if (node.op === "placeholder") scope.mutated(node, binding);
  }

  private lowerCall(node: Node, scope: Scope, owner: string, idOverride: string | undefined): Binding {
    const op = getOp(node.target);
    const args = bindArgs(op.schema, node.args, node.kwargs) as Record<string, Argument>;
    const binding = this.lowerCallValue(node, op, args, scope.env, owner, idOverride);
    if (args.inplace === true && args.input instanceof Node) this.overwrite(args.input, binding, scope);
    return binding;
  }

  private lowerCallValue(node: Node, op: OpDef, args: Record<string, Argument>, env: Map<Node, Binding>, owner: string, idOverride: string | undefined): Binding {
    const literal = staticLiteral(node.value);
    if (literal !== undefined) return { operand: constant(literal) };
    if (op.lower === undefined) throw new InternalError(`${node.target} at ${owner} has no runtime lowering`);
    const ctx = this.context(node, args, env, owner);
    const lowered = op.lower(ctx);
    if ("alias" in lowered) return { operand: lowered.alias };
    // 4-D tensors carry a memory format; a tuple's format is that of its 4-D items.
    const is4d = (node.value.kind === "tensor" && node.value.shape.length === 4) || (node.value.kind === "tuple" && lowered.format !== undefined);
    const { format: _format, ...kernelCall } = lowered;
    const id = this.push({
      id: this.uniqueId(idOverride ?? identifierFor(node.name)),
      ...kernelCall,
      nodes: [owner],
      value: node.value,
      ...(is4d ? { format: lowered.format ?? "channelsLast" } : {}),
    });
    return { operand: valueRef(id) };
  }

  private context(node: Node, args: Record<string, Argument>, env: Map<Node, Binding>, owner: string): LowerContext {
    const values = Object.fromEntries(Object.entries(args).map(([k, a]) => [k, argValue(a)])) as Record<string, ArgValue>;
    const nodeArg = (name: string): Node => {
      const a = args[name];
      if (!(a instanceof Node)) throw new InternalError(`argument '${name}' of ${node.target} at ${owner} is not traced`);
      return a;
    };
    const tensorOf = (a: Node, format: MemoryFormat | "any"): Operand => {
      const binding = this.bindingOf(a, env);
      if ("param" in binding) return this.param(binding, "none");
      return format === "any" ? binding.operand : this.convert(binding.operand, format, owner);
    };
    return {
      args: values,
      out: node.value,
      tensor: (name, format = "any") => tensorOf(nodeArg(name), format),
      optionalTensor: (name, format = "any") => {
        const a = args[name];
        return a instanceof Node ? tensorOf(a, format) : constant(null);
      },
      tensors: (name, format = "any") => {
        const list = args[name];
        if (!Array.isArray(list)) throw new InternalError(`argument '${name}' of ${node.target} is not a list`);
        return list.map((a) => {
          if (!(a instanceof Node)) throw new InternalError(`argument '${name}' of ${node.target} holds a non-tensor`);
          return tensorOf(a, format);
        });
      },
      formatOf: (name) => {
        const a = args[name];
        if (!(a instanceof Node)) return undefined;
        const binding = this.bindingOf(a, env);
        return "operand" in binding ? this.formatOfOperand(binding.operand) : undefined;
      },
      isParam: (name) => {
        const a = args[name];
        return a instanceof Node && "param" in this.bindingOf(a, env);
      },
      param: (name, transform = "none", parts) => {
        const binding = this.bindingOf(nodeArg(name), env);
        if (!("param" in binding)) throw new InternalError(`argument '${name}' of ${node.target} at ${owner} must be a parameter`);
        if (parts === undefined) return this.param(binding, transform);
        return { kind: "list", items: [...Array(parts).keys()].map((index) => this.param(binding, transform, { index, count: parts })) };
      },
      operand: (name) => this.argumentOperand(args[name] ?? null, env),
      spatialSizeOf: (name, format) => {
        const source = spatialSizeSource(args[name]);
        return source === undefined ? undefined : tensorOf(source, format);
      },
    };
  }

  private argumentOperand(a: Argument, env: Map<Node, Binding>): Operand {
    if (a instanceof Node) return this.operandOf(a, env);
    if (Array.isArray(a)) {
      const items = a.map((x) => this.argumentOperand(x as Argument, env));
      return items.every((i) => i.kind === "const") ? constant(items.map((i) => (i as { value: Json }).value)) : { kind: "list", items };
    }
    if (isSlice(a)) return constant({ slice: [...a.slice] });
    return constant(a as Json);
  }

  /**
   * A returned value, in the caller's layout: image-like 4-D values are converted to NCHW
   * when asked; torch-ordered ones (Swin's [B, H, W, C]) are returned as torch has them.
   * Plain values (ints, shapes, bools, None) are returned as they are, and a tuple a leaf
   * module returns (ViT's `self_attention`) item by item, each tensor in it by these rules.
   */
  output(key: string, node: string, operand: Operand, value: AbstractValue): ProgramOutput {
    const returned = this.returnedOperand(key, node, operand, value);
    return { key, node, value, ...returned };
  }

  private returnedOperand(key: string, node: string, operand: Operand, value: AbstractValue): { operand: Operand; format?: MemoryFormat } {
    if (value.kind === "tuple" && operand.kind === "list") {
      return { operand: { kind: "list", items: operand.items.map((item, i) => this.returnedOperand(key, node, item, value.items[i] ?? { kind: "none" }).operand) } };
    }
    if (value.kind !== "tensor") {
      // A tuple made at run time by one kernel (chunk's pieces) is the caller's as a whole.
      if (operand.kind === "value") this.returned.add(operand.id);
      return { operand };
    }
    const format = this.formatOfOperand(operand);
    // Each output is the caller's to dispose, so two keys never share one tensor.
    const taken = operand.kind !== "value" || this.returned.has(operand.id);
    if (operand.kind === "value") this.returned.add(operand.id);
    if (taken && !(this.options.layout === "nchw" && format === "channelsLast")) {
      const id = this.push({
        id: this.uniqueId(`${identifierFor(key)}_copy`),
        ...call("clone", [operand], {}, format),
        nodes: [node],
        value,
        note: `output '${key}' gets its own tensor`,
      });
      return { operand: valueRef(id), ...(format === undefined ? {} : { format }) };
    }
    if (this.options.layout === "nchw" && format === "channelsLast") {
      const id = this.push({
        id: this.uniqueId(`${identifierFor(key)}_nchw`),
        ...call("toContiguous", [operand], {}, "contiguous"),
        nodes: [node],
        value,
        note: `output '${key}' in NCHW`,
      });
      return { operand: valueRef(id), format: "contiguous" };
    }
    return { operand, ...(format === undefined ? {} : { format }) };
  }

  bindingOf(n: Node, env: Map<Node, Binding>): Binding {
    const b = env.get(n);
    if (b === undefined) throw new InternalError(`${n.name} is used before it is lowered`);
    return b;
  }

  operandOf(n: Node, env: Map<Node, Binding>): Operand {
    const b = this.bindingOf(n, env);
    return "param" in b ? this.param(b, "none") : b.operand;
  }

  formatOfOperand(o: Operand): MemoryFormat | undefined {
    return o.kind === "value" ? this.byId.get(o.id)?.format : undefined;
  }

  private param({ param: key, shape, integer }: { param: string; shape: readonly number[]; integer?: true }, transform: ParamTransform, part?: ParamSpec["part"]): Operand {
    this.checkpoint[key] = integer ? { shape, integer } : shape;
    const cacheKey = `${key}\u0000${transform}\u0000${part === undefined ? "" : `${part.index}/${part.count}`}`;
    let id = this.paramIds.get(cacheKey);
    if (id === undefined) {
      id = this.uniqueId(`${identifierFor(key)}${part === undefined ? "" : `_g${part.index}`}`, true);
      this.paramIds.set(cacheKey, id);
      this.params.set(id, { id, source: { key }, transform, ...(part === undefined ? {} : { part }) });
    }
    return { kind: "param", id };
  }

  /** A 4-D value in the other memory format, made once per value and format. */
  private convert(o: Operand, format: MemoryFormat, owner: string): Operand {
    const current = this.formatOfOperand(o);
    if (current === undefined || current === format || o.kind !== "value") return o;
    const cacheKey = `${o.id}\u0000${format}`;
    const cached = this.conversions.get(cacheKey);
    if (cached !== undefined) return cached;
    const source = this.byId.get(o.id);
    const id = this.push({
      id: this.uniqueId(`${o.id}_${format === "channelsLast" ? "nhwc" : "nchw"}`),
      ...call(format === "channelsLast" ? "toChannelsLast" : "toContiguous", [o], {}, format),
      nodes: [owner],
      value: source?.value ?? { kind: "none" },
      note: "layout change",
    });
    const converted = valueRef(id);
    this.conversions.set(cacheKey, converted);
    return converted;
  }

  private push(instruction: Instruction): string {
    this.instructions.push(instruction);
    this.byId.set(instruction.id, instruction);
    return instruction.id;
  }

  private uniqueId(base: string, isParam = false): string {
    let id = base;
    for (let i = 2; this.ids.has(id); i++) id = `${base}${isParam ? "_p" : "_"}${i}`;
    this.ids.add(id);
    return id;
  }
}

/** A Python value known at compile time, as a JSON constant; undefined for tensors and batch-dependent values. */
function staticLiteral(v: AbstractValue): Json | undefined {
  switch (v.kind) {
    case "int":
    case "float":
    case "bool":
      return typeof v.value === "string" ? undefined : v.value;
    case "none":
      return null;
    case "size":
      return v.dims.every((d) => typeof d === "number") ? (v.dims as number[]) : undefined;
    case "tuple": {
      const items = v.items.map(staticLiteral);
      return items.every((i) => i !== undefined) ? (items as Json[]) : undefined;
    }
    case "tensor":
      return undefined;
  }
}

/** `t` where an argument is `t.shape[-2:]` (or `t.shape[2:]`, `t.size()[-2:]`) of a 4-D image-like tensor. */
function spatialSizeSource(a: Argument | undefined): Node | undefined {
  if (!(a instanceof Node) || a.target !== "getitem") return undefined;
  const [shape, index] = [a.args[0] ?? a.kwargs.input, a.args[1] ?? a.kwargs.index];
  if (!(shape instanceof Node) || !isSlice(index)) return undefined;
  const [start, stop, step] = index.slice;
  if (!((start === -2 || start === 2) && (stop === null || stop === 4) && (step === null || step === 1))) return undefined;
  const isShape = (shape.target === "getattr" && (shape.args[1] ?? shape.kwargs.name) === "shape") || (shape.target === "size" && (shape.args[1] ?? shape.kwargs.dim ?? null) === null);
  const t = shape.args[0] ?? shape.kwargs.input;
  if (!isShape || !(t instanceof Node) || t.value.kind !== "tensor" || t.value.shape.length !== 4 || t.value.torchOrder === true) return undefined;
  return t;
}
