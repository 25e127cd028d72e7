import { DTYPE_SIZE, elementCount, isNonNegativeInteger, toFloat32 } from "./dtype.js";
import { readOpenFile, type RandomAccessFile } from "./file.js";
import { copyStrided } from "./strided.js";
import {
  describePickleValue,
  PickleDict,
  PickleForeign,
  PickleGlobal,
  PickleLimitError,
  PickleList,
  PickleObject,
  PickleTruncatedError,
  unpickle,
  type PickleCallable,
  type PickleTuple,
  type PickleValue,
} from "./pickle.js";
import { howToRaise, weightsLimits, type WeightsLimits } from "./limits.js";
import { missingKey, WeightsError, type DType, type TensorInfo, type TensorSource } from "./types.js";
import { isZipMagic, ZipReader, type ZipEntry } from "./zip.js";

/**
 * torch.save checkpoints, both the zip format (torch >= 1.6) and the legacy format before it. The pickle
 * is read with an allowlist unpickler; tensor bytes are read from their storages only on request.
 */

/** Largest tensor returned as one Float32Array (8 GiB); beyond that typed arrays fail anyway. */
const MAX_ELEMENTS = 2 ** 31;

const RESAVE = "download the file again or save it again with torch.save(model.state_dict(), path)";
const SAVE_STATE_DICT = "save model.state_dict() instead: torch.save(model.state_dict(), path)";

/** torch storage classes fxc can read, by class name (module `torch` or `torch.cuda`). */
const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: "F64",
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** Element sizes of storages fxc cannot convert, needed only to step over them in legacy files. */
const OTHER_STORAGE_SIZES: Readonly<Record<string, number>> = {
  ComplexFloatStorage: 8,
  ComplexDoubleStorage: 16,
  QInt8Storage: 1,
  QUInt8Storage: 1,
  QInt32Storage: 4,
  QUInt4x2Storage: 1,
  QUInt2x4Storage: 1,
};

/** A storage referenced by a persistent id; `elementOffset` is non-zero only for legacy storage views. */
class StorageRef extends PickleForeign {
  constructor(
    readonly key: string,
    readonly typeName: string,
    readonly dtype: DType | undefined,
    readonly elementSize: number | undefined,
    readonly numel: number,
    readonly elementOffset: number,
  ) {
    super();
  }
  describe(): string {
    return `${this.typeName} storage`;
  }
}

class TensorRef extends PickleForeign {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {
    super();
  }
  describe(): string {
    return `tensor of shape [${this.size.join(", ")}]`;
  }
}

/** Where a storage's bytes live: a zip entry or a byte range of a legacy file. */
type StorageBytes = (byteOffset: number, byteLength: number) => Promise<Uint8Array>;

/** Opens a torch.save checkpoint (zip or legacy format) and finds its state_dict. */
export function openPth(path: string, limits: WeightsLimits = weightsLimits()): Promise<TensorSource> {
  return readOpenFile(path, async (file) => readPth(file, await file.read(0, Math.min(file.size, 4)), limits));
}

/**
 * Reads a torch.save checkpoint (zip or legacy format) from an open file whose first bytes (at least
 * four, where the file has them) are `head`. On error the caller closes the file.
 */
export async function readPth(
  file: RandomAccessFile,
  head: Uint8Array,
  limits: WeightsLimits = weightsLimits(),
): Promise<TensorSource> {
  if (file.size >= 4) {
    if (isZipMagic(head)) return openZipCheckpoint(file, limits);
    if (head[0] === 0x80) return openLegacyCheckpoint(file, limits);
  }
  throw new WeightsError(file.path, "is neither a zip nor a legacy torch checkpoint", RESAVE);
}

