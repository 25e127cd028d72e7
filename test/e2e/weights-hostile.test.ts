import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { open, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { NpyError, readNpy, writeNpy } from "../../runtime/io/npy.js";
import { useBackend } from "../../runtime/backend.js";
import { loadParams, nonFiniteWarning } from "../../runtime/params.js";
import { memorySource } from "../../runtime/weights/memory.js";
import { writeSafetensors } from "../../runtime/weights/safetensors.js";
import { RESNET18_CASE, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { RandomAccessFile } from "../../runtime/weights/file.js";
import { DEFAULT_WEIGHTS_LIMITS, LimitSettingError, weightsLimits } from "../../runtime/weights/limits.js";
import { openWeights } from "../../runtime/weights/open.js";
import { PickleLimitError, PickleList, unpickle } from "../../runtime/weights/pickle.js";
import { WeightsError } from "../../runtime/weights/types.js";
import { MAX_CENTRAL_DIRECTORY_BYTES, ZipReader } from "../../runtime/weights/zip.js";
import { assertSameFloats, fixture, rejectsOneLine } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";
import { assertOneLineError, fxc } from "../support/cli.js";

/** Crafted inputs (special files, pickles that amplify memory, inconsistent containers) fail fast with one line. */

const posix = process.platform !== "win32";

/** Little-endian unsigned fields of 2 or 4 bytes, in order. */
function fields(...values: [size: 2 | 4, value: number][]): Buffer {
  const out = Buffer.alloc(values.reduce((sum, [size]) => sum + size, 0));
  let at = 0;
  for (const [size, value] of values) {
    if (size === 2) out.writeUInt16LE(value, at);
    else out.writeUInt32LE(value, at);
    at += size;
  }
  return out;
}

interface ZipContent {
  readonly name: string;
  readonly data: Uint8Array;
  /** The uncompressed size the central directory claims; the data's length unless a test lies. */
  readonly declaredSize?: number;
}

/** A zip of stored entries, as torch.save writes them (no CRC: fxc's reader does not check it). */
function storedZip(contents: readonly ZipContent[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const { name, data, declaredSize } of contents) {
    const nameBytes = Buffer.from(name);
    const local = Buffer.concat([
      fields([4, 0x04034b50], [2, 20], [2, 0], [2, 0], [2, 0], [2, 0], [4, 0], [4, data.length], [4, data.length], [2, nameBytes.length], [2, 0]),
      nameBytes,
    ]);
    parts.push(local, Buffer.from(data));
    central.push(
      Buffer.concat([
        fields(
          [4, 0x02014b50], [2, 20], [2, 20], [2, 0], [2, 0], [2, 0], [2, 0], [4, 0],
          [4, data.length], [4, declaredSize ?? data.length],
          [2, nameBytes.length], [2, 0], [2, 0], [2, 0], [2, 0], [4, 0], [4, offset],
        ),
        nameBytes,
      ]),
    );
    offset += local.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = fields([4, 0x06054b50], [2, 0], [2, 0], [2, contents.length], [2, contents.length], [4, directory.length], [4, offset], [2, 0]);
  return Buffer.concat([...parts, directory, end]);
}

/** The entries of the zip.pth fixture (a real torch checkpoint), as stored. */
async function torchZipEntries(): Promise<{ name: string; data: Uint8Array }[]> {
  const file = await RandomAccessFile.open(fixture("zip.pth"));
  try {
    const zip = await ZipReader.open(file);
    return await Promise.all(zip.entries.map(async (entry) => ({ name: entry.name, data: await zip.read(entry) })));
  } finally {
    await file.close();
  }
}

/** A protocol-2 pickle: PROTO 2, `body`, STOP. */
function pickle(body: Uint8Array | string): Uint8Array {
  const bytes = typeof body === "string" ? Buffer.from(body, "latin1") : body;
  return Buffer.concat([Buffer.from([0x80, 0x02]), bytes, Buffer.from(".")]);
}

/** A zip checkpoint whose data.pkl is `data`, written to a fresh temp file. */
async function checkpointWithPickle(data: Uint8Array, name = "crafted.pth"): Promise<string> {
  const path = join(await tempDir("weights"), name);
  await writeFile(path, storedZip([{ name: "crafted/data.pkl", data }]));
  return path;
}

/** Runs `f` and returns what it throws (failing if it does not throw). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail("expected a throw");
}

describe("only regular files are read", { skip: !posix && "needs symlinks to /dev/zero and FIFOs" }, () => {
  test("a symlink to /dev/zero named .pth or .npy is refused without reading", async () => {
    const dir = await tempDir("weights");
    await symlink("/dev/zero", join(dir, "zero.pth"));
    await symlink("/dev/zero", join(dir, "zero.npy"));
    const weights = await rejectsOneLine(openWeights(join(dir, "zero.pth")), /zero\.pth: is a character device, not a regular file; pass the path of a weights file on disk/);
    assert.ok(weights instanceof WeightsError);
    const npy = await rejectsOneLine(readNpy(join(dir, "zero.npy")), /zero\.npy: is a character device, not a regular file; pass the path of a \.npy file on disk/);
    assert.ok(npy instanceof NpyError);
  });

  // Opening a FIFO for reading waits for a writer: without O_NONBLOCK these never settle (timeout = failure).
  test("a FIFO named .pth or .npy is refused at once instead of waiting for a writer", { timeout: 20_000 }, async () => {
    const dir = await tempDir("weights");
    execFileSync("mkfifo", [join(dir, "pipe.pth"), join(dir, "pipe.npy")]);
    await rejectsOneLine(openWeights(join(dir, "pipe.pth")), /pipe\.pth: is a FIFO \(named pipe\), not a regular file/);
    await rejectsOneLine(readNpy(join(dir, "pipe.npy")), /pipe\.npy: is a FIFO \(named pipe\), not a regular file/);
  });

  test("a symlink to a regular file is still read", async () => {
    const dir = await tempDir("weights");
    await symlink(fixture("f4.npy"), join(dir, "link.npy"));
    assert.deepEqual((await readNpy(join(dir, "link.npy"))).shape, (await readNpy(fixture("f4.npy"))).shape);
  });
});

describe(".npy sizes must fit the format", () => {
  /** A version 2.0 .npy: magic, a 4-byte header length (claimed), the header text, then `data`. */
  function npyV2(header: string, data: Uint8Array, claimedLength?: number): Buffer {
    const text = Buffer.from(header, "latin1");
    const length = Buffer.alloc(4);
    length.writeUInt32LE(claimedLength ?? text.length);
    return Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]), length, text, Buffer.from(data)]);
  }
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";

  test("a header length beyond numpy's bound is refused before it is read", async () => {
    const path = join(await tempDir("weights"), "long-header.npy");
    await writeFile(path, npyV2(header, new Uint8Array(8), 1_000_000_000));
    await rejectsOneLine(readNpy(path), /long-header\.npy: has a 1000000000-byte header, more than the 10000 bytes numpy itself reads/);
  });

  test("data past what the shape needs is refused", async () => {
    const path = join(await tempDir("weights"), "extra.npy");
    await writeFile(path, npyV2(header, new Uint8Array(8 + 5)));
    await rejectsOneLine(readNpy(path), /extra\.npy: has 5 bytes after the 8 data bytes its shape \(2\) needs/);
  });

  test("an exact file still reads", async () => {
    const path = join(await tempDir("weights"), "exact.npy");
    await writeFile(path, npyV2(header, new Uint8Array(new Float32Array([1.5, -2]).buffer)));
    assert.deepEqual([...(await readNpy(path)).data], [1.5, -2]);
  });
});

