import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { errorCode, oneLine } from "../weights/types.js";
import { FxcError } from "../errors.js";

/**
 * An output path that cannot be written (a folder where a file is wanted, no permission, a read-only
 * file system...). The message is one line naming the caller's path, never a hidden temporary file.
 */
export class OutputError extends FxcError {
  override readonly name = "OutputError";

  constructor(
    readonly path: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(oneLine(`${path}: ${problem}; ${fix}`));
  }
}

/**
 * A file being written under a temporary name next to its final path. Nothing appears under the final
 * name until `commit()`, which makes the whole content appear at once (rename is atomic on one file system).
 */
export interface AtomicFile {
  /** The final path. */
  readonly path: string;
  /** Appends a chunk; a failing write removes the temporary file before rethrowing. */
  write(chunk: Uint8Array | string): Promise<void>;
  /** Flushes to disk and renames over the final path. */
  commit(): Promise<void>;
  /**
   * Flushes to disk and closes the temporary file without renaming it, so that many files can be
   * written first and renamed together at the end; `commit()` then only renames.
   */
  seal(): Promise<void>;
  /** Removes the temporary file; the final path is left as it was. Safe to call more than once. */
  abort(): Promise<void>;
}

/** Largest single write handed to the OS (Node rejects buffers above 2 GiB - 1 per call). */
const MAX_WRITE_CHUNK = 1 << 30;

/** Starts an atomic write of `path`, creating its parent directory if needed. */
export async function openAtomic(path: string): Promise<AtomicFile> {
  const finalPath = resolve(path);
  const directory = dirname(finalPath);
  const tempPath = tempPathNear(finalPath, "tmp");
  let handle: FileHandle;
  try {
    await mkdir(directory, { recursive: true });
    handle = await open(tempPath, "wx");
  } catch (error) {
    throw await writeFailure(path, error);
  }
  return new TempFile(path, finalPath, tempPath, handle);
}

/**
 * A hidden scratch name next to `path`: `.NAME.PID.RANDOM.SUFFIX`. pid + random keeps concurrent writers
 * (threads, processes) from colliding; suffixes ending in .tmp are git-ignored.
 */
