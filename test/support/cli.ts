import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** tsx's loader by its full address, so that the CLI starts from source in any working folder. */
const TSX = import.meta.resolve("tsx");

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Runs the child as this user (needs root): permission checks do not apply to root. */
  readonly user?: { readonly uid: number; readonly gid: number };
}

/** A user that permissions apply to: ourselves, or nobody when the tests run as root. */
export function unprivilegedUser(): { readonly uid: number; readonly gid: number } | undefined {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
}

/** Starts the fxc CLI from source, as `npx fxc` runs its build, and gives the child process. */
export function spawnFxc(args: readonly string[], options: SpawnOptions = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--conditions=fxc-source", "--import", TSX, join(ROOT, "compiler/cli/main.ts"), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env, FXC_DEBUG: "" },
    ...options.user,
  });
}

/**
 * Runs the fxc CLI from source to its end. `closeStdout` closes the reading end of its stdout at
 * once, as `fxc models | head -1` does once head has its line.
 */
export function fxc(args: readonly string[], options: SpawnOptions & { closeStdout?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnFxc(args, options);
    let stdout = "";
    let stderr = "";
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface OneLineErrorOptions {
  /** The exit code it must be; by default any but 0. */
  readonly code?: number;
  /** Set `fxc: warning:` lines aside too. */
  readonly allowWarnings?: boolean;
  /** The line must begin with `fxc: `. */
  readonly prefixed?: boolean;
}

/** A failure is one line on stderr matching `pattern` (beside progress lines such as the backend picked) and a non-zero exit code. */
export function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp, options: OneLineErrorOptions = {}): void {
  if (options.code === undefined) assert.notEqual(r.code, 0, "exits non-zero");
  else assert.equal(r.code, options.code, r.stderr);
  const progress = options.allowWarnings ? /^fxc: (backend|wrote|warning:) / : /^fxc: (backend|wrote) /;
  // The line naming the engine that runs (engineLine in compiler/cli/commands/shared.ts), not an engine's failure.
  const engineUsed = /^fxc: engine (onnxruntime|tfjs, backend \w+( on .*)?)( in \d+ workers)?( \(not onnxruntime: .*\))?( \(not the GPU: .*\))?$/;
  const besides = { test: (line: string): boolean => progress.test(line) || engineUsed.test(line) };
  const lines = r.stderr
    .trim()
    .split("\n")
    .filter((l) => !besides.test(l));
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  if (options.prefixed) assert.match(lines[0]!, /^fxc: /);
  assert.match(lines[0]!, pattern);
}
