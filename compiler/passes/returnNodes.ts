import type { Graph } from "../graph/graph.js";
import type { Node } from "../graph/node.js";
import { didYouMean } from "../suggest.js";
import { outputKeyMessage } from "../names.js";

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

export class ReturnNodeError extends Error {
  override readonly name = "ReturnNodeError";
}

/**
 * `[a, b]` means `{ a: "a", b: "b" }`, as in torchvision. Every key must pass the rule of
 * compiler/names.ts, since keys become object keys, interface properties and file names.
 */
export function toQueryMap(spec: ReturnNodes): [query: string, key: string][] {
  let pairs: [query: string, key: string][];
  if (Array.isArray(spec)) {
    const seen = new Set<string>();
    for (const q of spec as readonly string[]) {
      if (seen.has(q)) throw new ReturnNodeError(`return node '${q}' is listed twice; list each node once`);
      seen.add(q);
    }
    pairs = (spec as readonly string[]).map((q) => [q, q]);
  } else {
    pairs = Object.entries(spec as Record<string, string>);
  }
  for (const [, key] of pairs) {
    const problem = typeof key === "string" ? outputKeyMessage(key) : `output key ${String(key)} is not a string; give each node a string key`;
    if (problem !== undefined) throw new ReturnNodeError(problem);
  }
  return pairs;
}

/**
 * Resolves each query to the last node executed under it: `layer1` is the last node whose
 * name starts with `layer1.` (dots are literal, unlike torchvision's regex). Outputs come in
 * execution order, as torchvision's dict does.
 */
export function resolveReturnNodes(graph: Graph, spec: ReturnNodes, mode: "train" | "eval"): ResolvedOutput[] {
  const queries = toQueryMap(spec);
  if (queries.length === 0) throw new ReturnNodeError("no return nodes given; name at least one node (fxc nodes MODEL lists them)");
  const keyOwner = new Map<string, string>();
  for (const [query, key] of queries) {
    const other = keyOwner.get(key);
    if (other !== undefined) throw new ReturnNodeError(`output key '${key}' is given to both '${other}' and '${query}'; give each return node its own key`);
    keyOwner.set(key, query);
  }
  const recorded = graph.nodes.filter((n) => n.qualname !== undefined);
  const resolved = queries.map(([query, key]): ResolvedOutput[] => {
    const depth = query.split(".").length;
    let found: Node | undefined;
    for (let i = recorded.length - 1; i >= 0 && found === undefined; i--) {
      const n = recorded[i]!;
      if (n.qualname!.split(".").slice(0, depth).join(".") === query) found = n;
    }
    if (found === undefined) throw new ReturnNodeError(unknownNodeMessage(query, recorded, mode));
    const dict = tensorDict(found);
    if (dict !== undefined) return dict.map((entry, index) => ({ key: entryKey(key, entry), query, node: found!, entry: { key: entry, index } }));
    if (found.value.kind !== "tensor") {
      throw new ReturnNodeError(`node '${found.qualname}' is a ${found.value.kind}, not a tensor; return a tensor node instead`);
    }
    return [{ key, query, node: found }];
  }).flat();
  const entryOwner = new Map<string, string>();
  for (const o of resolved) {
    const other = entryOwner.get(o.key);
    if (other !== undefined) throw new ReturnNodeError(`output key '${o.key}' is given to both '${other}' and '${o.query}'; give each return node its own key`);
    entryOwner.set(o.key, o.query);
  }
  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  const sorted = resolved.sort((a, b) => order.get(a.node)! - order.get(b.node)!);
  // Results are objects: integer-like keys ("0", "10") would come first, ascending, whatever the execution order.
  const objectOrder = Object.keys(Object.fromEntries(sorted.map((o) => [o.key, true])));
  const moved = sorted.findIndex((o, i) => o.key !== objectOrder[i]);
  if (moved !== -1) {
    throw new ReturnNodeError(
      `output key '${objectOrder[moved]}' would come back before '${sorted[moved]!.key}', out of execution order (JavaScript lists integer keys first, ascending); number the keys in execution order or start them with a letter`,
    );
  }
  return sorted;
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
