import type { Graph } from "../graph/graph.js";
import type { Node } from "../graph/node.js";

/**
 * Keeps only the nodes the outputs depend on. Parameters go with their nodes: a weight is
 * read at load time only if a kept node uses it. Shape checks (`_assert`) were already
 * evaluated while tracing, as shapes are static, so they go too.
 */
export function prune(graph: Graph, outputs: readonly Node[]): Graph {
  const keep = new Set<Node>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (keep.has(n)) continue;
    keep.add(n);
    stack.push(...n.inputs());
  }
  const pruned = graph.filter(keep);
  pruned.output = undefined;
  return pruned;
}
