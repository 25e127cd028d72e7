import assert from "node:assert/strict";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RandomAccessFile } from "../../runtime/weights/file.js";
import { openPth } from "../../runtime/weights/pth.js";
import { ZipReader } from "../../runtime/weights/zip.js";
import { assertSameFloats, expected, fixture } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";

test("the zip reader lists torch's entries and reads them through their local headers", async () => {
  const file = await RandomAccessFile.open(fixture("zip.pth"));
  try {
    const zip = await ZipReader.open(file);
    const names = zip.entries.map((entry) => entry.name);
    assert.ok(names.includes("zip/data.pkl"));
    assert.ok(names.includes("zip/version"));
    assert.equal(new TextDecoder().decode(await zip.read(zip.entry("zip/version")!)).trim(), "3");
    const pickle = await zip.read(zip.entry("zip/data.pkl")!);
    assert.equal(pickle[0], 0x80);
    assert.equal(pickle[pickle.length - 1], 0x2e); // STOP
  } finally {
    await file.close();
  }
});

const HUGE = 4.5 * 2 ** 30; // past every 32-bit zip field

/** Little-endian fields in order; 8-byte fields are bigint. */
function fields(...values: [size: 2 | 4 | 8, value: number][]): Buffer {
  const out = Buffer.alloc(values.reduce((sum, [size]) => sum + size, 0));
  let at = 0;
  for (const [size, value] of values) {
    if (size === 2) out.writeUInt16LE(value, at);
    else if (size === 4) out.writeUInt32LE(value, at);
    else out.writeBigUInt64LE(BigInt(value), at);
    at += size;
  }
  return out;
}

/**
 * A real > 4 GiB zip64 checkpoint, as torch writes for big models: a 4.5 GiB padding entry first (a sparse
 * hole, so it costs no disk), then the entries of zip.pth, whose offsets now need zip64 fields.
 */
test(
  "zip64 offsets beyond 4 GiB (sparse file)",
  { skip: process.platform === "win32" && "no cheap sparse files" },
  async () => {
    const source = await RandomAccessFile.open(fixture("zip.pth"));
    const contents: { name: string; data: Uint8Array | undefined; size: number }[] = [
      { name: "zip/pad", data: undefined, size: HUGE },
    ];
    try {
      const zip = await ZipReader.open(source);
      for (const entry of zip.entries)
        contents.push({ name: entry.name, data: await zip.read(entry), size: entry.size });
    } finally {
      await source.close();
    }

    const dir = await tempDir("weights");
    const path = join(dir, "huge.pth");
    const handle = await open(path, "w");
    const central: Buffer[] = [];
    let position = 0;
    try {
      for (const { name, data, size } of contents) {
        const nameBytes = Buffer.from(name);
        const bigSize = size >= 0xffffffff;
        const localExtra = bigSize ? fields([2, 1], [2, 16], [8, size], [8, size]) : Buffer.alloc(0);
        const small = bigSize ? 0xffffffff : size;
        const local = Buffer.concat([
          fields(
            [4, 0x04034b50],
            [2, 45],
            [2, 0],
            [2, 0],
            [2, 0],
            [2, 0],
            [4, 0],
            [4, small],
            [4, small],
            [2, nameBytes.length],
            [2, localExtra.length],
          ),
          nameBytes,
          localExtra,
        ]);
        await handle.write(local, 0, local.length, position);
        const offset = position;
        position += local.length;
        if (data !== undefined) await handle.write(data, 0, data.length, position);
        position += size; // the padding entry's bytes are never written: a hole

        const big: [8, number][] = [];
        if (bigSize) big.push([8, size], [8, size]);
        if (offset >= 0xffffffff) big.push([8, offset]);
        const extra =
          big.length > 0 ? Buffer.concat([fields([2, 1], [2, big.length * 8]), fields(...big)]) : Buffer.alloc(0);
        central.push(
          Buffer.concat([
            fields(
              [4, 0x02014b50],
              [2, 45],
              [2, 45],
              [2, 0],
              [2, 0],
              [2, 0],
              [2, 0],
              [4, 0],
              [4, small],
              [4, small],
              [2, nameBytes.length],
              [2, extra.length],
              [2, 0],
              [2, 0],
              [2, 0],
              [4, 0],
              [4, offset >= 0xffffffff ? 0xffffffff : offset],
            ),
            nameBytes,
            extra,
          ]),
        );
      }
      const directory = Buffer.concat(central);
      const directoryOffset = position;
      const zip64End = directoryOffset + directory.length;
      const tail = Buffer.concat([
        directory,
        fields(
          [4, 0x06064b50],
          [8, 44],
          [2, 45],
          [2, 45],
          [4, 0],
          [4, 0],
          [8, central.length],
          [8, central.length],
          [8, directory.length],
          [8, directoryOffset],
        ),
        fields([4, 0x07064b50], [4, 0], [8, zip64End], [4, 1]),
        fields([4, 0x06054b50], [2, 0], [2, 0], [2, 0xffff], [2, 0xffff], [4, 0xffffffff], [4, 0xffffffff], [2, 0]),
      ]);
      await handle.write(tail, 0, tail.length, directoryOffset);
    } finally {
      await handle.close();
    }
    assert.ok((await stat(path)).size > HUGE);

    const weights = await openPth(path);
    try {
      assert.deepEqual(weights.keys(), expected.basic_keys);
      for (const key of expected.basic_keys)
        assertSameFloats(await weights.readFloat32(key), expected.basic[key]!.bits, key);
    } finally {
      await weights.close();
    }
  },
);
