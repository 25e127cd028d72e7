import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { assertSameFloats, fixture, rejectsOneLine } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";

interface ExpectedNpy {
  readonly shape: number[];
  readonly dtype: string;
  readonly bits: number[];
}

const expectedNpy = JSON.parse(await readFile(fixture("npy.json"), "utf8")) as Record<string, ExpectedNpy>;

describe("readNpy", () => {
  for (const [name, want] of Object.entries(expectedNpy)) {
    test(`${name}.npy (${want.dtype}, shape [${want.shape.join(", ")}])`, async () => {
      const array = await readNpy(fixture(`${name}.npy`));
      assert.deepEqual(array.shape, want.shape);
      assert.equal(array.dtype, want.dtype);
      assertSameFloats(array.data, want.bits, name);
    });
  }

  test("format versions 2.0 and 3.0", async () => {
    const f4 = expectedNpy["f4"]!;
    for (const name of ["v2.npy", "v3.npy"]) {
      const array = await readNpy(fixture(name));
      assert.deepEqual(array.shape, f4.shape);
      assertSameFloats(array.data, f4.bits, name);
    }
  });

  test("Fortran order is refused and says to use np.ascontiguousarray", async () => {
    await rejectsOneLine(readNpy(fixture("fortran.npy")), /fortran\.npy/, /Fortran/, /np\.ascontiguousarray/);
  });

  test("big-endian data is refused", async () => {
    await rejectsOneLine(readNpy(fixture("bigendian.npy")), /big-endian data \(>f4\)/);
  });

  test("missing, non-npy, truncated and malformed files", async () => {
    const dir = await tempDir("weights");
    await rejectsOneLine(readNpy(join(dir, "none.npy")), /none\.npy: \.npy file not found/);
    const text = join(dir, "text.npy");
    await writeFile(text, "not numpy at all");
    await rejectsOneLine(readNpy(text), /not a \.npy file/);
    const bytes = await readFile(fixture("f4.npy"));
    const cut = join(dir, "cut.npy");
    await writeFile(cut, bytes.subarray(0, bytes.length - 4));
    await rejectsOneLine(readNpy(cut), /truncated: shape \(2, 3, 4\) needs 96 data bytes but 92 remain/);
    const headerCut = join(dir, "header-cut.npy");
    await writeFile(headerCut, bytes.subarray(0, 40));
    await rejectsOneLine(readNpy(headerCut), /truncated inside its header/);
    const weird = join(dir, "weird.npy");
    const patched = Buffer.from(bytes);
    patched.write("'<c8'", bytes.indexOf("'<f4'"), "latin1");
    await writeFile(weird, patched);
    await rejectsOneLine(readNpy(weird), /dtype '<c8'/);
  });
});

describe("writeNpy", () => {
  test("round trips shapes including scalars, 1-D and empty arrays, atomically", async () => {
    const dir = await tempDir("weights");
    const cases: [number[], Float32Array][] = [
      [[2, 3], Float32Array.from([1, -2, 3.25, Number.NaN, -Infinity, -0])],
      [[], Float32Array.from([42])],
      [[5], Float32Array.from([1, 2, 3, 4, 5])],
      [[0, 7], new Float32Array(0)],
      [[1, 1, 1, 2], new Float32Array([0, 1, 2, 3]).subarray(2)],
    ];
    for (const [index, [shape, data]] of cases.entries()) {
      const path = join(dir, "out", `${index}.npy`);
      await writeNpy(path, shape, data);
      const bytes = await readFile(path);
      assert.equal(bytes[6], 1, "version 1.0");
      assert.equal((10 + bytes.readUInt16LE(8)) % 64, 0, "header aligned to 64 bytes");
      const back = await readNpy(path);
      assert.deepEqual(back.shape, shape);
      assert.equal(back.dtype, "<f4");
      assert.deepEqual(
        new Uint8Array(back.data.buffer, back.data.byteOffset, back.data.byteLength),
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
    }
    assert.deepEqual((await readdir(join(dir, "out"))).sort(), ["0.npy", "1.npy", "2.npy", "3.npy", "4.npy"]);
  });

  test("the header is what numpy writes", async () => {
    const dir = await tempDir("weights");
    const path = join(dir, "same.npy");
    const reference = await readFile(fixture("f4.npy"));
    const array = await readNpy(fixture("f4.npy"));
    await writeNpy(path, array.shape, array.data);
    assert.deepEqual(await readFile(path), reference);
  });

  test("refuses data that does not match the shape", async () => {
    const dir = await tempDir("weights");
    await rejectsOneLine(writeNpy(join(dir, "x.npy"), [2, 2], new Float32Array(3)), /3 values for shape \[2, 2\]/);
    await rejectsOneLine(writeNpy(join(dir, "x.npy"), [-1], new Float32Array(0)), /cannot write shape/);
    assert.deepEqual(await readdir(dir), []);
  });
});