describe("pickle limits are enforced before allocating", () => {
  test("8 MB of EMPTY_DICT in data.pkl (3.6 GB before) stops at the object limit, naming how to raise it", async () => {
    const path = await checkpointWithPickle(pickle(Buffer.alloc(8_000_000, "}")));
    const error = await rejectsOneLine(
      openWeights(path),
      /crafted\.pth: has a pickle past fxc's limits: pickle makes more than 1000000 objects \(pickle byte \d+\); if you trust the file and it is really this large, set FXC_MAX_PICKLE_OBJECTS above 1000000/,
    );
    assert.ok(error instanceof WeightsError);
  });

  test("20 MB of EMPTY_DICT (aborted V8 before) stops at the object limit too", () => {
    const error = thrown(() => unpickle(pickle(Buffer.alloc(20_000_000, "}"))));
    assert.ok(error instanceof PickleLimitError);
    assert.equal(error.limit, "maxObjects");
    assert.equal(error.value, DEFAULT_WEIGHTS_LIMITS.maxObjects);
  });

  test("an INT with 20M digits (19 s and a 20 MB message before) is refused from its length, in a short line", async () => {
    const digits = Buffer.alloc(20_000_000, "7");
    const body = Buffer.concat([Buffer.from("I"), digits, Buffer.from("\n")]);
    const error = thrown(() => unpickle(pickle(body)));
    assert.ok(error instanceof PickleLimitError);
    assert.equal(error.limit, "maxIntegerDigits");
    assert.match(error.message, /^integer literal of 20000000 characters is longer than 4300 digits \(pickle byte 2\)$/);
    const path = await checkpointWithPickle(pickle(body));
    const weightsError = await rejectsOneLine(openWeights(path), /integer literal of 20000000 characters/, /limits: \{ maxIntegerDigits/);
    assert.ok(weightsError.message.length < 400, `${weightsError.message.length} characters`);
    // LONG (protocol 0's big integers) and LONG4 go through the same limit.
    assert.equal((thrown(() => unpickle(pickle(`L${"9".repeat(5000)}L\n`))) as PickleLimitError).limit, "maxIntegerDigits");
    const long4 = Buffer.concat([Buffer.from([0x8b]), fields([4, 5000]), Buffer.alloc(5000, 1)]);
    assert.equal((thrown(() => unpickle(pickle(long4))) as PickleLimitError).limit, "maxIntegerDigits");
  });

  test("an integer within the limit still parses", () => {
    assert.equal(unpickle(pickle(`I${"9".repeat(4300)}\n`)).value, BigInt("9".repeat(4300)));
  });

  test("data.pkl larger than the byte limit is refused before it is read", async () => {
    const path = await checkpointWithPickle(pickle(Buffer.alloc(100_000, "N0")));
    await rejectsOneLine(
      openWeights(path, { limits: { maxPickleBytes: 50_000 } }),
      /crafted\.pth: its pickle \(crafted\/data\.pkl\) is 100003 bytes, more than the limit of 50000; .*set FXC_MAX_PICKLE_BYTES above 50000/,
    );
  });

  test("a legacy checkpoint's pickles are bounded by the same byte limit", async () => {
    await rejectsOneLine(
      openWeights(fixture("legacy.pth"), { limits: { maxPickleBytes: 100 } }),
      /legacy\.pth: its pickles run past the first 100 bytes, the limit; .*set FXC_MAX_PICKLE_BYTES above 100/,
    );
  });

  test("a megabyte-long key quoted into an error keeps the line short", async () => {
    const key = "k".repeat(1_000_000);
    const json = `{"${key}":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}`;
    const bytes = Buffer.alloc(8 + json.length + 4);
    bytes.writeBigUInt64LE(BigInt(json.length));
    bytes.write(json, 8, "latin1");
    const path = join(await tempDir("weights"), "long-key.safetensors");
    await writeFile(path, bytes);
    const error = await rejectsOneLine(openWeights(path), /long-key\.safetensors: safetensors tensor 'k+\.\.\. \(\d+ characters left out\) \.\.\.k+' has dtype U32, which fxc does not read; convert it/);
    assert.ok(error.message.length < 1100, `${error.message.length} characters`);
  });

  test("MARKs nested deeper than the limit are refused", () => {
    const error = thrown(() => unpickle(pickle(Buffer.alloc(20_000, "("))));
    assert.ok(error instanceof PickleLimitError);
    assert.equal(error.limit, "maxMarkDepth");
    assert.match(error.message, /nests more than 10000 MARKs deep/);
  });

  test("memo entries count against the object limit", () => {
    // One value, then LONG_BINPUT under 1000 different indices.
    const puts = Buffer.concat(Array.from({ length: 1000 }, (_, i) => Buffer.concat([Buffer.from([0x72]), fields([4, i])])));
    const error = thrown(() => unpickle(pickle(Buffer.concat([Buffer.from("N"), puts])), { limits: { maxObjects: 100 } }));
    assert.ok(error instanceof PickleLimitError);
    assert.equal(error.limit, "maxObjects");
  });

  test("a MARK with 300k items (call stack overflow before) builds its list, or hits the object limit", () => {
    const items = Buffer.alloc(600_000);
    for (let i = 0; i < items.length; i += 2) items.set([0x4b, 1], i); // BININT1 1
    for (const [opcodes, make] of [
      ["(... LIST", (body: Buffer) => Buffer.concat([Buffer.from("("), body, Buffer.from("l")])],
      ["] (... APPENDS", (body: Buffer) => Buffer.concat([Buffer.from("]("), body, Buffer.from("e")])],
    ] as const) {
      const value = unpickle(pickle(make(items))).value;
      assert.ok(value instanceof PickleList, opcodes);
      assert.equal(value.items.length, 300_000, opcodes);
      const error = thrown(() => unpickle(pickle(make(items)), { limits: { maxObjects: 100_000 } }));
      assert.ok(error instanceof PickleLimitError, opcodes);
    }
  });

  test("text quoted from a pickle into a message is cut short", () => {
    const error = thrown(() => unpickle(pickle(`F${"x".repeat(1_000_000)}\n`)));
    assert.match(error.message, /^'x+\.\.\. \(\d+ characters left out\) \.\.\.x+' is not a float \(pickle byte 2\)$/);
    assert.ok(error.message.length < 1100);
  });

  test("the environment raises the limits a user could need more of; bad values are one line", () => {
    const limits = weightsLimits({}, { FXC_MAX_PICKLE_BYTES: "1000", FXC_MAX_PICKLE_OBJECTS: "5" });
    assert.equal(limits.maxPickleBytes, 1000);
    assert.equal(limits.maxObjects, 5);
    assert.equal(weightsLimits({ maxObjects: 7 }, { FXC_MAX_PICKLE_OBJECTS: "5" }).maxObjects, 7, "the API's option wins");
    assert.deepEqual(weightsLimits({}, {}), DEFAULT_WEIGHTS_LIMITS);
    const error = thrown(() => weightsLimits({}, { FXC_MAX_PICKLE_OBJECTS: "lots" }));
    assert.ok(error instanceof LimitSettingError);
    assert.match(error.message, /^FXC_MAX_PICKLE_OBJECTS="lots" is not a positive whole number; set it to one \(default 1000000\) or unset it$/);
  });
});

describe("legacy storage views are checked against their root storage", () => {
  /** legacy_view.pth with its view's (offset, size) replaced; the view holds elements 3..8 of a 10-element root. */
  async function withView(offset: number, size: number): Promise<string> {
    const bytes = Buffer.from(await readFile(fixture("legacy_view.pth")));
    const at = bytes.indexOf(Buffer.from([0x4b, 3, 0x4b, 5, 0x87])); // BININT1 3, BININT1 5, TUPLE3
    assert.ok(at > 0);
    bytes[at + 1] = offset;
    bytes[at + 3] = size;
    const path = join(await tempDir("weights"), `view-${offset}-${size}.pth`);
    await writeFile(path, bytes);
    return path;
  }

  test("a view starting past its root is refused (torch refuses it too)", async () => {
    await rejectsOneLine(
      openWeights(await withView(12, 5)),
      /view-12-5\.pth: has a pickle fxc cannot read: bad persistent id: storage view 'view' starts at element 12, past the end of its root storage 'root' of 10 elements/,
    );
  });

  test("a view running past its root is cut at the root's end, so its tensor cannot read the next storage", async () => {
    // Elements 8..12 of the root; the tensor (offset 1, 2x2) would need elements 9..12.
    await rejectsOneLine(openWeights(await withView(8, 5)), /tensor 'view_tensor' .* reaches element 4 of a storage of 2/);
  });

  test("a view running past its root whose tensor stays inside loads as torch loads it", async () => {
    const source = await openWeights(await withView(3, 8));
    try {
      assertSameFloats(await source.readFloat32("view_tensor"), [...new Uint32Array(new Float32Array([4, 5, 6, 7]).buffer)], "view_tensor");
    } finally {
      await source.close();
    }
  });
});

test("a stored zip entry whose size differs from its stored size is refused (garbage up to 3.7e33 before)", async () => {
  const entries = await torchZipEntries();
  const storage = entries.find((entry) => /\/data\/\d+$/.test(entry.name))!;
  const path = join(await tempDir("weights"), "sizes.pth");
  await writeFile(path, storedZip(entries.map((entry) => (entry === storage ? { ...entry, declaredSize: entry.data.length + 400 } : entry))));
  const source = await openWeights(path);
  try {
    const reads = source.keys().map((key) => source.readFloat32(key));
    const settled = await Promise.allSettled(reads);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    assert.ok(failure !== undefined, "some tensor lives in the damaged entry");
    await rejectsOneLine(
      Promise.reject(failure.reason as Error),
      new RegExp(`sizes\\.pth: zip entry '${storage.name}' is stored uncompressed but its size \\(${storage.data.length + 400}\\) differs from its stored size \\(${storage.data.length}\\)`),
    );
  } finally {
    await source.close();
  }
});

test("a zip central directory larger than any checkpoint needs is refused before it is read", { skip: !posix && "no cheap sparse files" }, async () => {
  const path = join(await tempDir("weights"), "directory.pth");
  const size = MAX_CENTRAL_DIRECTORY_BYTES + 100;
  const handle = await open(path, "w");
  try {
    await handle.write(Buffer.from([0x50, 0x4b, 0x03, 0x04]), 0, 4, 0);
    // A hole, then the end record claiming all of it as directory: the file is as large as it says.
    const end = fields([4, 0x06054b50], [2, 0], [2, 0], [2, 1], [2, 1], [4, size], [4, 0], [2, 0]);
    await handle.write(end, 0, end.length, size);
  } finally {
    await handle.close();
  }
  await rejectsOneLine(openWeights(path), new RegExp(`directory\\.pth: has a zip central directory of ${size} bytes, more than the ${MAX_CENTRAL_DIRECTORY_BYTES}`));
});

test("NaN and infinite weights give one warning naming the first key and how many", () => {
  const tensors = new Map([
    ["a.weight", new Float32Array([1, 2])],
    ["b.weight", new Float32Array([1, Number.NaN])],
    ["c.bias", new Float32Array([Number.POSITIVE_INFINITY])],
    ["d.bias", new Float32Array([Number.NEGATIVE_INFINITY, 0])],
  ]);
  assert.equal(
    nonFiniteWarning("m.pth", tensors),
    "m.pth: tensor 'b.weight' and 2 other tensors hold NaN or infinite values (loaded as they are, as torch does); features computed from them will be NaN or infinite",
  );
  assert.match(nonFiniteWarning("m.pth", new Map([["x", new Float32Array([Number.NaN])]]))!, /^m\.pth: tensor 'x' holds NaN/);
  assert.equal(nonFiniteWarning("m.pth", new Map([["x", new Float32Array([0, -1e38, 3e38])]])), undefined);
});

describe("fxc extract says the same in one line", { skip: !posix && "needs symlinks to /dev/zero and FIFOs" }, () => {
  test("a .npy input that links to /dev/zero, and weights that are a FIFO", { timeout: 120_000 }, async () => {
    const dir = await tempDir("weights");
    await symlink("/dev/zero", join(dir, "zero.npy"));
    execFileSync("mkfifo", [join(dir, "pipe.pth")]);
    const out = join(dir, "f.safetensors");
    const zeroInput = await fxc(["extract", "resnet18", "--return", "maxpool", "--weights", fixture("zip.pth"), "--input", join(dir, "zero.npy"), "--out", out]);
    assertOneLineError(zeroInput, /^fxc: .*zero\.npy: is a character device, not a regular file; pass the path of a \.npy file on disk$/, { code: 1 });
    const x = join(dir, "x.npy");
    await writeNpy(x, [1, 16, 16, 3], new Float32Array(16 * 16 * 3));
    const pipeWeights = await fxc(["extract", "resnet18", "--return", "maxpool", "--weights", join(dir, "pipe.pth"), "--input", x, "--out", out]);
    assertOneLineError(pipeWeights, /^fxc: .*pipe\.pth: is a FIFO \(named pipe\), not a regular file; pass the path of a weights file on disk$/, { code: 1 });
  });

  test("a data.pkl of 8 MB of EMPTY_DICT, and a bad limit setting", { timeout: 120_000 }, async () => {
    const path = await checkpointWithPickle(pickle(Buffer.alloc(8_000_000, "}")));
    const dir = await tempDir("weights");
    const x = join(dir, "x.npy");
    await writeNpy(x, [1, 16, 16, 3], new Float32Array(16 * 16 * 3));
    const args = ["extract", "resnet18", "--return", "maxpool", "--weights", path, "--input", x, "--out", join(dir, "f.safetensors")];
    assertOneLineError(await fxc(args), /crafted\.pth: has a pickle past fxc's limits: pickle makes more than 1000000 objects .*set FXC_MAX_PICKLE_OBJECTS above 1000000/, { code: 1 });
    assertOneLineError(await fxc(args, { env: { FXC_MAX_PICKLE_OBJECTS: "-3" } }), /^fxc: FXC_MAX_PICKLE_OBJECTS="-3" is not a positive whole number/, { code: 1 });
  });
});

test("loadParams warns once about NaN weights and still loads them", async () => {
  await useBackend("cpu");
  const source = memorySource(new Map([["w", { shape: [2], data: new Float32Array([Number.NaN, 1]) }]]), "nan.pth");
  const warnings: string[] = [];
  const params = await loadParams(source, { w: [2] }, [{ id: "w", source: { key: "w" }, transform: "none" }], (m) => warnings.push(m));
  try {
    assert.deepEqual(warnings, ["nan.pth: tensor 'w' holds NaN or infinite values (loaded as they are, as torch does); features computed from them will be NaN or infinite"]);
    const values = await params["w"]!.data();
    assert.ok(Number.isNaN(values[0]) && values[1] === 1);
  } finally {
    for (const t of Object.values(params)) t.dispose();
  }
});

test("fxc extract prints the NaN warning once, in one thread and in two workers", { timeout: 300_000 }, async () => {
  const dir = await tempDir("weights");
  const real = await openWeights(RESNET18_WEIGHTS);
  const tensors = [];
  try {
    for (const key of real.keys()) {
      const data = await real.readFloat32(key);
      if (key === "bn1.running_var" || key === "conv1.weight") data[0] = Number.POSITIVE_INFINITY;
      tensors.push({ key, shape: [...real.info(key)!.shape], data });
    }
  } finally {
    await real.close();
  }
  const weights = join(dir, "inf.safetensors");
  await writeSafetensors(weights, tensors);
  const input = join(RESNET18_CASE, "input.npy");
  for (const workers of ["1", "2"]) {
    const r = await fxc(["extract", "resnet18", "--return", "maxpool", "--layout", "nchw", "--weights", weights, "--input", input, "--out", join(dir, `f${workers}.safetensors`), "--workers", workers]);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((line) => line.includes("NaN"));
    assert.deepEqual(warnings, [`fxc: warning: ${weights}: tensor 'conv1.weight' and 1 other tensor hold NaN or infinite values (loaded as they are, as torch does); features computed from them will be NaN or infinite`], r.stderr);
  }
});
