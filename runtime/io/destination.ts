import { realpath, stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { OutputError } from "./atomic.js";

/** Where a run writes: checked against what it reads before any work is done. */
export interface Destination {
  /** Files the run creates, replaces or removes; those that exist are compared with the inputs. */
  readonly files: readonly string[];
  /** A folder the run writes into (npy features): it may be neither an input nor hold one. */
  readonly folder?: string;
}

/** What a run reads. */
export interface ReadPaths {
  /** The paths as given (checkpoint, input files and folders). */
  readonly given: readonly string[];
  /** Every file read, a folder's listed contents included; the files among `given` by default. */
  readonly files?: readonly string[];
}

/**
 * Refuses a destination that would replace an input: an output file that is an input file, or reaches
 * one through a symbolic or hard link (same device and inode), and an output folder that is or holds an
 * input given by path. Only existing outputs can be inputs, so a fresh destination costs one stat per path.
 */
export async function assertNotAnInput(destination: Destination, inputs: ReadPaths): Promise<void> {
  const outputs = new Map<string, string>();
  for (const file of destination.files) {
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) outputs.set(identity(info), file);
  }
  if (outputs.size > 0) {
    for (const input of inputs.files ?? inputs.given) {
      const info = await stat(input).catch(() => undefined);
      const output = info?.isFile() ? outputs.get(identity(info)) : undefined;
      if (output === undefined) continue;
      const how = resolve(output) === resolve(input) ? "" : " (the same file, through a link)";
      throw new OutputError(output, `is the input ${input}${how}; writing there would replace it`, "write the output to another path");
    }
  }
  if (destination.folder === undefined) return;
  const folder = await realpath(destination.folder).catch(() => undefined);
  if (folder === undefined) return; // a folder still to be made holds nothing
  for (const input of inputs.given) {
    const real = await realpath(input).catch(() => undefined);
    if (real === undefined) continue;
    if (real === folder) throw new OutputError(destination.folder, `is the input ${input}`, "write to a folder of its own");
    if (real.startsWith(folder.endsWith(sep) ? folder : folder + sep)) {
      throw new OutputError(destination.folder, `holds the input ${input}`, "write to a folder of its own, outside the inputs");
    }
  }
}

function identity(info: { readonly dev: number; readonly ino: number }): string {
  return `${info.dev}:${info.ino}`;
}
