import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { lstat, mkdir, readFile, realpath, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { writeFileAtomic } from "@fxc/runtime/internal/io/atomic";
import { createExtractorPool } from "@fxc/runtime";
import { OptionsError } from "../pipeline.js";
import { compileProgram } from "../api.js";
import { checkTensorOutputs, interpretExtractor, requestExtractorOptions, requestLoadOptions, type ExtractorLoader } from "../tasks/loader.js";
import { FxcError } from "@fxc/runtime/internal/errors";
import { RUNTIME_PACKAGE } from "../version.js";

/**
 * A compile cache fxc will not run code from: one that another account could write into. Says
 * which folder and how to make it private, or where else to point `FXC_CACHE_DIR`.
 */
export class CacheError extends FxcError {
  override readonly name = "CacheError";
}

/**
 * Compiled modules that `fxc extract` runs: the exact source `fxc compile` writes, made
 * runnable by stripping its types and pointing its runtime import at this process's runtime
 * (so that both share one tfjs and one backend).
 */
export async function importCompiled<M>(source: string): Promise<M> {
  return (await import(await cacheCompiled(source))) as M;
}

/** The runnable (JavaScript) form of a compiled module, as the cache holds it. */
export async function runnableSource(source: string): Promise<string> {
  // The cache folder has no node_modules: each runtime import statement's specifier is resolved as this compiler resolves it (doc comments are left as written).
  const runtimeImport = new RegExp(`^((?:import|export)\\b[^;]*?\\bfrom )"(${RUNTIME_PACKAGE}(?:/[\\w/]+)?)"`, "gm");
  // TypeScript (in ts-morph) is loaded only here, where a module is made runnable: commands that interpret programs never load it.
  const { ts } = await import("ts-morph");
  return ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } })
    .outputText.replace(runtimeImport, (_, statement: string, specifier: string) => `${statement}${JSON.stringify(import.meta.resolve(specifier))}`);
}

/**
 * The cache folder: `$FXC_CACHE_DIR`, else `$XDG_CACHE_HOME/fxc`, else `~/.cache/fxc`: a folder
 * of this user's, never a shared one under the system's temp folder.
 */
export function cacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FXC_CACHE_DIR) return resolve(env.FXC_CACHE_DIR);
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "fxc");
}

/**
 * Writes the runnable form of a compiled module into the cache; returns its URL. The file is
 * named by the hash of its content, and a file already there is imported only if its bytes are
 * the ones just compiled: anything else (a planted or damaged file) is replaced first.
 */
export async function cacheCompiled(source: string, onWarning?: (message: string) => void): Promise<string> {
  const js = await runnableSource(source);
  const file = cacheFile(js, await privateDirectory(cacheDirectory()));
  // Only a regular file of this user's holding exactly these bytes is run; anything else there (a link, another user's file, other bytes) is replaced.
  const info = await lstat(file).catch(() => undefined);
  const trusted = info !== undefined && info.isFile() && ownedByMe(info) && Buffer.from(js).equals(await readFile(file).catch(() => Buffer.alloc(0)));
  if (!trusted) {
    if (info !== undefined) onWarning?.(`replaced ${file}: its content was not the module compiled for this request`);
    await writeFileAtomic(file, js);
  }
  return pathToFileURL(file).href;
}

/** Where the cache keeps a runnable module: named by the hash of its content. */
export function cacheFile(js: string, dir = cacheDirectory()): string {
  return join(dir, `${createHash("sha256").update(js).digest("hex").slice(0, 24)}.mjs`);
}

const uid = process.getuid?.();
const gid = process.getgid?.();

function ownedByMe(info: Stats): boolean {
  return uid === undefined || info.uid === uid;
}

/**
 * Creates `dir` private to this user (0700), or checks an existing one: it and the folders above it
 * must be this user's or root's; the cache may be written by this user only, and the folders
 * above it by no other account unless sticky (as /tmp is), so that none can put files in it or
 * swap it for its own. Not checked where there are no
 * POSIX owners (Windows).
 */
async function privateDirectory(dir: string): Promise<string> {
  const fix = "make it private (chmod 700, owned by you) or set FXC_CACHE_DIR to a folder of your own";
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CacheError(`cannot create the compile cache ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); set FXC_CACHE_DIR to a folder you can write`);
  }
  if (uid === undefined) return dir;
  const real = await realpath(dir);
  const info = await stat(real);
  if (!info.isDirectory()) throw new CacheError(`the compile cache ${dir} is not a folder; set FXC_CACHE_DIR to a folder of your own`);
  if (info.uid !== uid) throw new CacheError(`the compile cache ${dir} belongs to another user (uid ${info.uid}), so fxc will not run code from it; ${fix}`);
  if ((info.mode & 0o022) !== 0) throw new CacheError(`the compile cache ${dir} is writable by others (mode ${modeText(info)}), so fxc will not run code from it; ${fix}`);
  for (let above = dirname(real); ; above = dirname(above)) {
    const a = await stat(above);
    if (a.uid !== uid && a.uid !== 0) throw new CacheError(`the compile cache ${dir} lies in ${above}, which belongs to another user (uid ${a.uid}); set FXC_CACHE_DIR to a folder of your own`);
    // Group-writable is fine for this user's own group (the user-private groups of most distributions, umask 002).
    const othersWrite = (a.mode & 0o002) !== 0 || ((a.mode & 0o020) !== 0 && a.gid !== gid);
    if (othersWrite && (a.mode & 0o1000) === 0) {
      throw new CacheError(`the compile cache ${dir} lies in ${above}, which others can write (mode ${modeText(a)}) and so swap the cache for their own; set FXC_CACHE_DIR to a folder of your own`);
    }
    if (dirname(above) === above) return dir;
  }
}

function modeText(info: Stats): string {
  return (info.mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * The CLI's extractors. In this thread, the program interpreted, as createFeatureExtractor runs it:
 * the same kernel calls and disposal points as the module `fxc compile` writes, without writing,
 * formatting, transpiling and importing that module (which loads TypeScript and prettier: 1 s and
 * 150 MB of start-up). With `workers` above 1, that module, cached, loaded by a pool of worker
 * threads: a worker imports its program by URL.
 */
export const cliExtractorLoader: ExtractorLoader = (r) => ((r.workers ?? 1) > 1 ? loadCompiledPool(r) : interpretExtractor(r));

/** A pool of `r.workers` worker threads, each running the module `fxc compile` writes for the request. */
export const loadCompiledPool: ExtractorLoader = async (r) => {
  const { source, program } = await compileProgram(r.model, requestExtractorOptions(r));
  checkTensorOutputs(program.outputs);
  if (typeof r.weights !== "string") throw new OptionsError("worker threads read the weights themselves: give a checkpoint path");
  const pool = await createExtractorPool(await cacheCompiled(source, r.onWarning), r.weights, { ...requestLoadOptions(r), workers: r.workers });
  return { extractor: pool, outputs: program.outputs, layout: r.layout };
};
