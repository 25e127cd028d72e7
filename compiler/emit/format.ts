/** The style of every generated file. */
const STYLE = { parser: "typescript", printWidth: 120, trailingComma: "all" } as const;

/** Formats generated code; prettier (20 MB and 0.1 s with its TypeScript parser) is imported here, when a module is written, not by commands that only run programs. */
export async function formatTypeScript(source: string): Promise<string> {
  const { format } = await import("prettier");
  return format(source, STYLE);
}
