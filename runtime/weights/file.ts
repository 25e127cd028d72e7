import type { FileHandle } from "node:fs/promises";
import { NotARegularFileError, openRegularFile, readRange } from "../io/regularFile.js";
import { WeightsError } from "./types.js";

/** Positional reads from one open file; several reads may be in flight at once. */
export class RandomAccessFile {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  /**
   * Opens `path` for reading; anything but a regular file (missing, a directory, a FIFO, a device such
   * as /dev/zero) becomes a one-line WeightsError without blocking or reading.
   */
  static async open(path: string): Promise<RandomAccessFile> {
    try {
      const { handle, size } = await openRegularFile(path, "weights file");
      return new RandomAccessFile(path, handle, size);
    } catch (error) {
      if (error instanceof NotARegularFileError) throw new WeightsError(error.path, error.problem, error.fix);
      throw error;
    }
  }

  /**
   * Reads exactly `length` bytes at `position` into a fresh buffer (offset 0, so any typed view of it is
   * aligned). Reading past the end is an error naming the file as truncated.
   */
  async read(position: number, length: number): Promise<Uint8Array> {
    if (this.closed) {
      throw new WeightsError(this.path, "was already closed", "open the weights file again before reading from it");
    }
    if (position < 0 || length < 0 || position + length > this.size) {
      throw new WeightsError(
        this.path,
        `is truncated or corrupt: needs bytes ${position}..${position + length} but has ${this.size}`,
        "download or save the file again",
      );
    }
    return readRange(
      this.handle,
      position,
      length,
      () => new WeightsError(this.path, "ended early while reading (was it modified?)", "save the file again"),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/**
 * Opens `path` and hands the open file to `read`, which returns something that keeps using it (a
 * TensorSource that closes it later); if `read` throws, the file is closed before the error goes on.
 */
export async function readOpenFile<T>(path: string, read: (file: RandomAccessFile) => Promise<T>): Promise<T> {
  const file = await RandomAccessFile.open(path);
  try {
    return await read(file);
  } catch (error) {
    await file.close();
    throw error;
  }
}
