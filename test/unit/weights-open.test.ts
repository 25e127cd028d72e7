import assert from "node:assert/strict";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { detectFormat, openWeights } from "../../runtime/weights/open.js";
import { WeightsError } from "../../runtime/weights/types.js";
import { assertSameFloats, expected, fixture, rejectsOneLine } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";

describe("format detection by content, not extension", () => {
  test("zip, legacy and safetensors under misleading names", async () => {
    const dir = await tempDir("weights");
    const cases: [string, string, "pth" | "safetensors"][] = [
      ["zip.pth", "a.safetensors", "pth"],
      ["legacy.pth", "b.bin", "pth"],
      ["basic.safetensors", "c.pth", "safetensors"],
    ];
    for (const [source, name, format] of cases) {
      const path = join(dir, name);
      await copyFile(fixture(source), path);
      assert.equal(await detectFormat(path), format, source);
      const weights = await openWeights(path);
      try {
        assert.equal(weights.format, format);
        assert.equal(weights.path, path);
      } finally {
        await weights.close();
      }
    }
  });

  test("a safetensors header length whose first byte is 0x80 is not mistaken for a pickle", async () => {
    const dir = await tempDir("weights");
    const path = join(dir, "x");
    const json = '{"__metadata__":{"pad":"x"},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.padEnd(0x280, " ");
    const bytes = new Uint8Array(8 + json.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(new TextEncoder().encode(json), 8);
    new DataView(bytes.buffer).setFloat32(8 + json.length, 1.5, true);
    await writeFile(path, bytes);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x80, 0x02]);
    const weights = await openWeights(path);
    try {
      assert.equal(weights.format, "safetensors");
      assert.deepEqual([...(await weights.readFloat32("t"))], [1.5]);
    } finally {
      await weights.close();
    }
  });

  test("unknown, empty and missing files give one-line errors naming the file", async () => {
    const dir = await tempDir("weights");
    const text = join(dir, "notes.pth");
    await writeFile(text, "hello, these are not weights\n");
    await rejectsOneLine(
      openWeights(text),
      /notes\.pth/,
      /not in a weights format/,
      /torch\.save checkpoints .* \.safetensors/,
    );
    const empty = join(dir, "empty.safetensors");
    await writeFile(empty, "");
    await rejectsOneLine(openWeights(empty), /empty\.safetensors: is empty/);
    const missing = join(dir, "missing.pth");
    const error = await rejectsOneLine(openWeights(missing), /missing\.pth/, /not found/);
    assert.ok(error instanceof WeightsError);
    await rejectsOneLine(openWeights(dir), /is a directory/);
  });
});

describe("truncated and damaged checkpoints", () => {
  async function cut(name: string, keep: (length: number) => number): Promise<string> {
    const dir = await tempDir("weights");
    const bytes = await readFile(fixture(name));
    const path = join(dir, `cut-${name}`);
    await writeFile(path, bytes.subarray(0, keep(bytes.length)));
    return path;
  }

  test("zip cut in half", async () => {
    await rejectsOneLine(
      openWeights(await cut("zip.pth", (n) => n >> 1)),
      /no zip end-of-central-directory/,
      /truncated/,
    );
  });

  test("legacy cut inside its pickle", async () => {
    await rejectsOneLine(openWeights(await cut("legacy.pth", () => 300)), /truncated/);
  });

  test("legacy cut inside its storages", async () => {
    await rejectsOneLine(openWeights(await cut("legacy.pth", (n) => n - 10)), /storage '\d+' runs past the end/);
  });

  test("a pickle that is not a torch checkpoint", async () => {
    const dir = await tempDir("weights");
    const path = join(dir, "plain.pkl");
    await writeFile(path, Uint8Array.from([0x80, 0x02, 0x7d, 0x2e])); // pickle.dumps({}, 2)
    await rejectsOneLine(openWeights(path), /not a torch checkpoint/);
  });

  test("a re-zipped (deflated) checkpoint", async () => {
    await rejectsOneLine(openWeights(fixture("compressed.pth")), /compressed \(method 8\)/, /torch\.save/);
  });
});

describe("prefix", () => {
  test("selects keys under the prefix and strips it", async () => {
    const weights = await openWeights(fixture("checkpoint.pth"), { prefix: "backbone.body." });
    try {
      assert.deepEqual(weights.keys(), ["conv1.weight", "conv1.bias"]);
      assert.deepEqual(weights.info("conv1.weight"), { key: "conv1.weight", dtype: "F32", shape: [2, 1, 1, 1] });
      assert.equal(weights.info("backbone.body.conv1.weight"), undefined);
      assert.equal(weights.info("fpn.weight"), undefined);
      assertSameFloats(
        await weights.readFloat32("conv1.weight"),
        expected.checkpoint["backbone.body.conv1.weight"]!.bits,
        "conv1.weight",
      );
      await rejectsOneLine(weights.readFloat32("backbone.body.conv1.weight"), /no tensor named/);
    } finally {
      await weights.close();
    }
  });

  test("works the same on safetensors", async () => {
    const weights = await openWeights(fixture("basic.safetensors"), { prefix: "a." });
    try {
      assert.deepEqual(weights.keys(), ["half"]);
      assert.equal(weights.info("half")?.dtype, "F16");
    } finally {
      await weights.close();
    }
  });

  test("a prefix that matches nothing lists up to five that exist", async () => {
    await rejectsOneLine(
      openWeights(fixture("checkpoint.pth"), { prefix: "backbone.bdy." }),
      /no tensor key starts with 'backbone\.bdy\.'/,
      /'backbone\.body\.', 'backbone\.fpn\.', 'head\.'/,
    );
    const error = await rejectsOneLine(openWeights(fixture("zip.pth"), { prefix: "model." }), /'conv\.', 'bn\.'/);
    assert.doesNotMatch(error.message, /'half\.'|'\.'/);
  });
});