async function openZipCheckpoint(file: RandomAccessFile, limits: WeightsLimits): Promise<TensorSource> {
  const path = file.path;
  const zip = await ZipReader.open(file);
  // torch names the top folder after the file it saved to; find it from the pickle's entry name.
  const pickleEntry =
    zip.entries.find((entry) => /^[^/]+\/data\.pkl$/.test(entry.name)) ??
    zip.entries.find((entry) => entry.name.endsWith("data.pkl"));
  if (pickleEntry === undefined) {
    throw new WeightsError(path, "is a zip file without data.pkl, so not a torch checkpoint", RESAVE);
  }
  const root = pickleEntry.name.slice(0, -"data.pkl".length);
  const byteOrder = zip.entry(`${root}byteorder`);
  if (byteOrder !== undefined) {
    const order = new TextDecoder().decode(await zip.read(byteOrder)).trim();
    if (order !== "little") {
      throw new WeightsError(
        path,
        `stores tensors in ${order}-endian byte order`,
        "save the checkpoint on a little-endian machine",
      );
    }
  }

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    const [storageType, key, numel] = expectStorageId(pid, 5);
    let storage = storages.get(key);
    if (storage === undefined) {
      storage = makeStorage(key, storageType, numel, 0);
      storages.set(key, storage);
    }
    return storage;
  };
  if (pickleEntry.size > limits.maxPickleBytes) {
    throw new WeightsError(
      path,
      `its pickle (${pickleEntry.name}) is ${pickleEntry.size} bytes, more than the limit of ${limits.maxPickleBytes}`,
      howToRaise("maxPickleBytes", limits.maxPickleBytes),
    );
  }
  const top = runPickle(path, await zip.read(pickleEntry), 0, persistentLoad, "whole", limits).value;
  const tensors = selectStateDict(path, top);

  const entries = new Map<string, ZipEntry>();
  for (const [name, tensor] of tensors) {
    const storage = tensor.storage;
    const entry = zip.entry(`${root}data/${storage.key}`);
    if (entry === undefined) {
      throw new WeightsError(
        path,
        `tensor '${name}' refers to storage '${storage.key}', which the zip does not contain`,
        RESAVE,
      );
    }
    const needed = storage.numel * storage.elementSize!;
    if (entry.size < needed) {
      throw new WeightsError(
        path,
        `storage '${storage.key}' holds ${entry.size} bytes, fewer than the ${needed} its tensors need`,
        RESAVE,
      );
    }
    entries.set(storage.key, entry);
  }
  const bytesOf = (storage: StorageRef): StorageBytes => {
    const entry = entries.get(storage.key)!;
    return (byteOffset, byteLength) => zip.read(entry, byteOffset, byteLength);
  };
  return new PthFile(file, tensors, bytesOf);
}

/** torch's legacy format starts with this number, pickled. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** The pickles of a legacy file are small; read this much first and grow only if they continue past it. */
const LEGACY_FIRST_READ = 1 << 20;

async function openLegacyCheckpoint(file: RandomAccessFile, limits: WeightsLimits): Promise<TensorSource> {
  const path = file.path;
  const longest = Math.min(file.size, limits.maxPickleBytes);
  let prefixLength = Math.min(longest, LEGACY_FIRST_READ);
  for (;;) {
    const prefix = await file.read(0, prefixLength);
    try {
      return await readLegacy(file, prefix, limits);
    } catch (error) {
      if (!(error instanceof PickleTruncatedError)) throw error;
      if (prefixLength === file.size) {
        throw new WeightsError(path, `is truncated: ${error.message}`, RESAVE);
      }
      if (prefixLength === longest) {
        throw new WeightsError(
          path,
          `its pickles run past the first ${limits.maxPickleBytes} bytes, the limit`,
          howToRaise("maxPickleBytes", limits.maxPickleBytes),
        );
      }
      prefixLength = Math.min(longest, prefixLength * 4);
    }
  }
}

