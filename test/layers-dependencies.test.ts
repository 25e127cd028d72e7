import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, posix, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { tempDir } from "./support/temp.js";

/**
 * The layer order, lowest first: runtime (what generated modules import) <- models (the module
 * library) <- compiler (tracer, passes, emitter, CLI). A layer imports its own and lower layers
 * only, as torch's nn.Module knows nothing of torch.fx: the tracer installs itself from above.
 */
const LAYERS = ["runtime", "models", "compiler"] as const;
type LayerName = (typeof LAYERS)[number];

/** The package's own export subpaths (`fxc/models`...), read from package.json, as layers. */
async function selfReferenceLayers(root: string): Promise<Map<string, LayerName>> {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { name: string; exports?: Record<string, Record<string, string>> };
  const out = new Map<string, LayerName>();
  for (const [subpath, conditions] of Object.entries(pkg.exports ?? {})) {
    const layer = layerOf(posix.normalize(conditions["fxc-source"] ?? ""));
    if (layer !== undefined) out.set(posix.join(pkg.name, subpath), layer);
  }
  return out;
}

function layerOf(path: string): LayerName | undefined {
  const top = path.split("/")[0];
  return LAYERS.find((l) => l === top);
}

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

/**
 * Every import of a lower layer's file from a higher layer under `root`, as `file: imports 'spec'`.
 * Specifiers come from TypeScript's own scanner: static, type-only, re-exports, `import("...")`.
 */
export async function layerViolations(root: string): Promise<string[]> {
  const selfReferences = await selfReferenceLayers(root);
  const violations: string[] = [];
  for (const layer of LAYERS) {
    for (const file of await tsFiles(join(root, layer))) {
      const from = relative(root, file).split(sep).join("/");
      const { importedFiles } = ts.preProcessFile(await readFile(file, "utf8"), true, true);
      for (const { fileName: spec } of importedFiles) {
        const target = spec.startsWith(".") ? layerOf(posix.normalize(posix.join(posix.dirname(from), spec))) : selfReferences.get(spec);
        if (target !== undefined && LAYERS.indexOf(target) > LAYERS.indexOf(layer)) {
          violations.push(`${from} (${layer}) imports '${spec}' (${target}): move what it needs down into ${layer}/, or invert the call`);
        }
      }
    }
  }
  return violations;
}

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");

test("runtime imports neither models nor compiler, and models does not import compiler", async () => {
  const violations = await layerViolations(repo);
  assert.deepEqual(violations, [], `lower layers import upper ones:\n${violations.join("\n")}`);
});

test("the layer rule sees multi-line, type-only, dynamic and self-referencing imports, and allows imports downwards", async () => {
  const root = await tempDir("layers");
  const write = async (path: string, text: string): Promise<void> => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  };
  await write("package.json", JSON.stringify({ name: "fxc", exports: { ".": { "fxc-source": "./compiler/index.ts" }, "./models": { "fxc-source": "./models/index.ts" } } }));
  await write("models/nn/a.ts", 'import {\n  x,\n  y,\n} from "../../compiler/trace/proxy.js";\nimport type { T } from "../../runtime/t.js";\n');
  await write("runtime/b.ts", 'export type Z = import("../models/nn/a.js").Z;\nconst m = await import("fxc/models");\n');
  await write("compiler/c.ts", 'import { x } from "../models/nn/a.js";\nimport "../runtime/b.js";\n');
  assert.deepEqual((await layerViolations(root)).sort(), [
    "models/nn/a.ts (models) imports '../../compiler/trace/proxy.js' (compiler): move what it needs down into models/, or invert the call",
    "runtime/b.ts (runtime) imports '../models/nn/a.js' (models): move what it needs down into runtime/, or invert the call",
    "runtime/b.ts (runtime) imports 'fxc/models' (models): move what it needs down into runtime/, or invert the call",
  ]);
});
