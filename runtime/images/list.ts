import { readdir, realpath, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { ImageError } from "./decode.js";

/** File extensions read when walking a folder (compared case-insensitively); other files are ignored. */
export const IMAGE_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff"];

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/**
 * The image files named by `inputs`, in order: a file stands for itself (whatever its extension);
 * a folder for the image files under it, recursively, sorted by path (code-unit order, the same on
 * every machine). Entries whose names start with a dot are skipped, and so are symbolic links
 * back into a folder already being walked.
 */
export async function listImages(inputs: string | readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of typeof inputs === "string" ? [inputs] : inputs) {
    let info;
    try {
      info = await stat(input);
    } catch {
      throw new ImageError(input, "no such file or folder", "check the path");
    }
    if (!info.isDirectory()) {
      out.push(input);
      continue;
    }
    const found: string[] = [];
    await walk(input, new Set([await realpath(input)]), found);
    if (found.length === 0) {
      throw new ImageError(input, "holds no images", `fxc reads ${IMAGE_EXTENSIONS.join(", ")} files, in subfolders too`);
    }
    out.push(...found.sort(byCodeUnits));
  }
  return out;
}

async function walk(folder: string, seen: Set<string>, out: string[]): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true });
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
      const real = await realpath(path);
      if (seen.has(real)) continue;
      seen.add(real);
      await walk(path, seen, out);
      seen.delete(real);
    } else if (isImagePath(entry.name)) {
      out.push(path);
    }
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
