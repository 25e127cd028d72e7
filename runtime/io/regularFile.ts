import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { errorCode } from "../weights/types.js";
import { FxcError } from "../errors.js";

/**
 * A path that is not a readable regular file. Readers turn it into their own one-line error class
 * (WeightsError, NpyError) with the same problem and fix.
 */
export class NotARegularFileError extends FxcError {
  override readonly name = "NotARegularFileError";
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${path}: ${problem}; ${fix}`);
  }
}

export interface RegularFile {
  readonly handle: FileHandle;
  /** The size when it was opened; readers never read past it, so a growing file cannot make them grow. */
  readonly size: number;
}

/**
 * Opens `path` for reading and stats the opened file itself (whatever links led to it). O_NONBLOCK
 * makes opening a FIFO return at once instead of waiting for a writer forever. What is not a regular
 * file is the caller's to refuse, in its own words; the handle is closed if `check` throws.
 */
export async function openChecked<T>(path: string, check: (stats: Stats) => T): Promise<{ readonly handle: FileHandle; readonly checked: T }> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    return { handle, checked: check(await handle.stat()) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** "a FIFO (named pipe)", "a character device"...: what a file that is not regular is. */
export function specialFileKind(stats: Stats): string {
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "a special file";
}

/**
 * Opens `path` for reading if it is (or links to) a regular file: a FIFO, or a character device such
 * as /dev/zero (endless data), is refused. `noun` names the file in messages ("weights file", ".npy file").
 */
export async function openRegularFile(path: string, noun: string): Promise<RegularFile> {
  try {
    const { handle, checked: size } = await openChecked(path, (stats) => {
      if (stats.isDirectory()) throw new NotARegularFileError(path, `is a directory, not a ${noun}`, "pass the path of a file");
      if (!stats.isFile()) throw new NotARegularFileError(path, `is ${specialFileKind(stats)}, not a regular file`, `pass the path of a ${noun} on disk`);
      return stats.size;
    });
    return { handle, size };
  } catch (error) {
    throw error instanceof NotARegularFileError ? error : openProblem(path, noun, error);
  }
}

function openProblem(path: string, noun: string, error: unknown): NotARegularFileError {
  const code = errorCode(error);
  if (code === "ENOENT") return new NotARegularFileError(path, `${noun} not found`, "check the path");
  if (code === "EISDIR") return new NotARegularFileError(path, `is a directory, not a ${noun}`, "pass the path of a file");
  if (code === "EACCES" || code === "EPERM") {
    return new NotARegularFileError(path, "cannot be read (permission denied)", "check the file's permissions");
  }
  if (code === "ELOOP") return new NotARegularFileError(path, "is a symbolic link loop", "pass the path of a file");
  const detail = error instanceof Error ? error.message : String(error);
  return new NotARegularFileError(path, `cannot be opened (${detail})`, "check the path and the file");
}

/** Node rejects single reads above 2 GiB - 1, so large ranges are read in pieces. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * Reads exactly `length` bytes at `position` into a fresh buffer (offset 0, so any typed view of it is
 * aligned). A file that ends before (shrunk since it was opened) throws what `endedEarly` makes.
 */
export async function readRange(handle: FileHandle, position: number, length: number, endedEarly: () => Error): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, Math.min(length - done, MAX_READ_CHUNK), position + done);
    if (bytesRead === 0) throw endedEarly();
    done += bytesRead;
  }
  return out;
}
