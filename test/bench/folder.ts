/**
 * The folder task: photos through resnet50's preset to average-pooled layer4 descriptors, end to
 * end (process start to exit), `fxc extract` against the loop a torchvision user writes.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { failure, ROOT, runProcess } from "./child.js";

export const FOLDER_BATCH = 8;

export interface FxcFolderRun {
  /** From spawning the CLI to its exit. */
  readonly wallSeconds: number;
  /** The time the CLI reports for the images, after loading the extractor; NaN if it said none. */
  readonly imagesSeconds: number;
  /** The engine the CLI says it picked. */
  readonly engine: string;
  readonly maxRssMB: number;
}

/** The `fxc extract` arguments the folder task runs (besides --input and --out). */
export function extractArguments(weights: string, workers: number): string[] {
  const args = ["extract", "resnet50", "--return", "layer4", "--weights", weights, "--pool", "avg", "--batch", String(FOLDER_BATCH)];
  return workers > 1 ? [...args, "--workers", String(workers)] : args;
}

/** The CLI as npm installs it (package.json's bin): bench.ts builds dist/ first, so that it is the sources' own. */
export const BUILT_CLI = join(ROOT, "dist", "compiler", "cli", "main.js");

/** Builds dist/ from the sources (npm run build); a failure's reason in one line. */
export async function buildCli(): Promise<string | undefined> {
  const done = await runProcess(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build"]);
  return done.code === 0 ? undefined : failure(done);
}

/**
 * `fxc extract` as a user runs it (the installed CLI: dist/, plain JavaScript), with its default
 * engine. Not through tsx: transforming the sources at every start added about 1.3 s to each run.
 */
export async function fxcFolder(folder: string, weights: string, workers: number, out: string, scratch: string): Promise<FxcFolderRun | string> {
  const rssFile = join(scratch, "fxc-rss.txt");
  const preload = pathToFileURL(join(ROOT, "test/bench/rssAtExit.mjs")).href;
  const args = ["--import", preload, BUILT_CLI, ...extractArguments(weights, workers), "--input", folder, "--out", out];
  const done = await runProcess(process.execPath, args, { ...process.env, FXC_BENCH_RSS_FILE: rssFile });
  if (done.code !== 0) return failure(done);
  // `fxc: backend wasm` (or engine) and `fxc: wrote ... (64 images; 12.3 s, 5.2 images/s)`.
  const engine = /^fxc: (?:backend|engine) (.+)$/m.exec(done.stderr)?.[1] ?? "?";
  const seconds = /\(\d+ images(?:, \d+ skipped)?; ([\d.]+) s,/.exec(done.stderr)?.[1];
  return { wallSeconds: done.seconds, imagesSeconds: seconds === undefined ? Number.NaN : Number(seconds), engine, maxRssMB: Number(await readFile(rssFile, "utf8")) };
}
