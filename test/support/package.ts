import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { failure, ROOT, runProcess, type Finished } from "../bench/child.js";

/**
 * What a consumer of the packed package runs: `npm pack` of this repository, npm installs into a
 * fresh app, its tools. Shared by the tests that install fxc as an app does (package-install,
 * bundlers).
 *
 * The children get none of this process's npm_* variables or ONNXRUNTIME_NODE_INSTALL: under
 * `npm test` they carry this repository's .npmrc (which skips onnxruntime-node's CUDA download),
 * and a consumer has no such file.
 */
export const CONSUMER_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|ONNXRUNTIME_NODE_INSTALL|NODE_TEST_CONTEXT$)/i.test(name)),
);
export const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
/** npm's flags for every install: the cache first, no audit or funding requests. */
export const INSTALL_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund"];

/** What a `npm pack --json` entry says about the tarball. */
export interface PackEntry {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}

/** `finished`, after asserting that it exited 0 (else its output is the failure's message). */
export function succeeded(what: string, finished: Finished): Finished {
  assert.equal(finished.code, 0, `${what} ${failure(finished)}\n${finished.stdout}\n${finished.stderr}`);
  return finished;
}

export function npm(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = CONSUMER_ENV): Promise<Finished> {
  return runProcess("npm", args, env, cwd);
}

/** True when the registry answers; else skips the test (fails it under CI=true, where the install must be tested). */
export async function registryReachable(t: TestContext, cwd: string): Promise<boolean> {
  const ping = await npm(["ping", "--fetch-timeout=15000", "--fetch-retries=0"], cwd);
  if (ping.code === 0) return true;
  const why = `the npm registry cannot be reached (npm ping ${failure(ping)})`;
  if (process.env["CI"] === "true") assert.fail(`${why}; CI installs the packed tarball from it: give this machine the registry`);
  t.skip(`${why}; the packed install is not tested`);
  return false;
}

/** Held while a test packs: `npm pack` rebuilds dist/, and two builds at once (test files run in parallel) would pack each other's half-written files. */
const PACK_LOCK = join(ROOT, "node_modules", ".cache", "fxc-pack.lock");
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 10 * 60_000;

async function withPackLock<T>(body: () => Promise<T>): Promise<T> {
  await mkdir(dirname(PACK_LOCK), { recursive: true });
  for (;;) {
    try {
      await mkdir(PACK_LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const since = await stat(PACK_LOCK).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (since > STALE_LOCK_MS) await rm(PACK_LOCK, { recursive: true, force: true });
      else await delay(500);
    }
  }
  try {
    return await body();
  } finally {
    await rm(PACK_LOCK, { recursive: true, force: true });
  }
}

/** A packed tarball and what npm says of it. */
export interface Packed {
  readonly tarball: string;
  readonly entry: PackEntry;
}

/** Both packages of this repository: `fxc` (compiler, CLI, models) and `@fxc/runtime` (what generated modules import). */
export interface PackedPackages {
  readonly fxc: Packed;
  readonly runtime: Packed;
}

function packedEntry(what: string, finished: Finished, destination: string): Packed {
  succeeded(what, finished);
  const [entry] = JSON.parse(finished.stdout.slice(finished.stdout.indexOf("["))) as PackEntry[];
  assert.ok(entry);
  return { tarball: join(destination, entry.filename), entry };
}

/**
 * `npm pack` of both packages into `destination`. npm runs fxc's `prepare` (the build of both), so
 * the tarballs hold today's sources; the runtime is packed right after, from that build.
 */
export async function packPackages(destination: string): Promise<PackedPackages> {
  return withPackLock(async () => {
    const fxc = packedEntry("npm pack", await npm(["pack", "--json", "--pack-destination", destination], ROOT), destination);
    const runtime = packedEntry("npm pack -w @fxc/runtime", await npm(["pack", "--json", "--ignore-scripts", "--workspace", "@fxc/runtime", "--pack-destination", destination], ROOT), destination);
    return { fxc, runtime };
  });
}

/** The files docs/bundlers.md's recipes consist of: each fenced block whose first line names a file (`// esbuild.node.mjs: ...`, `<!-- index.html -->`). */
export function recipeFiles(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const [, body] of markdown.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)) {
    const name = /^(?:\/\/|<!--) ([\w./-]+\.\w+)(?::| -->|\n)/.exec(body!)?.[1];
    if (name !== undefined) files.set(name, body!);
  }
  return files;
}

/** The version of a package installed in this repository (the app installs the same from npm's cache). */
export function versionOf(pkg: string): Promise<string> {
  return readFile(join(ROOT, "node_modules", pkg, "package.json"), "utf8").then((text) => (JSON.parse(text) as { version: string }).version);
}
