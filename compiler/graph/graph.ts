import { Node, type Argument, type OpKind } from "./node.js";
import type { AbstractValue } from "./value.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/**
 * An ordered list of nodes, as torch.fx's Graph: nodes appear in execution order and
 * every argument refers to an earlier node.
 */
export class Graph {
  private readonly list: Node[] = [];
  private readonly byName = new Map<string, Node>();
  /** The graph result: a single value, or named values once return nodes are chosen. */
  output?: Argument;

  get nodes(): readonly Node[] {
    return this.list;
  }

  add(
    name: string,
    op: OpKind,
    target: string,
    args: readonly Argument[],
    kwargs: { readonly [key: string]: Argument },
    value: AbstractValue,
    qualname: string | undefined,
    modulePath: string,
  ): Node {
    if (this.byName.has(name)) throw new InternalError(`duplicate node name ${name}`);
    const node = new Node(name, op, target, args, kwargs, value, qualname, modulePath);
    this.list.push(node);
    this.byName.set(name, node);
    return node;
  }

  get(name: string): Node | undefined {
    return this.byName.get(name);
  }

  /** Torchvision's names, in execution order: what `get_graph_node_names` lists. */
  qualnames(): string[] {
    return this.list.flatMap((n) => (n.qualname === undefined ? [] : [n.qualname]));
  }

  /** A new graph with only the given nodes, in the original order (used by pruning). */
  filter(keep: ReadonlySet<Node>): Graph {
    const g = new Graph();
    for (const n of this.list) {
      if (!keep.has(n)) continue;
      g.list.push(n);
      g.byName.set(n.name, n);
    }
    g.output = this.output;
    return g;
  }
}
