import { readFileSync } from "node:fs";

/** fxc's own version, from its package.json (two levels up from both source and dist). */
function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "fxc" && pkg.version) return pkg.version;
    } catch {
      // Try the next location.
    }
  }
  return "0.0.0";
}

export const FXC_VERSION = packageVersion();

/** The package generated modules import: the runtime, published apart from the compiler, at fxc's own version. */
export const RUNTIME_PACKAGE = "@fxc/runtime";

/** The torchvision release whose models, names and numbers fxc reproduces. */
export const TORCHVISION_VERSION = "0.14.1";