export function tempPathNear(path: string, suffix: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.${suffix}`);
}

/** Writes `data` (one buffer, a string as UTF-8, or buffers in order) to `path` atomically. */
export async function writeFileAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  await withAtomicFile(path, async (file) => {
    if (typeof data === "string" || data instanceof Uint8Array) {
      await file.write(data);
    } else {
      for (const chunk of data) await file.write(chunk);
    }
  });
}

/** Runs `fill` against a fresh atomic file; commits if it resolves, aborts and rethrows if it throws. */
export async function withAtomicFile(path: string, fill: (file: AtomicFile) => Promise<void>): Promise<void> {
  const file = await openAtomic(path);
  try {
    await fill(file);
    await file.commit();
  } catch (error) {
    await file.abort();
    throw error;
  }
}

class TempFile implements AtomicFile {
  private state: "open" | "sealed" | "committed" | "aborted" = "open";

  constructor(
    readonly path: string,
    private readonly finalPath: string,
    private readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  async write(chunk: Uint8Array | string): Promise<void> {
    this.assertOpen("write to");
    try {
      if (typeof chunk === "string") chunk = new TextEncoder().encode(chunk);
      if (!(chunk instanceof Uint8Array)) throw new TypeError("AtomicFile.write takes a Uint8Array or a string");
      let done = 0;
      while (done < chunk.byteLength) {
        const want = Math.min(chunk.byteLength - done, MAX_WRITE_CHUNK);
        const { bytesWritten } = await this.handle.write(chunk, done, want);
        done += bytesWritten;
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async seal(): Promise<void> {
    this.assertOpen("seal");
    try {
      await this.handle.sync();
      await this.handle.close();
      this.state = "sealed";
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async commit(): Promise<void> {
    if (this.state === "open") await this.seal();
    this.assertOpen("commit", "sealed");
    try {
      await rename(this.tempPath, this.finalPath);
      this.state = "committed";
    } catch (error) {
      await this.abort();
      throw await writeFailure(this.path, error);
    }
    await syncDirectory(dirname(this.finalPath));
  }

  async abort(): Promise<void> {
    if (this.state !== "open" && this.state !== "sealed") return;
    const wasOpen = this.state === "open";
    this.state = "aborted";
    if (wasOpen) await this.handle.close().catch(() => undefined); // may already be closed by a failed seal
    await unlink(this.tempPath).catch(() => undefined); // may already be gone; nothing more to clean
  }

  private assertOpen(action: string, allowed: "open" | "sealed" = "open"): void {
    if (this.state !== allowed)
      throw new Error(`cannot ${action} ${this.path}: the atomic write was already ${this.state}`);
  }
}

/** Makes the rename itself durable; some platforms cannot fsync a directory, which only weakens durability. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch {
    // Not supported here (e.g. Windows); the data itself was already synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Checks, before any work is done, that `path` can be written as a file (`kind: "file"`, created or
 * replaced by rename) or written into as a folder (`kind: "folder"`, created if missing): the one-line
 * OutputError names the caller's path and what is in the way, instead of an errno about a temporary file
 * after all the compute.
 */
export async function assertWritable(path: string, kind: "file" | "folder"): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing !== undefined) {
    if (kind === "file" && existing.isDirectory()) throw new OutputError(path, "is a folder, not a file", "give the path of a file to write");
    if (kind === "file" && !existing.isFile()) throw new OutputError(path, "is not a regular file", "give the path of a file to write");
    if (kind === "folder" && !existing.isDirectory()) throw new OutputError(path, "is a file, not a folder", "give a folder to write into, or remove the file");
  }
  // The folder itself, or the one that receives the file, else the nearest existing ancestor that mkdir would write in.
  const folder = await nearestExisting(kind === "folder" ? path : dirname(resolve(path)));
  if (folder.file) throw notUnderAFolder(path, folder.path);
  try {
    await access(folder.path, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw await writeFailure(path, error);
  }
}

/** The nearest existing path at or above `path`, and whether it is a file rather than a folder. */
async function nearestExisting(path: string): Promise<{ readonly path: string; readonly file: boolean }> {
  let current = resolve(path);
  for (;;) {
    const info = await stat(current).catch((error: unknown) => (errorCode(error) === "ENOENT" ? undefined : Promise.reject(error)));
    if (info !== undefined) return { path: current, file: !info.isDirectory() };
    const parent = dirname(current);
    if (parent === current) return { path: current, file: false };
    current = parent;
  }
}

function notUnderAFolder(path: string, file: string): OutputError {
  return new OutputError(path, `cannot be written: ${file} is a file, not a folder`, "give a path under a folder");
}

/** A one-line OutputError for a failed write of `path` (making its folder, its temporary file, its rename), by errno. */
async function writeFailure(path: string, error: unknown): Promise<Error> {
  const code = errorCode(error);
  const folder = await nearestExisting(dirname(resolve(path))).catch(() => ({ path: dirname(resolve(path)), file: false }));
  if (folder.file) return notUnderAFolder(path, folder.path);
  switch (code) {
    case "EACCES":
    case "EPERM":
      return new OutputError(path, `cannot be written: no permission to write in ${folder.path}`, "choose a folder you can write to, or change its permissions");
    case "EROFS":
      return new OutputError(path, `cannot be written: ${folder.path} is on a read-only file system`, "choose a folder on a writable disk");
    case "ENOSPC":
    case "EDQUOT":
      return new OutputError(path, `cannot be written: no space left on the disk of ${folder.path}`, "free some space or choose another disk");
    case "EISDIR":
    case "ENOTEMPTY":
    case "EEXIST":
      if ((await stat(path).catch(() => undefined))?.isDirectory()) return new OutputError(path, "is a folder, not a file", "give the path of a file to write");
      break;
  }
  return error instanceof Error ? error : new Error(String(error));
}