/** Parses the five leading pickles from `prefix` (throws PickleTruncatedError if it is too short). */
async function readLegacy(file: RandomAccessFile, prefix: Uint8Array, limits: WeightsLimits): Promise<TensorSource> {
  const path = file.path;
  const notTorch = (): WeightsError =>
    new WeightsError(path, "is a pickle file but not a torch checkpoint (no torch magic number)", SAVE_STATE_DICT);

  let magic: { value: PickleValue; end: number };
  try {
    magic = unpickle(prefix, { limits });
  } catch (error) {
    // The magic number pickle is 14 bytes; running out of data before it ends means a cut-off file.
    if (error instanceof PickleTruncatedError && prefix.byteLength < 16) {
      throw new WeightsError(path, `is truncated (${prefix.byteLength} bytes)`, RESAVE);
    }
    throw notTorch();
  }
  if (magic.value !== LEGACY_MAGIC) throw notTorch();
  const protocol = runPickle(path, prefix, magic.end, undefined, "prefix", limits);
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new WeightsError(
      path,
      `uses legacy torch protocol ${describePickleValue(protocol.value)}, not ${LEGACY_PROTOCOL}`,
      RESAVE,
    );
  }
  const systemInfo = runPickle(path, prefix, protocol.end, undefined, "prefix", limits);
  if (systemInfo.value instanceof PickleDict && systemInfo.value.entries.get("little_endian") === false) {
    throw new WeightsError(path, "was saved on a big-endian machine", "save the checkpoint on a little-endian machine");
  }

  // Legacy persistent ids name a root storage plus, in old files, a view (key, offset, size) into it.
  const roots = new Map<string, StorageRef>();
  const views = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    const [storageType, rootKey, numel, viewMetadata] = expectStorageId(pid, 6);
    let root = roots.get(rootKey);
    if (root === undefined) {
      root = makeStorage(rootKey, storageType, numel, 0);
      roots.set(rootKey, root);
    }
    if (viewMetadata === null || viewMetadata === undefined) return root;
    if (!Array.isArray(viewMetadata) || viewMetadata.length !== 3)
      throw new Error("storage view metadata is not (key, offset, size)");
    const [viewKey, viewOffset, viewSize] = viewMetadata as PickleTuple;
    if (typeof viewKey !== "string" || !isNonNegativeInteger(viewOffset) || !isNonNegativeInteger(viewSize)) {
      throw new Error("storage view metadata is not (key, offset, size)");
    }
    let view = views.get(viewKey);
    if (view === undefined) {
      view = viewOf(root, viewKey, viewOffset, viewSize);
      views.set(viewKey, view);
    }
    return view;
  };
  const main = runPickle(path, prefix, systemInfo.end, persistentLoad, "prefix", limits);
  const keyList = runPickle(path, prefix, main.end, undefined, "prefix", limits);
  if (!(keyList.value instanceof PickleList) || !keyList.value.items.every((key) => typeof key === "string")) {
    throw new WeightsError(path, "has a damaged legacy storage list", RESAVE);
  }
  const tensors = selectStateDict(path, main.value);

  // Storages follow the pickles back to back: an int64 element count, then the raw bytes.
  const starts = new Map<string, number>();
  let position = keyList.end;
  for (const key of keyList.value.items as string[]) {
    const root = roots.get(key);
    if (root === undefined || root.elementSize === undefined) {
      throw new WeightsError(
        path,
        `lists storage '${key}' of unknown type, so later storages cannot be located`,
        RESAVE,
      );
    }
    const count = new DataView((await file.read(position, 8)).buffer).getBigInt64(0, true);
    const byteLength = Number(count) * root.elementSize;
    if (count < 0n || position + 8 + byteLength > file.size) {
      throw new WeightsError(path, `is truncated: storage '${key}' runs past the end of the file`, RESAVE);
    }
    if (Number(count) < root.numel) {
      throw new WeightsError(
        path,
        `storage '${key}' holds ${count} elements, fewer than the ${root.numel} its tensors need`,
        RESAVE,
      );
    }
    starts.set(key, position + 8);
    position += 8 + byteLength;
  }
  for (const [name, tensor] of tensors) {
    if (!starts.has(tensor.storage.key)) {
      throw new WeightsError(
        path,
        `tensor '${name}' refers to storage '${tensor.storage.key}', which the file does not contain`,
        RESAVE,
      );
    }
  }
  const bytesOf = (storage: StorageRef): StorageBytes => {
    const start = starts.get(storage.key)!;
    return (byteOffset, byteLength) => file.read(start + byteOffset, byteLength);
  };
  return new PthFile(file, tensors, bytesOf);
}

