import { mkdir, open, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { tempPathNear, withAtomicFile, writeFileAtomic, type AtomicFile } from "./atomic.js";
import { npyHeader } from "./npy.js";
import { concatFloat32, elementCount } from "../weights/dtype.js";
import { openSafetensors, safetensorsHeader, type SafetensorsSource } from "../weights/safetensors.js";
import { WeightsError } from "../weights/types.js";

/**
 * Feature files: one row per image, written as they are computed. Rows go to a spool file per key
 * (next to the output, with a hidden `.tmp` name) so that memory stays bounded however many images
 * there are; each finished file then appears at once under its final name.
 *
 * - safetensors: one tensor per key; `__metadata__` holds the row order (`paths`, a JSON list) and
 *   whatever the caller records (model, return spec, preprocessing...).
 * - npy: a folder with `KEY.npy` per key and `manifest.json`, written last, that lists them.
 *
 * With `shardSize`, every `shardSize` rows make a file of their own: `NAME-00001.safetensors`, ...
 * or `KEY-00001.npy`, ... (the manifest lists the npy shards).
 */
export type FeatureFormat = "safetensors" | "npy";

/**
 * `folder/name`, refused when `name` would put the file anywhere else (`../x`, `a/b`, an absolute
 * path): keys name files, and a key must never write outside the folder it was given.
 */
function fileInFolder(folder: string, name: string): string {
  const file = join(folder, name);
  if (name.length === 0 || name !== basename(name) || name === "." || name === ".." || dirname(resolve(file)) !== resolve(folder)) {
    throw new RangeError(`feature file name '${name}' would be written outside ${folder}; use keys of letters, digits, '_', '.' and '-'`);
  }
  return file;
}

export interface FeatureWriterOptions {
  /** A `.safetensors` file, or a folder for npy. */
  readonly out: string;
  readonly format: FeatureFormat;
  /** Rows per file; all in one file by default. */
  readonly shardSize?: number;
  /** Recorded in every file (safetensors metadata, or the npy manifest). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Rows to append: every tensor's first dimension is the number of paths. */
export interface FeatureRows {
  readonly paths: readonly string[];
  readonly tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

export interface WrittenFeatures {
  /** The files written, in order (shards, then the manifest). */
  readonly files: readonly string[];
  readonly rows: number;
  /** Each key's full shape, rows first. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
}

/** What `manifest.json` of an npy folder holds. */
export interface NpyManifest {
  readonly format: "fxc-features";
  readonly metadata: Readonly<Record<string, string>>;
  readonly keys: Readonly<Record<string, { readonly shape: readonly number[] }>>;
  readonly shards: readonly { readonly paths: readonly string[]; readonly files: Readonly<Record<string, string>> }[];
}

export class FeatureWriter {
  private readonly keys: string[] = [];
  private readonly rowShapes = new Map<string, readonly number[]>();
  private spools = new Map<string, Spool>();
  private shardPaths: string[] = [];
  private readonly written: string[] = [];
  private readonly shards: { paths: string[]; files: Record<string, string> }[] = [];
  private rows = 0;
  private state: "open" | "closed" = "open";

  private constructor(private readonly options: FeatureWriterOptions) {}

  static async open(options: FeatureWriterOptions): Promise<FeatureWriter> {
    if (options.shardSize !== undefined && !(Number.isSafeInteger(options.shardSize) && options.shardSize > 0)) {
      throw new RangeError(`shardSize must be a positive integer, got ${options.shardSize}`);
    }
    await mkdir(options.format === "npy" ? options.out : dirname(resolve(options.out)), { recursive: true });
    return new FeatureWriter(options);
  }

  /** Appends rows, finishing a shard file whenever one fills up. */
  async append(rows: FeatureRows): Promise<void> {
    if (this.state !== "open") throw new Error("this feature writer is closed");
    const n = rows.paths.length;
    const tensors = Object.entries(rows.tensors);
    if (this.keys.length === 0) {
      for (const [key, t] of tensors) {
        if (this.options.format === "npy") fileInFolder(this.options.out, key); // refused before any row is spooled
        this.keys.push(key);
        this.rowShapes.set(key, t.shape.slice(1));
      }
    }
    for (const [key, t] of tensors) {
      const expected = this.rowShapes.get(key);
      if (expected === undefined || t.shape[0] !== n || t.shape.slice(1).join() !== expected.join()) {
        throw new Error(`feature '${key}' has shape [${t.shape.join(", ")}]; expected [${n}, ${expected?.join(", ") ?? "?"}] like the rows before`);
      }
    }
    let start = 0;
    while (start < n) {
      const room = (this.options.shardSize ?? Number.POSITIVE_INFINITY) - this.shardPaths.length;
      const take = Math.min(room, n - start);
      for (const [key, t] of tensors) {
        const size = t.data.length / n;
        await (await this.spool(key)).write(t.data.subarray(start * size, (start + take) * size));
      }
      this.shardPaths.push(...rows.paths.slice(start, start + take));
      start += take;
      if (this.shardPaths.length === this.options.shardSize) await this.finishShard();
    }
  }

  /** Writes what remains (and the npy manifest) and returns what was written. */
  async close(): Promise<WrittenFeatures> {
    if (this.state !== "open") throw new Error("this feature writer is closed");
    if (this.shardPaths.length > 0) await this.finishShard();
    if (this.options.format === "npy") {
      const manifest: NpyManifest = {
        format: "fxc-features",
        metadata: this.options.metadata ?? {},
        keys: Object.fromEntries(this.keys.map((k) => [k, { shape: [this.rows, ...this.rowShapes.get(k)!] }])),
        shards: this.shards,
      };
      const file = join(this.options.out, "manifest.json");
      await writeFileAtomic(file, `${JSON.stringify(manifest, null, 1)}\n`);
      this.written.push(file);
    }
    this.state = "closed";
    return { files: this.written, rows: this.rows, shapes: Object.fromEntries(this.keys.map((k) => [k, [this.rows, ...this.rowShapes.get(k)!]])) };
  }

  /** Removes the spool files; files already finished stay (each is complete). */
  async abort(): Promise<void> {
    this.state = "closed";
    await Promise.all([...this.spools.values()].map((s) => s.remove()));
    this.spools.clear();
  }

  private async spool(key: string): Promise<Spool> {
    let s = this.spools.get(key);
    if (s === undefined) {
      const near = this.options.format === "npy" ? fileInFolder(this.options.out, key) : resolve(this.options.out);
      s = await Spool.create(near);
      this.spools.set(key, s);
    }
    return s;
  }

  private shardName(index: number): string {
    return this.options.shardSize === undefined ? "" : `-${String(index).padStart(5, "0")}`;
  }

  private async finishShard(): Promise<void> {
    const index = this.shards.length + 1;
    const rows = this.shardPaths.length;
    const metadata: Record<string, string> = { ...this.options.metadata, paths: JSON.stringify(this.shardPaths) };
    if (this.options.shardSize !== undefined) metadata.shard = String(index);
    const files: Record<string, string> = {};
    const spools = this.spools;
    this.spools = new Map();
    try {
      if (this.options.format === "safetensors") {
        const out = this.options.out;
        const ext = extname(out);
        const file = `${out.slice(0, out.length - ext.length)}${this.shardName(index)}${ext}`;
        const header = safetensorsHeader(file, this.keys.map((key) => ({ key, shape: [rows, ...this.rowShapes.get(key)!] })), metadata);
        await withAtomicFile(file, async (f) => {
          await f.write(header);
          for (const key of this.keys) await spools.get(key)!.copyTo(f);
        });
        this.written.push(file);
      } else {
        for (const key of this.keys) {
          const name = `${key}${this.shardName(index)}.npy`;
          const file = fileInFolder(this.options.out, name);
          await withAtomicFile(file, async (f) => {
            await f.write(npyHeader(file, [rows, ...this.rowShapes.get(key)!]));
            await spools.get(key)!.copyTo(f);
          });
          files[key] = name;
          this.written.push(file);
        }
      }
    } finally {
      await Promise.all([...spools.values()].map((s) => s.remove()));
    }
    this.shards.push({ paths: this.shardPaths, files });
    this.rows += rows;
    this.shardPaths = [];
  }
}

/** An append-only scratch file of float32 rows, removed once copied. */
class Spool {
  private constructor(
    private readonly path: string,
    private handle: FileHandle | undefined,
    private bytes = 0,
  ) {}

  static async create(near: string): Promise<Spool> {
    const path = tempPathNear(near, "spool.tmp");
    return new Spool(path, await open(path, "wx+"));
  }

  async write(data: Float32Array): Promise<void> {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    while (done < bytes.byteLength) done += (await this.handle!.write(bytes, done, bytes.byteLength - done, this.bytes + done)).bytesWritten;
    this.bytes += bytes.byteLength;
  }

  async copyTo(file: AtomicFile): Promise<void> {
    const chunk = new Uint8Array(Math.min(this.bytes, 16 << 20));
    for (let position = 0; position < this.bytes; ) {
      const { bytesRead } = await this.handle!.read(chunk, 0, Math.min(chunk.byteLength, this.bytes - position), position);
      if (bytesRead === 0) throw new Error(`${this.path}: scratch file ended early`);
      await file.write(chunk.subarray(0, bytesRead));
      position += bytesRead;
    }
  }

  async remove(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) return;
    await handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

/** Rows of one key gathered from feature files (shards in the order given), with their source paths. */
export interface FeatureTable {
  readonly key: string;
  readonly paths: readonly string[];
  /** Row-major, `paths.length` rows of `dim` values (each row flattened). */
  readonly data: Float32Array;
  readonly dim: number;
  /** The first file's metadata. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Reads one key of fxc feature files (.safetensors written by `fxc extract`, shards included). */
export async function readFeatureTable(files: string | readonly string[], key: string): Promise<FeatureTable> {
  const list = typeof files === "string" ? [files] : files;
  if (list.length === 0) throw new RangeError("no feature files given");
  const parts: Float32Array[] = [];
  const paths: string[] = [];
  let dim = -1;
  let metadata: Readonly<Record<string, string>> = {};
  for (const file of list) {
    const source: SafetensorsSource = await openSafetensors(file);
    try {
      const info = source.info(key);
      if (info === undefined) {
        const keys = source.keys();
        throw new WeightsError(file, `has no feature '${key}'`, `pick one of ${keys.map((k) => `'${k}'`).join(", ")} with --key`);
      }
      const rows = info.shape[0] ?? 1;
      const rowDim = elementCount(info.shape.slice(1));
      if (dim !== -1 && rowDim !== dim) {
        throw new WeightsError(file, `feature '${key}' has ${rowDim} values per row, the files before it ${dim}`, "give shards of one extraction");
      }
      dim = rowDim;
      const rowPaths = parsePaths(file, source.metadata.paths, rows);
      if (parts.length === 0) metadata = source.metadata;
      parts.push(await source.readFloat32(key));
      paths.push(...rowPaths);
    } finally {
      await source.close();
    }
  }
  const data = parts.length === 1 ? parts[0]! : concatFloat32(parts);
  return { key, paths, data, dim, metadata };
}

function parsePaths(file: string, text: string | undefined, rows: number): string[] {
  if (text === undefined) return Array.from({ length: rows }, (_, i) => `${file}#${i}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== rows || !parsed.every((p) => typeof p === "string")) {
    throw new WeightsError(file, `its metadata 'paths' does not list ${rows} source paths`, "write the file again with fxc extract");
  }
  return parsed as string[];
}
