import type { Json } from "../graph/program.js";

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A JSON value as TypeScript source: object keys unquoted where they can be. */
export function literal(value: Json): string {
  if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`;
  const entries = Object.entries(value as Record<string, Json>).map(([k, v]) => `${propertyName(k)}: ${literal(v)}`);
  return entries.length === 0 ? "{}" : `{ ${entries.join(", ")} }`;
}

/** A key as an object literal or interface writes it. `"__proto__": v` would set the prototype instead of a key, so it is computed. */
export function propertyName(key: string): string {
  if (key === "__proto__") return `[${JSON.stringify(key)}]`;
  return IDENTIFIER.test(key) ? key : JSON.stringify(key);
}

/** `object.key`, or `object["key"]` where the key is not an identifier. */
export function propertyAccess(object: string, key: string): string {
  return IDENTIFIER.test(key) ? `${object}.${key}` : `${object}[${JSON.stringify(key)}]`;
}

/** Control, format (bidirectional overrides, zero-width) and line/paragraph separator characters. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `text` with every invisible character written as a `\uXXXX` escape: what a reader sees is what is there. */
export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * Text as it may stand in a generated comment (`//` or `/** ... *\/`): every string that is not
 * code (model and node names, the command line, notes) reaches generated source through here,
 * so that none can end the comment: line terminators are escaped, and so is `*\/`.
 */
export function commentText(text: string): string {
  return escapeInvisible(text).replace(/\*\//g, "*\\/");
}
