import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the fxc CLI from source, as `npx fxc` runs its build. `closeStdout` closes the reading end
 * of its stdout at once, as `fxc models | head -1` does once head has its line.
 */
export function fxc(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; closeStdout?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=fxc-source", "--import", "tsx", join(ROOT, "compiler/cli/main.ts"), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env, FXC_DEBUG: "" },
    });
    let stdout = "";
    let stderr = "";
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
