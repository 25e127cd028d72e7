import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "@fxc/runtime/internal/io/atomic";
import { errorCode } from "@fxc/runtime/internal/weights/types";
import { unifiedDiff } from "./diff.js";

/**
 * How `fxc compile` and `fxc build` treat the files they generate: written only when their
 * content changes (a watcher sees no event for a compile that changes nothing), and checked
 * (`--check`) against what would be written, with a diff and the command that writes it.
 */

/** What a check found: `current`, or a one-line verdict naming the fix, with the diff where there is one. */
export type CheckResult = { readonly current: true } | { readonly current: false; readonly problem: string; readonly diff?: string };

/** Compares `file` with `source`; `writeWith` is the command that writes it (`npx fxc compile ...`). */
export async function checkGenerated(file: string, source: string, writeWith: string): Promise<CheckResult> {
  const fix = `write it with: ${writeWith}`;
  const current = await readCurrent(file, fix);
  if (typeof current !== "string") return { current: false, problem: `${file} ${current.problem}` };
  if (current === source) return { current: true };
  const diff = unifiedDiff(current, source, { oldLabel: `${file} (on disk)`, newLabel: `${file} (as compiled now)` });
  return { current: false, problem: `${file} is out of date (the diff says what would change); ${fix}`, diff };
}

/** Writes `source` to `file` atomically unless the file already holds it; says which. */
export async function writeGenerated(file: string, source: string): Promise<"written" | "unchanged"> {
  const current = await readFile(file, "utf8").catch(() => undefined);
  if (current === source) return "unchanged";
  await writeFileAtomic(file, source);
  return "written";
}

/** The module on disk, or what keeps it from being read (missing, a folder, no permission...) and the fix. */
async function readCurrent(file: string, fix: string): Promise<string | { readonly problem: string }> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      const folder = dirname(file);
      const folderExists = await stat(folder).then((s) => s.isDirectory(), () => false);
      return { problem: `does not exist${folderExists ? "" : ` (nor does the folder ${folder})`}; ${fix}` };
    }
    if (code === "EISDIR") return { problem: `is a folder, not a module; move the folder away, then ${fix}` };
    if (code === "EACCES" || code === "EPERM") return { problem: "cannot be read (permission denied); make it readable, or check as its owner" };
    return { problem: `cannot be read (${code || String(error)}); check the file` };
  }
}
