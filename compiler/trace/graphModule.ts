import { Module } from "../../models/nn/module.js";
import { Buffer, Parameter } from "../../models/nn/parameter.js";
import type { Graph } from "../graph/graph.js";
import { Node, isDictArgument, type Argument } from "../graph/node.js";
import type { ResolvedOutput } from "../passes/returnNodes.js";
import { dispatcher, type Dispatcher } from "../../models/nn/dispatch.js";
import { OptionsError } from "../pipeline.js";
import type { Tensor } from "../../models/nn/tensor.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/** One mode's pruned graph and its return nodes, as an extractor keeps it. */
export interface ModeGraph {
  readonly graph: Graph;
  readonly outputs: readonly ResolvedOutput[];
}

/** A module path inside a GraphModule that holds only what its graphs use, as torch.fx's plain `nn.Module()`. */
class Submodules extends Module {
  override get typeName(): string {
    return "Module";
  }
  forward(): never {
    throw new InternalError("a GraphModule's path module is not called");
  }
}

/** Members of an extractor a copied attribute must not replace. */
const RESERVED = new Set(["training", "returnNodes", "program", "load", "dryRun", "forward", "call"]);

/**
 * What torchvision's `create_feature_extractor` returns, as a module: torch.fx's GraphModule
 * (a DualGraphModule, one graph per mode). It holds the modules and parameters its graphs use
 * at their original paths (`layer1.0.conv1`, under plain path modules as torch.fx's
 * `_copy_attr` makes them), so its state_dict has exactly their keys, and its forward replays
 * the pruned graph of its current mode on the active tracer. A user's module can therefore
 * hold it as a child (`this.body = createFeatureExtractor(m, ...)`): tracing the user's model
 * goes through it, naming nodes as torch.fx does (`body.layer1.0.conv1`, `body.add_7`).
 */
export class GraphModule extends Module {
  readonly #graphs: { readonly train: ModeGraph | undefined; readonly eval: ModeGraph | undefined };
  /** The original model's modules and tensors by path, for replaying node targets. */
  readonly #modules: ReadonlyMap<string, Module>;
  readonly #tensors: ReadonlyMap<string, Parameter | Buffer>;

  constructor(root: Module, graphs: { readonly train: ModeGraph | undefined; readonly eval: ModeGraph | undefined }) {
    super();
    this.#graphs = graphs;
    this.#modules = new Map(root.namedModules());
    this.#tensors = new Map<string, Parameter | Buffer>([...root.namedParameters(), ...root.namedBuffers()]);
    // torch.fx's DualGraphModule copies what the train graph uses, then the eval graph.
    for (const g of [graphs.train, graphs.eval]) {
      for (const node of g?.graph.nodes ?? []) {
        if (node.op === "call_module" || (node.op === "get_attr" && this.#tensors.has(node.target))) this.install(node.target);
      }
    }
  }

  /** torch.fx's `_copy_attr`: the object at `target` in the root, at the same path here; a path already installed is shared. */
  private install(target: string): void {
    const parts = target.split(".");
    const field = parts.pop()!;
    let here: Module = this;
    let path = "";
    for (const part of parts) {
      path = path ? `${path}.${part}` : part;
      const existing = (here as unknown as Record<string, unknown>)[part];
      if (existing === this.#modules.get(path)) return;
      if (RESERVED.has(part) && here === this) throw new Error(`a feature extractor cannot hold a module named '${part}'; rename it in the model`);
      if (!(existing instanceof Module)) (here as unknown as Record<string, Module>)[part] = new Submodules();
      here = (here as unknown as Record<string, Module>)[part]!;
    }
    if (RESERVED.has(field) && here === this) throw new Error(`a feature extractor cannot hold a module or parameter named '${field}'; rename it in the model`);
    const object = this.#modules.get(target) ?? this.#tensors.get(target);
    if (object === undefined) throw new InternalError(`${target} is not in the extracted model`);
    (here as unknown as Record<string, unknown>)[field] = object;
  }

  /** Runs the current mode's graph on the tracer that is tracing the model holding this one. */
  forward(x: Tensor): Record<string, Tensor> {
    const mode = this.training ? "train" : "eval";
    const graph = this.#graphs[mode];
    if (graph === undefined) throw new OptionsError(`this feature extractor has no ${mode} graph: its return nodes are not in the ${mode} graph; give trainReturnNodes and evalReturnNodes`);
    const tracer = dispatcher("run a feature extractor");
    const values = new Map<Node, unknown>();
    const value = (a: Argument): unknown => {
      if (a instanceof Node) {
        if (!values.has(a)) throw new InternalError(`${a.name} is used before it is replayed`);
        return values.get(a);
      }
      if (Array.isArray(a)) return a.map((item) => value(item as Argument));
      if (isDictArgument(a)) return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, value(v)]));
      return a;
    };
    for (const node of graph.graph.nodes) values.set(node, this.replay(node, x, value, tracer));
    const out: Record<string, Tensor> = {};
    for (const o of graph.outputs) {
      // A dict-valued node was asked for whole: it is returned under its key, as torchvision does.
      const key = o.entry === undefined ? o.key : o.key.slice(0, -(o.entry.key.length + 1));
      out[key] = values.get(o.node) as Tensor;
    }
    return out;
  }

  private replay(node: Node, input: Tensor, value: (a: Argument) => unknown, tracer: Dispatcher): unknown {
    switch (node.op) {
      case "placeholder":
        return input;
      case "get_attr": {
        const t = this.#tensors.get(node.target);
        if (t === undefined) throw new InternalError(`${node.target} is not in the extracted model`);
        // Parameters are traced values read where torch.fx reads them; buffers are constants.
        return t instanceof Parameter ? tracer.readAttribute(t) : t;
      }
      case "call_module": {
        const m = this.#modules.get(node.target);
        if (m === undefined) throw new InternalError(`${node.target} is not in the extracted model`);
        return m.call(...(node.args.map(value) as never[]));
      }
      case "call_method":
      case "call_function": {
        // A buffer's view is a constant torch.fx evaluates eagerly: the same view of the same buffer.
        if (node.qualname === undefined && node.target === "view") {
          const source = value(node.args[0]!);
          if (source instanceof Buffer) return source.view(...(node.args.slice(1) as number[]));
        }
        const kwargs = Object.fromEntries(Object.entries(node.kwargs).map(([k, v]) => [k, value(v)]));
        const args = node.args.map(value);
        return node.op === "call_method" ? tracer.callMethod(node.target, args, kwargs) : tracer.callFunction(node.target, args, kwargs);
      }
      case "output":
        return undefined;
    }
  }
}
