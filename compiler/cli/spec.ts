import type { ReturnNodes } from "../passes/returnNodes.js";
import { outputKeyMessage } from "../names.js";
import { UsageError } from "./errors.js";

/**
 * The CLI's return spec, `node[:key],...`: a plain list when no node is renamed, else a
 * `{ node: key }` map as torchvision takes it. Keys follow the rule the API applies
 * (compiler/names.ts), refused with the same line before anything is compiled.
 */
export function parseReturnSpec(spec: string): ReturnNodes {
  const items = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError("--return is empty; give node names such as layer1,layer4 (fxc nodes MODEL lists them)");
  const pairs = items.map((item) => {
    const [node, key, extra] = item.split(":");
    if (extra !== undefined || !node || key === "") throw new UsageError(`bad --return item '${item}'; write node or node:key`);
    const problem = outputKeyMessage(key ?? node);
    if (problem !== undefined) throw new UsageError(problem);
    return [node, key ?? node] as const;
  });
  if (pairs.every(([node, key]) => node === key)) return pairs.map(([node]) => node);
  // A node repeated with the same key is one entry, as a repeated list item is; with two keys
  // it is refused (a Python dict would silently keep the last key).
  const keyOf = new Map<string, string>();
  for (const [node, key] of pairs) {
    const earlier = keyOf.get(node);
    if (earlier !== undefined && earlier !== key) throw new UsageError(`node '${node}' appears twice in --return, as '${earlier}' and '${key}'; give each node one key`);
    keyOf.set(node, key);
  }
  // fromEntries defines own properties: a node named __proto__ stays a key instead of setting the prototype.
  return Object.fromEntries(pairs);
}

/** `--size 224` or `--size 224x160` (height x width). */
export function parseSize(size: string | number | undefined): number | [number, number] | undefined {
  if (size === undefined) return undefined;
  const text = String(size);
  const m = /^(\d+)(?:x(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`bad --size '${text}'; give a size such as 224 or 224x160`);
  const [h, w] = [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
  if (h < 1 || (w !== undefined && w < 1)) throw new UsageError(`bad --size '${text}'; sizes are positive`);
  return w === undefined ? h : [h, w];
}

/** A flag that takes a positive whole number (`--batch`, `--top`...); undefined when not given. */
export function positiveInt(n: number, flag: string): number;
export function positiveInt(n: number | undefined, flag: string): number | undefined;
export function positiveInt(n: number | undefined, flag: string): number | undefined {
  if (n === undefined) return undefined;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`bad ${flag} '${n}'; give a positive whole number`);
  return n;
}
