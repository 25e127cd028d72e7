import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, posix, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { tempDir } from "../support/temp.js";

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

/** The folders of the root package (fxc) whose code ships or is read by users; tests may reach into runtime/ by path. */
const ROOT_PACKAGE_FOLDERS = ["compiler", "models", "templates", "examples"] as const;

/**
 * Every relative import that crosses the boundary of the runtime package (runtime/, published as
 * @fxc/runtime): from the root package's folders into runtime/, which must go through the package's
 * specifiers (an installed fxc has no ../runtime), and from runtime/ out of it.
 */
export async function packageBoundaryViolations(root: string): Promise<string[]> {
  const runtimeName = (JSON.parse(await readFile(join(root, "runtime", "package.json"), "utf8")) as { name: string }).name;
  const violations: string[] = [];
  for (const folder of [...ROOT_PACKAGE_FOLDERS, "runtime"]) {
    for (const file of await tsFiles(join(root, folder))) {
      const from = relative(root, file).split(sep).join("/");
      if (from.startsWith("runtime/dist/")) continue;
      const { importedFiles } = ts.preProcessFile(await readFile(file, "utf8"), true, true);
      for (const { fileName: spec } of importedFiles) {
        if (!spec.startsWith(".")) continue;
        const target = posix.normalize(posix.join(posix.dirname(from), spec));
        const intoRuntime = target.startsWith("runtime/");
        if (folder !== "runtime" && intoRuntime) {
          violations.push(`${from} imports '${spec}' by path across the runtime package's boundary: import it from '${runtimeName}' (or '${runtimeName}/<entry>', '${runtimeName}/internal/<path>')`);
        } else if (folder === "runtime" && !intoRuntime) {
          violations.push(`${from} (${runtimeName}) imports '${spec}' outside its package: move what it needs into runtime/`);
        }
      }
    }
  }
  return violations;
}

/** A temporary folder holding `files` (path -> text). */
async function tempTree(prefix: string, files: Readonly<Record<string, string>>): Promise<string> {
  const root = await tempDir(prefix);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("runtime imports neither models nor compiler, and models does not import compiler", async () => {
  const violations = await layerViolations(repo);
  assert.deepEqual(violations, [], `lower layers import upper ones:\n${violations.join("\n")}`);
});

test("the layer rule sees multi-line, type-only, dynamic and self-referencing imports, and allows imports downwards", async () => {
  const root = await tempTree("layers", {
    "package.json": JSON.stringify({ name: "fxc", exports: { ".": { "fxc-source": "./compiler/index.ts" }, "./models": { "fxc-source": "./models/index.ts" } } }),
    "models/nn/a.ts": 'import {\n  x,\n  y,\n} from "../../compiler/trace/proxy.js";\nimport type { T } from "../../runtime/t.js";\n',
    "runtime/b.ts": 'export type Z = import("../models/nn/a.js").Z;\nconst m = await import("fxc/models");\n',
    "compiler/c.ts": 'import { x } from "../models/nn/a.js";\nimport "../runtime/b.js";\n',
  });
  assert.deepEqual((await layerViolations(root)).sort(), [
    "models/nn/a.ts (models) imports '../../compiler/trace/proxy.js' (compiler): move what it needs down into models/, or invert the call",
    "runtime/b.ts (runtime) imports '../models/nn/a.js' (models): move what it needs down into runtime/, or invert the call",
    "runtime/b.ts (runtime) imports 'fxc/models' (models): move what it needs down into runtime/, or invert the call",
  ]);
});

test("compiler, models, templates and examples import the runtime only through @fxc/runtime's specifiers, and runtime/ imports nothing outside itself", async () => {
  const violations = await packageBoundaryViolations(repo);
  assert.deepEqual(violations, [], `relative imports across the runtime package's boundary:\n${violations.join("\n")}`);
});

test("the package boundary rule sees relative imports into runtime/ from every root folder, and out of runtime/, and allows package specifiers", async () => {
  const root = await tempTree("boundary", {
    "runtime/package.json": JSON.stringify({ name: "@fxc/runtime" }),
    "runtime/index.ts": 'export type { T } from "./t.js";\nimport "../templates/x.js";\n',
    "compiler/a.ts": 'import { x } from "@fxc/runtime";\nimport type { Y } from "@fxc/runtime/internal/weights/rename";\nimport { z } from "../runtime/weights/open.js";\n',
    "templates/m.ts": 'export type P = import("../runtime/images/preset.js").Preset;\n',
    "examples/e.ts": 'const r = await import("../runtime/index.js");\nimport { c } from "../compiler/a.js";\n',
    "test/t.test.ts": 'import { x } from "../runtime/index.js";\n',
  });
  assert.deepEqual((await packageBoundaryViolations(root)).sort(), [
    "compiler/a.ts imports '../runtime/weights/open.js' by path across the runtime package's boundary: import it from '@fxc/runtime' (or '@fxc/runtime/<entry>', '@fxc/runtime/internal/<path>')",
    "examples/e.ts imports '../runtime/index.js' by path across the runtime package's boundary: import it from '@fxc/runtime' (or '@fxc/runtime/<entry>', '@fxc/runtime/internal/<path>')",
    "runtime/index.ts (@fxc/runtime) imports '../templates/x.js' outside its package: move what it needs into runtime/",
    "templates/m.ts imports '../runtime/images/preset.js' by path across the runtime package's boundary: import it from '@fxc/runtime' (or '@fxc/runtime/<entry>', '@fxc/runtime/internal/<path>')",
  ]);
});