/** torch.load's allowlist: the functions that rebuild tensors, parameters and sizes. */
const CALLABLES: ReadonlyMap<string, PickleCallable> = (() => {
  const rebuildTensor: PickleCallable = ([storage, offset, size, stride]) => {
    if (!(storage instanceof StorageRef))
      throw new Error(`expected a storage, got ${describePickleValue(storage ?? null)}`);
    if (!isNonNegativeInteger(offset)) throw new Error("storage offset is not a non-negative integer");
    const sizes = countsOf(size, "size");
    const strides = countsOf(stride, "stride");
    if (sizes.length !== strides.length)
      throw new Error(`size has ${sizes.length} dims but stride has ${strides.length}`);
    return new TensorRef(storage, offset, sizes, strides);
  };
  const unwrapParameter: PickleCallable = ([data]) => {
    if (!(data instanceof TensorRef)) throw new Error(`expected a tensor, got ${describePickleValue(data ?? null)}`);
    return data;
  };
  const table = new Map<string, PickleCallable>([
    ["torch._utils._rebuild_tensor_v2", rebuildTensor],
    ["torch._utils._rebuild_tensor", rebuildTensor],
    ["torch._utils._rebuild_parameter", unwrapParameter],
    ["torch._utils._rebuild_parameter_with_state", unwrapParameter],
    ["torch.Size", ([dims]) => (Array.isArray(dims) ? dims : Object.freeze([]))],
    ["torch.device", ([type, index]) => (typeof index === "number" ? `${String(type)}:${index}` : String(type))],
  ]);
  // Tensor subclasses and tensors with attributes: (rebuild function, class, its args, state).
  table.set("torch._tensor._rebuild_from_type_v2", ([rebuild, , args]) => {
    const inner = rebuild instanceof PickleGlobal ? table.get(rebuild.dottedName) : undefined;
    if (inner === undefined || !Array.isArray(args)) return new PickleObject("torch._tensor._rebuild_from_type_v2", []);
    return inner(args as PickleTuple);
  });
  return table;
})();

/**
 * Unpickles with torch's allowlist. `bytes` is either the whole pickle or a prefix of a legacy file; only
 * in the latter case does running out of data stay a PickleTruncatedError, so the caller can read more.
 */
