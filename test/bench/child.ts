import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** The repository's root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly seconds: number;
}

/** Runs a process to its end (in `cwd`, the repository by default), its output captured, and times it from spawn to exit. */
export function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd: string = ROOT): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

/** Node running TypeScript sources, as `npm run fxc` and `npm run bench` do. */
export const NODE_WITH_SOURCES: readonly string[] = [process.execPath, "--conditions=fxc-source", "--import", "tsx"];

/** The JSON a child printed on its last line of stdout. */
export function lastJson<T>(finished: Finished): T {
  return JSON.parse(finished.stdout.trim().split("\n").pop()!) as T;
}

/** A failed child's reason in one line: its last line of stderr. */
export function failure(finished: Finished): string {
  return `failed: ${finished.stderr.trim().split("\n").pop() || `exit ${finished.code}`}`;
}
