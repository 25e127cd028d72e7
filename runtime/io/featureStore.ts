import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { assertWritable, openAtomic, tempPathNear, writeFileAtomic, type AtomicFile } from "./atomic.js";
import { assertNotAnInput, type Destination, type ReadPaths } from "./destination.js";
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
 *
 * A run replaces the previous one whole: its files are written under hidden temporary names and only
 * renamed into place once the last row is in (then stale shards of a longer previous run are removed,
 * and the npy manifest comes last), so an interrupted run leaves the previous output as it was. Every
 * shard carries the run's id (`run`) and its number (`shard`) so that readers refuse shards of two runs
 * mixed (`readFeatureTable`), and the npy manifest lists each file's size and SHA-256.
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
  /** The id of the run that wrote the folder. */
  readonly run: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly keys: Readonly<Record<string, { readonly shape: readonly number[] }>>;
  readonly shards: readonly NpyShard[];
}

export interface NpyShard {
  readonly paths: readonly string[];
  /** Each key's file name in the folder. */
  readonly files: Readonly<Record<string, string>>;
  /** Each key's file size and SHA-256 (hex), to check a folder against its manifest. */
  readonly checksums: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
}

export class FeatureWriter {
  private readonly keys: string[] = [];
  private readonly rowShapes = new Map<string, readonly number[]>();
  private spools = new Map<string, Spool>();
  private shardPaths: string[] = [];
  /** Finished files under temporary names, renamed into place by `close()`. */
  private readonly staged: AtomicFile[] = [];
  private readonly shards: NpyShard[] = [];
  private readonly run = randomBytes(8).toString("hex");
  private rows = 0;
  private state: "open" | "closed" = "open";

  private constructor(private readonly options: FeatureWriterOptions) {}

  static async open(options: FeatureWriterOptions): Promise<FeatureWriter> {
    if (options.shardSize !== undefined && !(Number.isSafeInteger(options.shardSize) && options.shardSize > 0)) {
      throw new RangeError(`shardSize must be a positive integer, got ${options.shardSize}`);
    }
    await FeatureWriter.check(options);
    await mkdir(options.format === "npy" ? options.out : dirname(resolve(options.out)), { recursive: true });
    return new FeatureWriter(options);
  }