function runPickle(
  path: string,
  bytes: Uint8Array,
  start: number,
  persistentLoad: ((pid: PickleValue) => PickleValue) | undefined,
  extent: "whole" | "prefix",
  limits: WeightsLimits,
): { value: PickleValue; end: number } {
  try {
    return unpickle(bytes, { start, limits, callables: CALLABLES, ...(persistentLoad ? { persistentLoad } : {}) });
  } catch (error) {
    if (error instanceof PickleLimitError) {
      throw new WeightsError(path, `has a pickle past fxc's limits: ${error.message}`, howToRaise(error.limit, error.value));
    }
    if (error instanceof PickleTruncatedError) {
      if (extent === "prefix") throw error;
      throw new WeightsError(path, `is truncated or corrupt: ${error.message}`, RESAVE);
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new WeightsError(path, `has a pickle fxc cannot read: ${detail}`, RESAVE);
  }
}

/** Checks a persistent id of the form ('storage', StorageClass, key, location, numel[, view]). */
function expectStorageId(pid: PickleValue, length: number): [PickleGlobal, string, number, PickleValue] {
  if (!Array.isArray(pid) || pid.length !== length || pid[0] !== "storage") {
    throw new Error(`unexpected persistent id ${describePickleValue(pid)}`);
  }
  const [, storageType, key, , numel, view] = pid as PickleTuple;
  if (!(storageType instanceof PickleGlobal)) throw new Error("storage type is not a class reference");
  if (typeof key !== "string") throw new Error("storage key is not a string");
  if (!isNonNegativeInteger(numel)) throw new Error("storage size is not a non-negative integer");
  return [storageType, key, numel, view ?? null];
}

/**
 * A legacy storage view: elements [offset, offset + size) of `root`, cut at the root's end as torch's
 * `root[offset:offset + size]` slice cuts it, so that its tensors are checked against what the root holds
 * and can never read into the storages stored after the root's bytes. A view starting past the root's end
 * is refused outright (torch fails on it too, trying to resize the empty slice).
 */
function viewOf(root: StorageRef, viewKey: string, offset: number, size: number): StorageRef {
  if (offset > root.numel) {
    throw new Error(
      `storage view '${viewKey}' starts at element ${offset}, past the end of its root storage '${root.key}' of ${root.numel} elements`,
    );
  }
  const numel = Math.min(size, root.numel - offset);
  return new StorageRef(root.key, root.typeName, root.dtype, root.elementSize, numel, offset);
}

function makeStorage(key: string, storageType: PickleGlobal, numel: number, elementOffset: number): StorageRef {
  const known = storageType.module === "torch" || storageType.module === "torch.cuda";
  // hasOwn: a crafted class name such as "constructor" must not reach Object.prototype.
  const name = storageType.name;
  const dtype = known && Object.hasOwn(STORAGE_DTYPES, name) ? STORAGE_DTYPES[name] : undefined;
  const elementSize =
    dtype !== undefined
      ? DTYPE_SIZE[dtype]
      : known && Object.hasOwn(OTHER_STORAGE_SIZES, name)
        ? OTHER_STORAGE_SIZES[name]
        : undefined;
  return new StorageRef(key, storageType.dottedName, dtype, elementSize, numel, elementOffset);
}

/**
 * The state_dict of a checkpoint: the top-level dict itself if it holds tensors, else its `model` or
 * `state_dict` entry. It must map strings to tensors that fxc can read.
 */
function selectStateDict(path: string, top: PickleValue): Map<string, TensorRef> {
  if (top instanceof PickleObject) {
    // torch.jit.save archives share the zip layout; their classes live under __torch__.
    const problem = top.className.startsWith("__torch__.")
      ? `is a TorchScript archive (torch.jit.save of ${top.className}), not a state_dict`
      : `holds a whole pickled ${top.className} object, not a state_dict`;
    throw new WeightsError(path, problem, SAVE_STATE_DICT);
  }
  if (top instanceof TensorRef) {
    throw new WeightsError(path, "holds a single tensor, not a state_dict", SAVE_STATE_DICT);
  }
  if (!(top instanceof PickleDict)) {
    throw new WeightsError(path, `holds ${describePickleValue(top)}, not a state_dict`, SAVE_STATE_DICT);
  }
  let stateDict: PickleDict = top;
  const holdsTensors = [...top.entries.values()].some((value) => value instanceof TensorRef);
  if (!holdsTensors && top.entries.size > 0) {
    const nested = ["model", "state_dict"].find((name) => top.entries.has(name));
    const value = nested === undefined ? undefined : top.entries.get(nested);
    if (value instanceof PickleDict) {
      stateDict = value;
    } else if (value instanceof PickleObject) {
      throw new WeightsError(
        path,
        `its '${nested}' entry is a whole pickled ${value.className} object, not a state_dict`,
        SAVE_STATE_DICT,
      );
    } else {
      const names = [...top.entries.keys()]
        .slice(0, 8)
        .map((key) => (typeof key === "string" ? `'${key}'` : describePickleValue(key)));
      throw new WeightsError(
        path,
        `holds a dict with keys ${names.join(", ")}${top.entries.size > 8 ? ", ..." : ""} but no tensors and no 'model' or 'state_dict' entry`,
        "save the state_dict itself, or under the key 'model' or 'state_dict'",
      );
    }
  }

  const tensors = new Map<string, TensorRef>();
  for (const [key, value] of stateDict.entries) {
    if (typeof key !== "string") {
      throw new WeightsError(
        path,
        `state_dict has a key that is ${describePickleValue(key)}, not a string`,
        "use string keys, as model.state_dict() does",
      );
    }
    if (!(value instanceof TensorRef)) {
      throw new WeightsError(
        path,
        `state_dict entry '${key}' is ${describePickleValue(value)}, not a tensor`,
        "keep only tensors in the state_dict ({k: v for k, v in sd.items() if torch.is_tensor(v)})",
      );
    }
    if (value.storage.dtype === undefined) {
      throw new WeightsError(
        path,
        `tensor '${key}' uses ${value.storage.typeName}, which fxc cannot read`,
        "convert it to a float or integer dtype before saving",
      );
    }
    checkExtent(path, key, value);
    tensors.set(key, value);
  }
  return tensors;
}

/** The elements [first, last] of its storage that a tensor touches; strides are never negative in torch. */
function extent(tensor: TensorRef): { first: number; last: number } | undefined {
  if (elementCount(tensor.size) === 0) return undefined;
  let last = tensor.offset;
  tensor.size.forEach((size, dim) => (last += (size - 1) * tensor.stride[dim]!));
  return { first: tensor.offset, last };
}

function checkExtent(path: string, key: string, tensor: TensorRef): void {
  const span = extent(tensor);
  if (span !== undefined && span.last >= tensor.storage.numel) {
    throw new WeightsError(
      path,
      `tensor '${key}' (size [${tensor.size.join(", ")}], stride [${tensor.stride.join(", ")}], offset ${tensor.offset}) reaches element ${span.last} of a storage of ${tensor.storage.numel}`,
      RESAVE,
    );
  }
}

class PthFile implements TensorSource {
  readonly format = "pth";
  private readonly infos: ReadonlyMap<string, TensorInfo>;

  constructor(
    private readonly file: RandomAccessFile,
    private readonly tensors: ReadonlyMap<string, TensorRef>,
    private readonly bytesOf: (storage: StorageRef) => StorageBytes,
  ) {
    this.infos = new Map(
      [...tensors].map(([key, tensor]) => [
        key,
        { key, dtype: tensor.storage.dtype!, shape: Object.freeze([...tensor.size]) },
      ]),
    );
  }

  get path(): string {
    return this.file.path;
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  info(key: string): TensorInfo | undefined {
    return this.infos.get(key);
  }

  /** Reads just the part of the storage the tensor spans, converts it, then lays it out in row-major order. */
  async readFloat32(key: string): Promise<Float32Array> {
    const tensor = this.tensors.get(key);
    if (tensor === undefined) throw missingKey(this.path, key, this.keys());
    const span = extent(tensor);
    if (span === undefined) return new Float32Array(0);
    // Stride-0 (expanded) tensors can claim far more elements than their storage holds.
    const count = elementCount(tensor.size);
    if (count > MAX_ELEMENTS) {
      throw new WeightsError(
        this.path,
        `tensor '${key}' has ${count} elements, more than one Float32Array can hold`,
        "save it in smaller pieces",
      );
    }
    const { storage } = tensor;
    const dtype = storage.dtype!;
    const elementSize = DTYPE_SIZE[dtype];
    const spanLength = span.last - span.first + 1;
    const bytes = await this.bytesOf(storage)(
      (storage.elementOffset + span.first) * elementSize,
      spanLength * elementSize,
    );
    const values = toFloat32(bytes, dtype, spanLength);
    return isRowMajor(tensor.size, tensor.stride) ? values : copyStrided(values, tensor.size, tensor.stride);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

function isRowMajor(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let dim = size.length - 1; dim >= 0; dim--) {
    if (size[dim] !== 1 && stride[dim] !== expected) return false;
    expected *= size[dim]!;
  }
  return true;
}

function countsOf(value: PickleValue | undefined, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isNonNegativeInteger))
    throw new Error(`${what} is not a tuple of non-negative integers`);
  return [...(value as readonly number[])];
}
