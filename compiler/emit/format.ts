import { format } from "prettier";

/** The style of every generated file. */
const STYLE = { parser: "typescript", printWidth: 120, trailingComma: "all" } as const;

export function formatTypeScript(source: string): Promise<string> {
  return format(source, STYLE);
}
