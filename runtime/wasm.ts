import { existsSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { tf } from "./ops/tf.js";

/**
 * Where tfjs's WebAssembly backend finds its binaries. Unbundled, tfjs-backend-wasm finds them
 * next to its own code; in a bundle its code moves and they do not, so fxc looks for them itself,
 * without `__dirname` or `require`: the folder of the code that runs (`import.meta.url`: the
 * bundle's, when a bundler copied them next to it), then the installed package, unless the user
 * says where they are (`wasmPaths`).
 */

/** tfjs-backend-wasm's binaries; tfjs picks one by what the platform supports (SIMD, threads). */
export const WASM_FILES = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"] as const;
export type WasmFile = (typeof WASM_FILES)[number];

/**
 * Where the wasm backend's binaries are: a folder holding all three (a path or `file:` URL in
 * Node; a URL such as `/assets/` or `https://cdn.example/tfjs/` in a browser), or each file's URL
 * (what a bundler's asset import gives, e.g. Vite's `?url`).
 */
export type WasmPaths = string | Readonly<Record<WasmFile, string>>;

const PACKAGE = "@tensorflow/tfjs-backend-wasm";
const FIX = `copy node_modules/${PACKAGE}/dist/*.wasm next to your bundle, or say where they are with the wasmPaths option (load(weights, { wasmPaths }))`;

/** What tfjs-backend-wasm's setWasmPaths takes, or why the binaries cannot be found. */
export type WasmLocation = { readonly paths: WasmPaths } | { readonly why: string };

function inNode(): boolean {
  return typeof process === "object" && typeof process.versions?.node === "string";
}

/** A path for a folder or file given as a path or a `file:` URL. */
function localPath(pathOrUrl: string): string {
  return pathOrUrl.startsWith("file:") ? fileURLToPath(pathOrUrl) : pathOrUrl;
}

function missingIn(folder: string): WasmFile[] {
  return WASM_FILES.filter((file) => !existsSync(join(folder, file)));
}

/** The installed package's folder of binaries, as Node resolves it from this code (or the bundle it is in); undefined when it is not installed there. */
function installedFolder(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.resolve(PACKAGE)));
  } catch {
    return undefined;
  }
}

/**
 * Finds the binaries: `given` when the user said where they are (checked in Node), else the folder
 * of `moduleUrl` (this code, or the bundle it was bundled into), else (in Node) the installed
 * package. In a browser nothing can be checked before tfjs fetches them: the default is the
 * folder of the bundle.
 */
export function locateWasmFiles(given: WasmPaths | undefined, moduleUrl: string = import.meta.url, node: boolean = inNode()): WasmLocation {
  if (given !== undefined && !node) return { paths: typeof given === "string" && !given.endsWith("/") ? `${given}/` : given };
  if (typeof given === "string") {
    const folder = localPath(given);
    const missing = missingIn(folder);
    if (missing.length > 0) return { why: `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not in ${folder} (the wasmPaths option); copy node_modules/${PACKAGE}/dist/*.wasm there` };
    return { paths: folder.endsWith(sep) ? folder : `${folder}${sep}` };
  }
  if (given !== undefined) {
    const unknown = Object.keys(given).filter((key) => !(WASM_FILES as readonly string[]).includes(key));
    const missing = WASM_FILES.filter((file) => typeof given[file] !== "string" || !existsSync(localPath(given[file])));
    if (unknown.length > 0 || missing.length > 0) {
      return { why: `the wasmPaths option must map each of ${WASM_FILES.join(", ")} to an existing file (${[...unknown.map((k) => `unknown key ${k}`), ...missing.map((f) => `${f} missing`)].join(", ")})` };
    }
    return { paths: Object.fromEntries(WASM_FILES.map((file) => [file, localPath(given[file])])) as Record<WasmFile, string> };
  }
  if (!node) return { paths: new URL(".", moduleUrl).href };
  const besideCode = typeof moduleUrl === "string" && moduleUrl.startsWith("file:") ? dirname(fileURLToPath(moduleUrl)) : undefined;
  const installed = installedFolder();
  for (const folder of [besideCode, installed]) {
    if (folder !== undefined && missingIn(folder).length === 0) return { paths: `${folder}${sep}` };
  }
  const looked = besideCode === undefined ? "" : ` (looked in ${besideCode}${installed === undefined ? "" : ` and ${installed}`})`;
  return { why: `its binaries (${WASM_FILES.join(", ")}) are neither next to this code nor in an installed ${PACKAGE}${looked}; ${FIX}` };
}

/**
 * The fix after a wasm backend's initialization failure, where it is known: tfjs-backend-wasm's
 * Node code calls `require` and reads `__dirname`, which an ES module bundle lacks unless its
 * banner defines them.
 */
export function wasmFailureFix(message: string): string {
  return /\b(__dirname|__filename|require) is not defined|Dynamic require of/.test(message)
    ? "; an ES module bundle must define require and __dirname for tfjs's CommonJS code (the esbuild banner in fxc's docs/bundlers.md)"
    : "";
}

/**
 * Registers tfjs's WebAssembly backend and, until it has started, tells it where its binaries
 * are; returns why it cannot start, or undefined when it can be initialized.
 */
export async function registerWasm(wasmPaths: WasmPaths | undefined): Promise<string | undefined> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (tf.findBackendFactory("wasm") === null) return `the wasm backend did not register (${PACKAGE} registered it with another copy of @tensorflow/tfjs-core; install versions that match fxc's, ${tf.version_core})`;
  // Started already: its binaries were found.
  if ("wasm" in tf.engine().registry) return undefined;
  const located = locateWasmFiles(wasmPaths);
  if ("why" in located) return located.why;
  try {
    wasm.setWasmPaths(located.paths);
  } catch (e) {
    // tfjs refuses new paths after its binaries failed to load once in this process.
    return e instanceof Error ? e.message : String(e);
  }
  return undefined;
}
