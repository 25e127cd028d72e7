import { RandomAccessFile, readOpenFile } from "./file.js";
import { readPth } from "./pth.js";
import { MAX_HEADER_BYTES, readSafetensors } from "./safetensors.js";
import { keyView } from "./rename.js";
import { weightsLimits, type WeightsLimits } from "./limits.js";
import { WeightsError, type TensorSource } from "./types.js";
import { isZipMagic } from "./zip.js";

export interface OpenWeightsOptions {
  /** Raises (or lowers) the bounds on what reading the file may cost; see WeightsLimits for the defaults. */
  limits?: Partial<WeightsLimits>;
  /**
   * Only keys starting with this exact string (e.g. `backbone.body.`, trailing dot included) are shown,
   * with the prefix removed.
   */
  prefix?: string;
}

const ACCEPTED = "fxc reads torch.save checkpoints (.pth/.pt, zip or legacy format) and .safetensors files";

/** Opens a weights file, choosing the reader by the file's first bytes rather than its extension. */
export async function openWeights(path: string, options: OpenWeightsOptions = {}): Promise<TensorSource> {
  const limits = weightsLimits(options.limits);
  const source = await readOpenFile(path, async (file): Promise<TensorSource> => {
    const { format, head } = await sniffFormat(file);
    return format === "safetensors" ? readSafetensors(file) : readPth(file, head, limits);
  });
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
    return (await sniffFormat(file)).format;
  } finally {
    await file.close();
  }
}

/** The format of an open file, from its first (up to 9) bytes, which come back as `head`. */
async function sniffFormat(file: RandomAccessFile): Promise<{ format: "safetensors" | "pth"; head: Uint8Array }> {
  const head = await file.read(0, Math.min(file.size, 9));
  if (isZipMagic(head)) return { format: "pth", head };
  // Checked before the pickle test: a header length like 0x280 also starts with byte 0x80.
  if (head.byteLength === 9 && head[8] === 0x7b /* { */) {
    const headerLength = new DataView(head.buffer).getBigUint64(0, true);
    // A length past the end within the format's bound is a cut-off safetensors file: its reader says so.
    const plausible = headerLength <= BigInt(file.size - 8) || headerLength <= BigInt(MAX_HEADER_BYTES);
    if (headerLength >= 2n && plausible) return { format: "safetensors", head };
  }
  if (head.byteLength >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return { format: "pth", head };
  throw new WeightsError(file.path, file.size === 0 ? "is empty" : "is not in a weights format fxc knows", ACCEPTED);
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
  return keyView(source, new Map(keys.map((key) => [key.slice(prefix.length), key])));
}

/** Up to two leading dotted components, never the final one (the parameter name): `backbone.body.`. */
function leadingComponents(key: string): string {
  const parts = key.split(".");
  const count = Math.min(2, parts.length - 1);
  return count <= 0 ? "" : `${parts.slice(0, count).join(".")}.`;
}
