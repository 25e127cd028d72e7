import type { RandomAccessFile } from "./file.js";
import { WeightsError } from "./types.js";

/**
 * A minimal read-only zip reader for torch checkpoints: end-of-central-directory (plain and zip64), the
 * central directory, and local headers. Only stored (uncompressed) entries can be read, which is what
 * torch.save writes; entry data is read on demand at its offset.
 */

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const MAX_COMMENT = 0xffff;
const SATURATED_16 = 0xffff;
const SATURATED_32 = 0xffffffff;

const RESAVE = "the file may be truncated or corrupt; download or save it again";
/**
 * Largest central directory read: torch writes one ~100-byte record per storage, so even 100,000 tensors
 * stay under 10 MB; a crafted directory claiming gigabytes is refused before it is read.
 */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;

/** Whether `head` starts with a zip local-file-header signature (PK\x03\x04), as torch's zip checkpoints do. */
export function isZipMagic(head: Uint8Array): boolean {
  return head.byteLength >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored; anything else is compressed and cannot be read here. */
  readonly method: number;
  readonly flags: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

export class ZipReader {
  private readonly byName: ReadonlyMap<string, ZipEntry>;
  private readonly dataOffsets = new Map<ZipEntry, Promise<number>>();

  private constructor(
    private readonly file: RandomAccessFile,
    readonly entries: readonly ZipEntry[],
  ) {
    this.byName = new Map(entries.map((entry) => [entry.name, entry]));
  }

  /** Reads the directory of the zip file (a few small reads at its end). */
  static async open(file: RandomAccessFile): Promise<ZipReader> {
    const directory = await locateCentralDirectory(file);
    const entries = parseCentralDirectory(file, await file.read(directory.offset, directory.size), directory.count);
    return new ZipReader(file, entries);
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Reads `length` bytes starting `position` bytes into a stored entry. */
  async read(entry: ZipEntry, position = 0, length = entry.size - position): Promise<Uint8Array> {
    const path = this.file.path;
    if ((entry.flags & 1) !== 0) {
      throw new WeightsError(
        path,
        `zip entry '${entry.name}' is encrypted`,
        "save the checkpoint again with torch.save",
      );
    }
    if (entry.method !== 0) {
      throw new WeightsError(
        path,
        `zip entry '${entry.name}' is compressed (method ${entry.method}) but torch checkpoints store entries uncompressed`,
        "save the checkpoint with torch.save instead of re-zipping it",
      );
    }
    // A stored entry's bytes are its data: sizes that disagree mean a damaged or crafted directory, and
    // trusting `size` over `compressedSize` would read past the entry into whatever follows it.
    if (entry.size !== entry.compressedSize) {
      throw new WeightsError(
        path,
        `zip entry '${entry.name}' is stored uncompressed but its size (${entry.size}) differs from its stored size (${entry.compressedSize})`,
        RESAVE,
      );
    }
    if (position < 0 || length < 0 || position + length > entry.size) {
      throw new WeightsError(
        path,
        `zip entry '${entry.name}' holds ${entry.size} bytes, fewer than the ${position + length} needed`,
        RESAVE,
      );
    }
    const start = await this.dataOffset(entry);
    return this.file.read(start + position, length);
  }

  /** Where an entry's data begins: after its local header, whose extra field (torch's alignment padding) differs from the central one. */
  private dataOffset(entry: ZipEntry): Promise<number> {
    let offset = this.dataOffsets.get(entry);
    if (offset === undefined) {
      offset = this.readLocalHeader(entry);
      this.dataOffsets.set(entry, offset);
    }
    return offset;
  }

  private async readLocalHeader(entry: ZipEntry): Promise<number> {
    const path = this.file.path;
    if (entry.localHeaderOffset + LOCAL_HEADER_SIZE > this.file.size) {
      throw new WeightsError(path, `zip entry '${entry.name}' starts past the end of the file`, RESAVE);
    }
    const header = view(await this.file.read(entry.localHeaderOffset, LOCAL_HEADER_SIZE));
    if (header.getUint32(0, true) !== LOCAL_SIGNATURE) {
      throw new WeightsError(
        path,
        `zip entry '${entry.name}' has no local header at offset ${entry.localHeaderOffset}`,
        RESAVE,
      );
    }
    const start = entry.localHeaderOffset + LOCAL_HEADER_SIZE + header.getUint16(26, true) + header.getUint16(28, true);
    if (start + entry.compressedSize > this.file.size) {
      throw new WeightsError(path, `zip entry '${entry.name}' extends past the end of the file`, RESAVE);
    }
    return start;
  }
}

interface CentralDirectory {
  readonly offset: number;
  readonly size: number;
  readonly count: number;
}

async function locateCentralDirectory(file: RandomAccessFile): Promise<CentralDirectory> {
  const path = file.path;
  const tailLength = Math.min(file.size, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE);
  const tailStart = file.size - tailLength;
  const tail = await file.read(tailStart, tailLength);
  const tailView = view(tail);
  // Search backwards: the record sits before an optional comment of up to 64 KiB.
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (
      tailView.getUint32(i, true) === EOCD_SIGNATURE &&
      i + EOCD_SIZE + tailView.getUint16(i + 20, true) <= tailLength
    ) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new WeightsError(path, "has no zip end-of-central-directory record", RESAVE);

  const disk = tailView.getUint16(eocd + 4, true);
  const directoryDisk = tailView.getUint16(eocd + 6, true);
  let count = tailView.getUint16(eocd + 10, true);
  let size = tailView.getUint32(eocd + 12, true);
  let offset = tailView.getUint32(eocd + 16, true);

  const locator = eocd - ZIP64_LOCATOR_SIZE;
  const hasZip64 = locator >= 0 && tailView.getUint32(locator, true) === ZIP64_LOCATOR_SIGNATURE;
  if (hasZip64) {
    const recordOffset = readUint64(path, tailView, locator + 8);
    if (recordOffset + ZIP64_EOCD_SIZE > file.size) {
      throw new WeightsError(
        path,
        "has a zip64 end-of-central-directory locator that points past the end of the file",
        RESAVE,
      );
    }
    const record = view(await file.read(recordOffset, ZIP64_EOCD_SIZE));
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) {
      throw new WeightsError(path, "has no zip64 end-of-central-directory record where its locator points", RESAVE);
    }
    if (record.getUint32(16, true) !== 0 || record.getUint32(20, true) !== 0) throw multiDisk(path);
    count = readUint64(path, record, 32);
    size = readUint64(path, record, 40);
    offset = readUint64(path, record, 48);
  } else if (count === SATURATED_16 || size === SATURATED_32 || offset === SATURATED_32) {
    throw new WeightsError(path, "needs zip64 directory records but has none", RESAVE);
  } else if (disk !== 0 || directoryDisk !== 0) {
    throw multiDisk(path);
  }
  if (offset + size > file.size) {
    throw new WeightsError(
      path,
      `has a zip central directory (bytes ${offset}..${offset + size}) past the end of the file`,
      RESAVE,
    );
  }
  if (size > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw new WeightsError(
      path,
      `has a zip central directory of ${size} bytes, more than the ${MAX_CENTRAL_DIRECTORY_BYTES} any torch checkpoint needs`,
      RESAVE,
    );
  }
  return { offset, size, count };
}

function parseCentralDirectory(file: RandomAccessFile, bytes: Uint8Array, count: number): ZipEntry[] {
  const path = file.path;
  const data = view(bytes);
  const names = new TextDecoder("utf-8");
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let index = 0; index < count; index++) {
    if (at + CENTRAL_HEADER_SIZE > bytes.byteLength || data.getUint32(at, true) !== CENTRAL_SIGNATURE) {
      throw new WeightsError(path, `has a damaged zip central directory (entry ${index} of ${count})`, RESAVE);
    }
    const nameLength = data.getUint16(at + 28, true);
    const extraLength = data.getUint16(at + 30, true);
    const commentLength = data.getUint16(at + 32, true);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (next > bytes.byteLength) {
      throw new WeightsError(path, `has a damaged zip central directory (entry ${index} of ${count})`, RESAVE);
    }
    const name = names.decode(bytes.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength));
    let size = data.getUint32(at + 24, true);
    let compressedSize = data.getUint32(at + 20, true);
    let localHeaderOffset = data.getUint32(at + 42, true);
    let diskStart = data.getUint16(at + 34, true);

    // zip64 extra field: 64-bit values, present only for the fields saturated above, in this order.
    const extraStart = at + CENTRAL_HEADER_SIZE + nameLength;
    const zip64 = findExtra(data, extraStart, extraStart + extraLength, ZIP64_EXTRA_ID);
    if (zip64 !== undefined) {
      let field = zip64.start;
      const take64 = (): number => {
        if (field + 8 > zip64.end)
          throw new WeightsError(path, `zip entry '${name}' has a short zip64 extra field`, RESAVE);
        const value = readUint64(path, data, field);
        field += 8;
        return value;
      };
      if (size === SATURATED_32) size = take64();
      if (compressedSize === SATURATED_32) compressedSize = take64();
      if (localHeaderOffset === SATURATED_32) localHeaderOffset = take64();
      if (diskStart === SATURATED_16 && field + 4 <= zip64.end) diskStart = data.getUint32(field, true);
    } else if (size === SATURATED_32 || compressedSize === SATURATED_32 || localHeaderOffset === SATURATED_32) {
      throw new WeightsError(path, `zip entry '${name}' needs a zip64 extra field but has none`, RESAVE);
    }
    if (diskStart !== 0) throw multiDisk(path);

    entries.push({
      name,
      method: data.getUint16(at + 10, true),
      flags: data.getUint16(at + 8, true),
      compressedSize,
      size,
      localHeaderOffset,
    });
    at = next;
  }
  return entries;
}

function findExtra(data: DataView, start: number, end: number, id: number): { start: number; end: number } | undefined {
  let at = start;
  while (at + 4 <= end) {
    const fieldId = data.getUint16(at, true);
    const length = data.getUint16(at + 2, true);
    if (at + 4 + length > end) return undefined;
    if (fieldId === id) return { start: at + 4, end: at + 4 + length };
    at += 4 + length;
  }
  return undefined;
}

function readUint64(path: string, data: DataView, at: number): number {
  const value = data.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WeightsError(path, `has a zip64 field of ${value}, too large to be a real offset or size`, RESAVE);
  }
  return Number(value);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function multiDisk(path: string): WeightsError {
  return new WeightsError(path, "is a multi-disk (split) zip archive", "join the parts into one file");
}
