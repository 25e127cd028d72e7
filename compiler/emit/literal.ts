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

export function propertyName(key: string): string {
  return IDENTIFIER.test(key) ? key : JSON.stringify(key);
}
