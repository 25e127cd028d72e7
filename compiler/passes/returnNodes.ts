import type { Graph } from "../graph/graph.js";
import type { Node } from "../graph/node.js";
import { didYouMean } from "../../models/suggest.js";
import { outputKeyMessage } from "../names.js";
import { FxcError } from "@fxc/runtime/internal/errors";
import type { Mode } from "../pipeline.js";

/** Return nodes as torchvision takes them: a list of names, or `{ node: key }`. */
export type ReturnNodes = readonly string[] | Readonly<Record<string, string>>;

export interface ResolvedOutput {
  readonly key: string;
  /** What the user asked for, possibly a truncated module path. */
  readonly query: string;
  readonly node: Node;
  /** For a dict-valued node (FeaturePyramidNetwork's levels): which entry this output is. */
  readonly entry?: { readonly key: string; readonly index: number };
}

export class ReturnNodeError extends FxcError {
  override readonly name = "ReturnNodeError";
}

/**
 * `[a, b]` means `{ a: "a", b: "b" }`, as in torchvision, where a name listed twice is one
 * entry (a Python dict built from the list). Every key must pass the rule of compiler/names.ts,
 * since keys become object keys, interface properties and file names.
 */
export function toQueryMap(spec: ReturnNodes): [query: string, key: string][] {
  const pairs: [query: string, key: string][] = Array.isArray(spec)
    ? [...new Set(spec as readonly string[])].map((q) => [q, q])
    : Object.entries(spec as Record<string, string>);
  for (const [, key] of pairs) {
    const problem = typeof key === "string" ? outputKeyMessage(key) : `output key ${String(key)} is not a string; give each node a string key`;
    if (problem !== undefined) throw new ReturnNodeError(problem);
  }
  return pairs;
}

/** Whether `qualname` is `query` or lies under it: its first dot-separated parts equal the query's (dots literal). */
function isUnder(qualname: string, query: string): boolean {
  return qualname === query || qualname.startsWith(`${query}.`);
}

/**
 * torchvision's selection, step for step: walk the recorded nodes from last to first; a node
 * goes to the first query still waiting (in the order given) that it lies under, and that
 * query stops waiting. So a truncated name is the last node under that module path that no
 * earlier query took: `{layer1: "a", "layer1.1": "b"}` gives a = layer1.1.relu_1 and
 * b = layer1.1.add. Outputs come in execution order, as torchvision's dict does.
 *
 * Where torchvision silently does something a user cannot have meant, this refuses with one
 * line: no queries at all (torchvision returns an empty dict), two queries with one key
 * (torchvision keeps one of them), and a query whose every node an earlier query took
 * (torchvision drops its key).
 */
export function resolveReturnNodes(graph: Graph, spec: ReturnNodes, mode: Mode): ResolvedOutput[] {
  const queries = toQueryMap(spec);
  if (queries.length === 0) throw new ReturnNodeError("no return nodes given; name at least one node (fxc nodes MODEL lists them)");
  const keyOwner = new Map<string, string>();
  for (const [query, key] of queries) {
    const other = keyOwner.get(key);
    if (other !== undefined) throw new ReturnNodeError(`output key '${key}' is given to both '${other}' and '${query}'; give each return node its own key`);
    keyOwner.set(key, query);
  }
  const recorded = graph.nodes.filter((n) => n.qualname !== undefined);
  for (const [query] of queries) {
    if (!recorded.some((n) => isUnder(n.qualname!, query))) throw new ReturnNodeError(unknownNodeMessage(query, recorded, mode));
  }
  const waiting = [...queries];
  const resolved: ResolvedOutput[] = [];
  for (let i = recorded.length - 1; i >= 0 && waiting.length > 0; i--) {
    const n = recorded[i]!;
    const at = waiting.findIndex(([query]) => isUnder(n.qualname!, query));
    if (at < 0) continue;
    const [query, key] = waiting.splice(at, 1)[0]!;
    resolved.push({ key, query, node: n });
  }
  if (waiting.length > 0) {
    const [query] = waiting[0]!;
    const takers = resolved.filter((r) => isUnder(r.node.qualname!, query)).map((r) => `'${r.query}'`);
    throw new ReturnNodeError(`every node under '${query}' is already returned for ${takers.join(", ")}; name a node under '${query}' that no other entry selects, or drop one of them`);
  }
  // In execution order; a dict of tensors (an FPN's levels) comes back as one output per entry.
  const expanded = resolved.reverse().flatMap((o): ResolvedOutput[] => {
    const dict = tensorDict(o.node);
    return dict === undefined ? [o] : dict.map((entry, index) => ({ key: entryKey(o.key, entry), query: o.query, node: o.node, entry: { key: entry, index } }));
  });
  const entryOwner = new Map<string, string>();
  for (const o of expanded) {
    const other = entryOwner.get(o.key);
    if (other !== undefined) throw new ReturnNodeError(`output key '${o.key}' is given to both '${other}' and '${o.query}'; give each return node its own key`);
    entryOwner.set(o.key, o.query);
  }
  // Results are objects: integer-like keys ("0", "10") would come first, ascending, whatever the execution order.
  const objectOrder = Object.keys(Object.fromEntries(expanded.map((o) => [o.key, true])));
  const moved = expanded.findIndex((o, i) => o.key !== objectOrder[i]);
  if (moved !== -1) {
    throw new ReturnNodeError(
      `output key '${objectOrder[moved]}' would come back before '${expanded[moved]!.key}', out of execution order (JavaScript lists integer keys first, ascending); number the keys in execution order or start them with a letter`,
    );
  }
  return expanded;
}

/** The keys of a node whose value is a dict of tensors (FeaturePyramidNetwork's), else undefined. */
function tensorDict(node: Node): readonly string[] | undefined {
  const v = node.value;
  return v.kind === "tuple" && v.keys !== undefined && v.items.every((i) => i.kind === "tensor") ? v.keys : undefined;
}

/**
 * A dict-valued node comes back as one tensor per entry, under `key.entry` (`fpn.0`, ...,
 * `fpn.pool`): torchvision returns the dict itself under `key`.
 */
function entryKey(key: string, entry: string): string {
  const full = `${key}.${entry}`;
  const problem = outputKeyMessage(full);
  if (problem !== undefined) throw new ReturnNodeError(`entry '${entry}' of return node key '${key}': ${problem}`);
  return full;
}

function unknownNodeMessage(query: string, nodes: readonly Node[], mode: string): string {
  const names = new Set<string>();
  for (const n of nodes) {
    const parts = n.qualname!.split(".");
    for (let i = 1; i <= parts.length; i++) names.add(parts.slice(0, i).join("."));
  }
  return `node '${query}' is not in the ${mode} graph${didYouMean(query, [...names])} (fxc nodes MODEL lists them)`;
}
