import { RandomAccessFile } from "./file.js";
import { openPth } from "./pth.js";
import { openSafetensors } from "./safetensors.js";
import { missingKey, WeightsError, type TensorInfo, type TensorSource } from "./types.js";

export interface OpenWeightsOptions {
  /**
   * Only keys starting with this exact string (e.g. `backbone.body.`, trailing dot included) are shown,
   * with the prefix removed.
   */
  prefix?: string;
}

const ACCEPTED = "fxc reads torch.save checkpoints (.pth/.pt, zip or legacy format) and .safetensors files";

/** Opens a weights file, choosing the reader by the file's first bytes rather than its extension. */
export async function openWeights(path: string, options: OpenWeightsOptions = {}): Promise<TensorSource> {
  const format = await detectFormat(path);
  const source = format === "safetensors" ? await openSafetensors(path) : await openPth(path);
  const prefix = options.prefix ?? "";
  if (prefix === "") return source;
  try {
    return withPrefix(source, prefix);
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** Sniffs the magic bytes: zip (torch >= 1.6), a pickle (legacy torch), or a safetensors length + '{'. */
export async function detectFormat(path: string): Promise<"safetensors" | "pth"> {
  const file = await RandomAccessFile.open(path);
  try {
    const head = await file.read(0, Math.min(file.size, 9));
    if (head.byteLength >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
      return "pth";
    }
    // Checked before the pickle test: a header length like 0x280 also starts with byte 0x80.
    if (head.byteLength === 9 && head[8] === 0x7b /* { */) {
      const headerLength = new DataView(head.buffer).getBigUint64(0, true);
      if (headerLength >= 2n && headerLength <= BigInt(file.size - 8)) return "safetensors";
    }
    if (head.byteLength >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return "pth";
    throw new WeightsError(path, file.size === 0 ? "is empty" : "is not in a weights format fxc knows", ACCEPTED);
  } finally {
    await file.close();
  }
}

/** A view of `source` holding only the keys under `prefix`, with the prefix stripped. */
export function withPrefix(source: TensorSource, prefix: string): TensorSource {
  const keys = source.keys().filter((key) => key.startsWith(prefix) && key.length > prefix.length);
  if (keys.length === 0) {
    const existing = [
      ...new Set(
        source
          .keys()
          .map(leadingComponents)
          .filter((p) => p !== ""),
      ),
    ];
    const shown = existing
      .slice(0, 5)
      .map((p) => `'${p}'`)
      .join(", ");
    throw new WeightsError(
      source.path,
      `no tensor key starts with '${prefix}'`,
      existing.length === 0
        ? "the file's keys have no dotted prefixes; omit the prefix"
        : `use one of the prefixes that exist, such as ${shown}`,
    );
  }
  const stripped = keys.map((key) => key.slice(prefix.length));
  const present = new Set(stripped);
  const inner = (key: string): string | undefined => (present.has(key) ? prefix + key : undefined);
  return {
    path: source.path,
    format: source.format,
    keys: () => [...stripped],
    info(key: string): TensorInfo | undefined {
      const full = inner(key);
      const info = full === undefined ? undefined : source.info(full);
      return info === undefined ? undefined : { ...info, key };
    },
    async readFloat32(key: string): Promise<Float32Array> {
      const full = inner(key);
      if (full === undefined) throw missingKey(source.path, key, stripped);
      return source.readFloat32(full);
    },
    close: () => source.close(),
  };
}

/** Up to two leading dotted components, never the final one (the parameter name): `backbone.body.`. */
function leadingComponents(key: string): string {
  const parts = key.split(".");
  const count = Math.min(2, parts.length - 1);
  return count <= 0 ? "" : `${parts.slice(0, count).join(".")}.`;
}
