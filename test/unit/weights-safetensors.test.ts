import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openWeights } from "../../runtime/weights/open.js";
import { openSafetensors, writeSafetensors } from "../../runtime/weights/safetensors.js";
import { WeightsError } from "../../runtime/weights/types.js";
import { assertSameFloats, expected, fixture, rejectsOneLine } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";

test("reads every dtype of a file written by another writer, keys in file order", async () => {
  const source = await openSafetensors(fixture("basic.safetensors"));
  try {
    assert.equal(source.format, "safetensors");
    assert.deepEqual(source.keys(), expected.safetensors_keys);
    assert.deepEqual(source.metadata, { format: "pt", note: "fxc test" });
    for (const key of expected.safetensors_keys) {
      const want = expected.safetensors[key]!;
      assert.deepEqual(source.info(key), { key, dtype: want.dtype, shape: want.shape });
      assertSameFloats(await source.readFloat32(key), want.bits, key);
    }
    assert.equal(source.info("missing"), undefined);
    await rejectsOneLine(source.readFloat32("missing"), /has no tensor named 'missing'/, /basic\.safetensors/);
  } finally {
    await source.close();
  }
});

describe("writeSafetensors", () => {
  test("round trip keeps keys (integer-like ones too), order, shapes, values and metadata", async () => {
    const dir = await tempDir("weights");
    const path = join(dir, "nested", "out.safetensors");
    const tensors = [
      { key: "b.weight", shape: [2, 3], data: Float32Array.from([1, -2, 3.5, Number.NaN, Infinity, -0]) },
      { key: "10", shape: [], data: Float32Array.from([7]) },
      { key: "2", shape: [0, 4], data: new Float32Array(0) },
      { key: "a", shape: [3], data: new Float32Array([9, 8, 7, 6, 5]).subarray(1, 4) }, // a view with an offset
    ];
    await writeSafetensors(path, tensors, { source: "fxc", "1": "one" });
    const bytes = await readFile(path);
    const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0, "header padded to 8 bytes");
    assert.match(bytes.subarray(8, 8 + headerLength).toString("latin1"), /^\{"__metadata__":.*\} *$/);
    assert.deepEqual(await readdir(join(dir, "nested")), ["out.safetensors"], "no temp file left");

    const source = await openSafetensors(path);
    try {
      assert.deepEqual(source.keys(), ["b.weight", "10", "2", "a"]);
      assert.deepEqual(source.metadata, { source: "fxc", "1": "one" });
      for (const { key, shape, data } of tensors) {
        assert.deepEqual(source.info(key), { key, dtype: "F32", shape });
        const got = await source.readFloat32(key);
        assert.deepEqual(
          new Uint8Array(got.buffer, got.byteOffset, got.byteLength),
          new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        );
      }
    } finally {
      await source.close();
    }
  });

  test("refuses mismatched data before creating any file", async () => {
    const dir = await tempDir("weights");
    const path = join(dir, "bad.safetensors");
    await rejectsOneLine(
      writeSafetensors(path, [{ key: "x", shape: [2, 2], data: new Float32Array(3) }]),
      /'x' has 3 values/,
    );
    await rejectsOneLine(
      writeSafetensors(path, [
        { key: "x", shape: [1], data: new Float32Array(1) },
        { key: "x", shape: [1], data: new Float32Array(1) },
      ]),
      /repeated/,
    );
    await rejectsOneLine(
      writeSafetensors(path, [{ key: "__metadata__", shape: [1], data: new Float32Array(1) }]),
      /reserved/,
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

/** A valid file's bytes with its JSON header replaced (re-padded) and the given data section. */
function craft(header: string, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("malformed files are refused with one-line errors", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /too short/],
    ["header longer than file", craft("{}", new Uint8Array(0), 1000n), /header claims 1000 bytes/],
    ["not JSON", craft("{not json}"), /not valid JSON/],
    ["not an object", craft("[1, 2]      "), /does not start with '\{'|not a JSON object/],
    ["bad UTF-8", craft('{"x":1}').map((byte, i) => (i === 10 ? 0xff : byte)), /UTF-8/],
    ["unknown dtype", craft('{"x":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /dtype U32/],
    [
      "bad shape",
      craft('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /'x' has a shape/,
    ],
    [
      "offsets out of range",
      craft('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(4)),
      /'x' needs data bytes 0\.\.8/,
    ],
    [
      "size mismatch",
      craft('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(8)),
      /'x' has 4 bytes of data but shape \[2\]/,
    ],
    [
      "reversed offsets",
      craft('{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', new Uint8Array(8)),
      /end before they begin/,
    ],
    [
      "overlap",
      craft(
        '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      /'x' and 'y' overlap/,
    ],
    ["bad metadata", craft('{"__metadata__":{"a":1}}'), /__metadata__ entry 'a'/],
    [
      // JSON.parse keeps the last one; before, the first tensor vanished without a word.
      "repeated key",
      craft(
        '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"\\u0078":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        new Uint8Array(8),
      ),
      /safetensors header names tensor 'x' more than once/,
    ],
  ];
  for (const [name, bytes, pattern] of cases) {
    test(name, async () => {
      const dir = await tempDir("weights");
      const path = join(dir, `${name.replace(/\W/g, "_")}.safetensors`);
      await writeFile(path, bytes);
      const error = await rejectsOneLine(openSafetensors(path), pattern);
      assert.ok(error instanceof WeightsError);
      assert.ok(error.message.startsWith(path), error.message);
    });
  }

  test("a header length past the end of the file says truncated, also when the format is sniffed", async () => {
    const dir = await tempDir("weights");
    const bytes = await readFile(fixture("basic.safetensors"));
    const path = join(dir, "cut-header.safetensors");
    const headerLength = Number(bytes.readBigUInt64LE(0));
    await writeFile(path, bytes.subarray(0, 8 + Math.floor(headerLength / 2)));
    await rejectsOneLine(openWeights(path), new RegExp(`cut-header\\.safetensors: is truncated: its safetensors header claims ${headerLength} bytes but only ${Math.floor(headerLength / 2)} follow`));
  });

  test("truncated copy of a real file", async () => {
    const dir = await tempDir("weights");
    const bytes = await readFile(fixture("basic.safetensors"));
    const path = join(dir, "cut.safetensors");
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    await rejectsOneLine(openSafetensors(path), /out of range or truncated/);
  });
});
