import { fileURLToPath } from "node:url";
import { dirname, sep } from "node:path";
import { RUNTIME_PACKAGE } from "../version.js";

/** fxc's own code: frames here are the library, not the model being traced. The runtime is its own package, wherever it resolves from (its sources or its dist/). */
const LIBRARY_DIRS = [...["compiler", "models", "dist"].map((d) => fileURLToPath(new URL(`../../${d}/`, import.meta.url))), ...runtimeFolder()];

/** Where the runtime package's code lies; none in a bundle (nothing to resolve from there, and the runtime is inside the bundle). */
function runtimeFolder(): string[] {
  try {
    return [dirname(fileURLToPath(import.meta.resolve(RUNTIME_PACKAGE))) + sep];
  } catch {
    return [];
  }
}

/**
 * The first place in a stack that is the user's code (`src/my-net.ts:12:7`): not fxc's own
 * compiler, models or runtime, not node's internals nor a dependency. Undefined when none is.
 */
export function userFrame(stack: string | undefined): string | undefined {
  for (const line of (stack ?? "").split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (m === null) continue;
    const path = m[1]!.startsWith("file://") ? fileURLToPath(m[1]!) : m[1]!;
    if (LIBRARY_DIRS.some((d) => path.startsWith(d)) || path.includes(`${sep}node_modules${sep}`)) continue;
    return `${relativeToCwd(path)}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

function relativeToCwd(path: string): string {
  const cwd = process.cwd() + sep;
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}
