import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { mkdir, rm, stat } from "node:fs/promises";
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

/** `npm pack` of this repository into `destination`; npm runs `prepare` (the build), so the tarball holds today's sources. */
export async function packFxc(destination: string): Promise<{ readonly tarball: string; readonly entry: PackEntry }> {
  const packed = succeeded("npm pack", await withPackLock(() => npm(["pack", "--json", "--pack-destination", destination], ROOT)));
  const [entry] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as PackEntry[];
  assert.ok(entry);
  return { tarball: join(destination, entry.filename), entry };
}
