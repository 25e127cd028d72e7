import { readdir, realpath, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { errorCode } from "../weights/types.js";
import { ImageError, systemErrorReason, type ImageFailure } from "./decode.js";

/** File extensions read when walking a folder (compared case-insensitively); other files are ignored. */
export const IMAGE_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff"];

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

export interface ListImagesOptions {
  /**
   * Called for each input or subfolder that cannot be read (no permission, say); the listing goes
   * on without it. Without this, the first one fails the listing. A path that does not exist is
   * always an error: it is a mistake in the inputs, not a bad file among them.
   */
  readonly onUnreadable?: (failure: ImageFailure) => void;
}

/**
 * The image files named by `inputs`, in order: a file stands for itself (whatever its extension);
 * a folder for the image files under it, recursively, sorted by path (code-unit order, the same on
 * every machine). Entries whose names start with a dot are skipped, and so are symbolic links
 * back into a folder already being walked. Every failure is an `ImageError`.
 */
export async function listImages(inputs: string | readonly string[], options: ListImagesOptions = {}): Promise<string[]> {
  const out: string[] = [];
  let firstFailure: ImageError | undefined;
  const unreadable = (path: string, error: unknown): void => {
    const failure = new ImageError(path, `cannot be read (${systemErrorReason(error)})`, "check its permissions, or skip unreadable folders and images (--skip-bad)");
    if (options.onUnreadable === undefined) throw failure;
    firstFailure ??= failure;
    options.onUnreadable({ path, error: failure });
  };
  for (const input of typeof inputs === "string" ? [inputs] : inputs) {
    let info;
    try {
      info = await stat(input);
    } catch (error) {
      if (errorCode(error) === "ENOENT") throw new ImageError(input, "no such file or folder", "check the path");
      unreadable(input, error);
      continue;
    }
    if (!info.isDirectory()) {
      out.push(input);
      continue;
    }
    const found: string[] = [];
    const failuresBefore = firstFailure;
    const root = await realpath(input).catch((error: unknown) => void unreadable(input, error));
    if (root === undefined) continue;
    await walk(input, new Set([root]), found, unreadable);
    if (found.length === 0 && failuresBefore === firstFailure) {
      throw new ImageError(input, "holds no images", `fxc reads ${IMAGE_EXTENSIONS.join(", ")} files, in subfolders too`);
    }
    out.push(...found.sort(byCodeUnits));
  }
  if (out.length === 0 && firstFailure !== undefined) {
    throw new ImageError(firstFailure.file, `${firstFailure.problem}, and no other image could be listed`, "check the inputs and their permissions");
  }
  return out;
}

async function walk(folder: string, seen: Set<string>, out: string[], unreadable: (path: string, error: unknown) => void): Promise<void> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    unreadable(folder, error);
    return;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(folder, entry.name);
    let isDirectory = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      if (target === undefined) continue; // a dangling link
      isDirectory = target.isDirectory();
    }
    if (isDirectory) {
      let real;
      try {
        real = await realpath(path);
      } catch (error) {
        unreadable(path, error);
        continue;
      }
      if (seen.has(real)) continue;
      seen.add(real);
      await walk(path, seen, out, unreadable);
      seen.delete(real);
    } else if (isImagePath(entry.name)) {
      // Special files (FIFOs, devices) are listed too, and refused as bad images when read.
      out.push(path);
    }
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
