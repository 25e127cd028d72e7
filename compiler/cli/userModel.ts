import { readFile, stat } from "node:fs/promises";
import { existsSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Module } from "../../models/nn/module.js";
import { errorCode } from "@fxc/runtime/internal/weights/types";
import type { ModelInput } from "../api.js";
import { quoteName } from "../names.js";
import { OptionsError } from "../pipeline.js";
import { didYouMean } from "../../models/suggest.js";
import { UsageError } from "./errors.js";

/** `./src/my-net.ts#MyNet`: a module file of the user's and the export that builds the model. */
export interface UserModelSpec {
  /** As the user wrote it: the header's regenerate command repeats it. */
  readonly text: string;
  readonly file: string;
  /** `default` for `./net.ts` without `#`. */
  readonly exportName: string;
}

const MODULE_FILE = /\.(ts|mts|js|mjs)$/;
const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

/** Whether the CLI's model argument names a file (`./net.ts#Net`) rather than a zoo model. */
export function isUserModelSpec(model: string): boolean {
  return model.includes("#") || model.includes("/") || MODULE_FILE.test(model);
}

/** Reads `FILE#Export`; a malformed one is a UsageError naming the form to write. */
export function parseUserModelSpec(text: string): UserModelSpec {
  const hash = text.lastIndexOf("#");
  const file = hash < 0 ? text : text.slice(0, hash);
  const exportName = hash < 0 ? "default" : text.slice(hash + 1);
  const form = "write FILE#Export, such as ./src/my-net.ts#MyNet";
  if (!MODULE_FILE.test(file)) throw new UsageError(`model file ${quoteName(file)} is not a .ts, .mts, .js or .mjs module; ${form}`);
  if (!EXPORT_NAME.test(exportName)) throw new UsageError(`export name ${quoteName(exportName)} in ${quoteName(text)} is not a JavaScript name; ${form}`);
  return { text, file, exportName };
}

/** The default module name of a user model: its export's name, or the file's for a default export. */
export function userModelName(spec: UserModelSpec): string {
  return spec.exportName === "default" ? basename(spec.file).replace(MODULE_FILE, "") : spec.exportName;
}

/**
 * Imports the file and builds the model from the export: a Module class (constructed without
 * arguments), a factory function that returns a Module, or a Module instance. TypeScript files
 * are loaded through tsx: as the CLI runs when it runs from source (node --import tsx), else by
 * registering tsx's loader, which must then be installed beside fxc.
 */
export async function loadUserModel(spec: UserModelSpec): Promise<Module> {
  const path = resolve(spec.file);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new OptionsError(`model file ${quoteName(spec.file)} is not a regular file; give the path of a module file`);
  } catch (e) {
    if (e instanceof OptionsError) throw e;
    const code = errorCode(e);
    throw new OptionsError(`model file ${quoteName(spec.file)} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code || String(e)})`}; check the path (relative to ${process.cwd()})`);
  }
  const exports = await importModule(spec, path);
  if (!(spec.exportName in exports)) {
    const names = Object.keys(exports);
    const listed = `; it exports ${names.length ? names.map((n) => `'${n}'`).join(", ") : "nothing"}`;
    throw new OptionsError(`${quoteName(spec.file)} has no export '${spec.exportName}'${didYouMean(spec.exportName, names) || listed}`);
  }
  return buildFromExport(spec, exports[spec.exportName]);
}

async function importModule(spec: UserModelSpec, path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if (errorCode(e) !== "ERR_UNKNOWN_FILE_EXTENSION") throw loadFailure(spec, e);
  }
  // Plain node: register tsx for what follows (not a namespaced import, which would load a second copy of fxc's module library).
  let register: () => unknown;
  try {
    ({ register } = (await import("tsx/esm/api")) as { register: () => unknown });
  } catch {
    throw new OptionsError(`loading the TypeScript model ${quoteName(spec.file)} needs tsx: install it (npm install --save-dev tsx), or give the compiled .js file`);
  }
  register();
  try {
    // A new URL: node keeps the failed first import of this one. Only the user's file is new; what it imports resolves as before.
    return (await import(`${url}?tsx`)) as Record<string, unknown>;
  } catch (e) {
    throw loadFailure(spec, e);
  }
}

function loadFailure(spec: UserModelSpec, e: unknown): OptionsError {
  const why = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  return new OptionsError(`model file ${quoteName(spec.file)} could not be loaded (${why}); fix the file so that node can import it`);
}

function buildFromExport(spec: UserModelSpec, value: unknown): Module {
  const what = `export '${spec.exportName}' of ${quoteName(spec.file)}`;
  const fix = "export a Module class, a function that returns a Module, or a Module, built with fxc's module library (import from \"fxc/models\")";
  let built: unknown = value;
  if (typeof value === "function") {
    const isClass = /^class\b/.test(Function.prototype.toString.call(value));
    try {
      built = isClass ? new (value as new () => unknown)() : (value as () => unknown)();
    } catch (e) {
      const why = e instanceof Error ? e.message.split("\n")[0]! : String(e);
      throw new OptionsError(`${what} threw while building the model (${why}); it is called without arguments: give its arguments defaults, or export a factory that passes them`);
    }
  }
  if (built instanceof Module) return built;
  const looksLikeModule = typeof built === "object" && built !== null && typeof (built as { namedModules?: unknown }).namedModules === "function";
  if (looksLikeModule) throw new OptionsError(`${what} is a Module from another copy of fxc; import the module library from the fxc that compiles it ("fxc/models")`);
  throw new OptionsError(`${what} gives ${built === null ? "null" : typeof built}, not a Module; ${fix}`);
}

/** The CLI's model argument: a zoo name as it is, or a user model loaded from its file. */
export async function cliModel(model: string): Promise<{ readonly model: ModelInput; readonly user?: UserModelSpec }> {
  if (!isUserModelSpec(model)) return { model };
  const user = parseUserModelSpec(model);
  return { model: await loadUserModel(user), user };
}

/** How a relative specifier names a module file: as written, its TypeScript source for a `.js` name (NodeNext style), or without an extension. */
function moduleFileCandidates(path: string): string[] {
  const js = /\.(m|c)?js$/.exec(path);
  const sources = js === null ? [] : [path.slice(0, -js[0].length) + `.${js[1] ?? ""}ts`, path.slice(0, -js[0].length) + ".tsx"];
  return [path, ...sources, `${path}.ts`, `${path}.tsx`, `${path}.js`, resolve(path, "index.ts"), resolve(path, "index.js")];
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * A user model's file and every local module it imports, directly or not (relative specifiers
 * only: packages are not the user's to edit while watching). What `fxc build --watch` watches.
 */
export async function localModuleFiles(entry: string): Promise<string[]> {
  // TypeScript (in ts-morph) only here: fxc build --watch reads imports; running a user's model does not need it.
  const { ts } = await import("ts-morph");
  const found = new Set<string>();
  const pending = [resolve(entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (found.has(file)) continue;
    found.add(file);
    const text = await readFile(file, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue;
      const target = moduleFileCandidates(resolve(dirname(file), spec)).find(isFile);
      if (target !== undefined && !target.includes("/node_modules/")) pending.push(target);
    }
  }
  return [...found];
}
