import { randomBytes } from "node:crypto";
import { mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

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
  /** Removes the temporary file; the final path is left as it was. Safe to call more than once. */
  abort(): Promise<void>;
}

/** Largest single write handed to the OS (Node rejects buffers above 2 GiB - 1 per call). */
const MAX_WRITE_CHUNK = 1 << 30;

/** Starts an atomic write of `path`, creating its parent directory if needed. */
export async function openAtomic(path: string): Promise<AtomicFile> {
  const finalPath = resolve(path);
  const directory = dirname(finalPath);
  await mkdir(directory, { recursive: true });
  const tempPath = tempPathNear(finalPath, "tmp");
  const handle = await open(tempPath, "wx");
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
  private state: "open" | "committed" | "aborted" = "open";

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

  async commit(): Promise<void> {
    this.assertOpen("commit");
    try {
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tempPath, this.finalPath);
      this.state = "committed";
    } catch (error) {
      await this.abort();
      throw error;
    }
    await syncDirectory(dirname(this.finalPath));
  }

  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    await this.handle.close().catch(() => undefined); // may already be closed by a failed commit
    await unlink(this.tempPath).catch(() => undefined); // may already be gone; nothing more to clean
  }

  private assertOpen(action: string): void {
    if (this.state !== "open")
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