  /**
   * Checks before any work that the output can be written and replaces none of `inputs` (an npy folder
   * may neither be nor hold an input given by path), with one-line OutputErrors naming `out`.
   */
  static async check(options: Pick<FeatureWriterOptions, "out" | "format" | "shardSize">, inputs?: ReadPaths): Promise<void> {
    await assertWritable(options.out, options.format === "npy" ? "folder" : "file");
    if (inputs !== undefined) await assertNotAnInput(await featureDestination(options), inputs);
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

  /**
   * Writes what remains, then puts the whole run in place at once: renames every finished file over its
   * final name, writes the npy manifest, and removes what a previous run left that this one does not
   * replace. Returns what was written.
   */
  async close(): Promise<WrittenFeatures> {
    if (this.state !== "open") throw new Error("this feature writer is closed");
    if (this.shardPaths.length > 0) await this.finishShard();
    const previous = this.options.format === "npy" ? await previousNpyFiles(this.options.out) : [];
    // Only renames from here on; a caller stopped by a signal stops before close(), so a run lands whole or not at all.
    this.state = "closed";
    const written: string[] = [];
    try {
      for (const file of this.staged) {
        await file.commit();
        written.push(file.path);
      }
    } catch (error) {
      await Promise.all(this.staged.map((f) => f.abort()));
      throw error;
    }
    if (this.options.format === "npy") {
      const manifest: NpyManifest = {
        format: "fxc-features",
        run: this.run,
        metadata: this.options.metadata ?? {},
        keys: Object.fromEntries(this.keys.map((k) => [k, { shape: [this.rows, ...this.rowShapes.get(k)!] }])),
        shards: this.shards,
      };
      const file = join(this.options.out, "manifest.json");
      await writeFileAtomic(file, `${JSON.stringify(manifest, null, 1)}\n`);
      written.push(file);
      const current = new Set(written.map((f) => resolve(f)));
      await Promise.all(previous.filter((f) => !current.has(resolve(f))).map((f) => unlink(f).catch(() => undefined)));
    } else if (this.options.shardSize !== undefined) {
      await removeStaleShards(this.options.out, this.shards.length);
    }
    return { files: written, rows: this.rows, shapes: Object.fromEntries(this.keys.map((k) => [k, [this.rows, ...this.rowShapes.get(k)!]])) };
  }

  /** Removes the spool files and the finished files not yet in place: the previous output stays as it was. */
  async abort(): Promise<void> {
    this.state = "closed";
    await Promise.all([...this.spools.values()].map((s) => s.remove()));
    this.spools.clear();
    await Promise.all(this.staged.map((f) => f.abort()));
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
    if (this.options.shardSize !== undefined) Object.assign(metadata, { run: this.run, shard: String(index) });
    const files: Record<string, string> = {};
    const checksums: Record<string, { bytes: number; sha256: string }> = {};
    const spools = this.spools;
    this.spools = new Map();
    try {
      if (this.options.format === "safetensors") {
        const out = this.options.out;
        const ext = extname(out);
        const file = `${out.slice(0, out.length - ext.length)}${this.shardName(index)}${ext}`;
        const header = safetensorsHeader(file, this.keys.map((key) => ({ key, shape: [rows, ...this.rowShapes.get(key)!] })), metadata);
        await this.stage(file, async (write) => {
          await write(header);
          for (const key of this.keys) await spools.get(key)!.copyTo(write);
        });
      } else {
        for (const key of this.keys) {
          const name = `${key}${this.shardName(index)}.npy`;
          const file = fileInFolder(this.options.out, name);
          checksums[key] = await this.stage(file, async (write) => {
            await write(npyHeader(file, [rows, ...this.rowShapes.get(key)!]));
            await spools.get(key)!.copyTo(write);
          });
          files[key] = name;
        }
      }
    } finally {
      await Promise.all([...spools.values()].map((s) => s.remove()));
    }
    this.shards.push({ paths: this.shardPaths, files, checksums });
    this.rows += rows;
    this.shardPaths = [];
  }

  /** Writes one finished file under a temporary name, to be renamed by `close()`; returns its size and SHA-256. */
  private async stage(file: string, fill: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>): Promise<{ bytes: number; sha256: string }> {
    const staged = await openAtomic(file);
    this.staged.push(staged);
    const hash = createHash("sha256");
    let bytes = 0;
    await fill(async (chunk) => {
      hash.update(chunk);
      bytes += chunk.byteLength;
      await staged.write(chunk);
    });
    await staged.seal();
    return { bytes, sha256: hash.digest("hex") };
  }
}

/** The files a feature run writes or replaces, for the checks against its inputs. */
async function featureDestination(options: Pick<FeatureWriterOptions, "out" | "format" | "shardSize">): Promise<Destination> {
  if (options.format === "npy") {
    const names = await readdir(options.out).catch(() => [] as string[]);
    return { files: names.filter((n) => n.endsWith(".npy") || n === "manifest.json").map((n) => join(options.out, n)), folder: options.out };
  }
  if (options.shardSize === undefined) return { files: [options.out] };
  return { files: (await shardsOf(options.out)).map((s) => s.file) };
}

/** The existing shard files `NAME-00001.EXT`, ... of `out` (`NAME.EXT`), with their numbers. */
async function shardsOf(out: string): Promise<{ file: string; index: number }[]> {
  const ext = extname(out);
  const stem = basename(out, ext);
  const folder = dirname(out);
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.flatMap((name) => {
    if (!name.startsWith(`${stem}-`) || !name.endsWith(ext)) return [];
    const number = name.slice(stem.length + 1, name.length - ext.length);
    return /^\d{5,}$/.test(number) ? [{ file: join(folder, name), index: Number(number) }] : [];
  });
}

/** Removes the shards numbered past `count` that a longer previous run left. */
async function removeStaleShards(out: string, count: number): Promise<void> {
  const stale = (await shardsOf(out)).filter((s) => s.index > count);
  await Promise.all(stale.map((s) => unlink(s.file).catch(() => undefined)));
}

/** The files the manifest of a previous npy run in `folder` lists (none if there is no readable one). */
async function previousNpyFiles(folder: string): Promise<string[]> {
  try {
    const manifest = JSON.parse(await readFile(join(folder, "manifest.json"), "utf8")) as Partial<NpyManifest>;
    if (manifest.format !== "fxc-features" || !Array.isArray(manifest.shards)) return [];
    const names: unknown[] = manifest.shards.flatMap((shard) => Object.values(shard.files ?? {}));
    // Only .npy files directly in the folder: a manifest is data, not a list of paths to delete anywhere.
    return names.filter((name): name is string => typeof name === "string" && name.endsWith(".npy") && basename(name) === name && !name.startsWith(".")).map((name) => join(folder, name));
  } catch {
    return [];
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

  async copyTo(write: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    const chunk = new Uint8Array(Math.min(this.bytes, 16 << 20));
    for (let position = 0; position < this.bytes; ) {
      const { bytesRead } = await this.handle!.read(chunk, 0, Math.min(chunk.byteLength, this.bytes - position), position);
      if (bytesRead === 0) throw new Error(`${this.path}: scratch file ended early`);
      await write(chunk.subarray(0, bytesRead));
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
  let previous: ShardOfRun | undefined;
  for (const file of list) {
    const source: SafetensorsSource = await openSafetensors(file);
    try {
      previous = checkShardSequence(file, source.metadata, previous);
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

/** A shard's place in the run that wrote it (its `run` id and `shard` number in the metadata). */
interface ShardOfRun {
  readonly file: string;
  readonly run?: string;
  readonly shard: number;
}

/**
 * Shards of one run continue each other (same run, next number); a shard numbered past 1 after a file
 * of another run means shards of two runs were mixed (a run interrupted while its shards replaced
 * another's, or files copied together), which would pair rows with the wrong images' paths. A list may
 * start anywhere and hold several runs, each from its first shard.
 */
function checkShardSequence(file: string, metadata: Readonly<Record<string, string>>, previous: ShardOfRun | undefined): ShardOfRun {
  const shard = Number(metadata.shard ?? 1);
  const current: ShardOfRun = { file, run: metadata.run, shard };
  if (previous === undefined || current.run === undefined) return current;
  const continues = previous.run === current.run;
  if (continues && shard === previous.shard + 1) return current;
  if (!continues && shard === 1) return current;
  const problem = continues
    ? `is shard ${shard} of the same run as ${previous.file}, shard ${previous.shard}: shards are out of order or repeated`
    : `is shard ${shard} of another run than ${previous.file} (shard ${previous.shard}): the shards of two extractions are mixed, as an interrupted run or copied files leave them`;
  throw new WeightsError(file, problem, "pass the shards of each run in order, or extract again into a fresh output");
}
