import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openWeights } from "../../runtime/weights/open.js";
import {
  PickleDict,
  PickleError,
  PickleGlobal,
  PickleList,
  PickleObject,
  PickleSet,
  PickleTruncatedError,
  unpickle,
  type PickleValue,
} from "../../runtime/weights/pickle.js";
import { fixture } from "../weights-fixtures.js";
import { tempDir } from "../support/temp.js";

const cases = JSON.parse(await readFile(fixture("pickles.json"), "utf8")) as Record<string, string>;

function load(name: string): PickleValue {
  const bytes = Buffer.from(cases[name]!, "hex");
  const { value, end } = unpickle(bytes);
  assert.equal(end, bytes.length, "STOP is the last byte");
  return value;
}

/** Plain JS shapes for deepEqual: dicts become Maps, tuples { tuple }, placeholders { object, args }. */
type Plain =
  null | boolean | number | bigint | string | Uint8Array | Plain[] | Map<Plain, Plain> | { [name: string]: Plain };
function plain(value: PickleValue): Plain {
  if (value instanceof PickleList) return value.items.map(plain);
  if (Array.isArray(value)) return { tuple: value.map(plain) };
  if (value instanceof PickleDict) return new Map([...value.entries].map(([k, v]) => [plain(k), plain(v)]));
  if (value instanceof PickleSet) return { [value.frozen ? "frozenset" : "set"]: value.items.map(plain) };
  if (value instanceof PickleObject) return { object: value.className, args: value.args.map(plain) };
  if (value instanceof PickleGlobal) return { global: value.dottedName };
  return value as Plain;
}

const tuple = (...items: Plain[]): Plain => ({ tuple: items });

describe("unpickle: every protocol Python writes", () => {
  for (let protocol = 0; protocol <= 5; protocol++) {
    test(`protocol ${protocol}`, () => {
      const value = plain(load(`plain_p${protocol}`));
      assert.ok(value instanceof Map);
      assert.deepEqual(value.get("ints"), [
        0,
        1,
        -1,
        255,
        256,
        65535,
        65536,
        -(2 ** 31),
        2 ** 31 - 1,
        2 ** 31,
        -(2 ** 40),
        2n ** 70n,
        -(2n ** 70n),
      ]);
      assert.deepEqual(value.get("floats"), [0.5, -1e300, Infinity]);
      assert.deepEqual(value.get("consts"), [null, true, false]);
      assert.deepEqual(value.get("text"), ["", "abc", "vé€", "x".repeat(300)]);
      assert.deepEqual(value.get("tuples"), [tuple(), tuple(1), tuple(1, 2), tuple(1, 2, 3), tuple(1, 2, 3, 4)]);
      assert.deepEqual(value.get("nested"), new Map([["k", [new Map([["deep", tuple(1, [2])]])]]]));
      // Sets are opcodes from protocol 4 on; before that they are calls to builtins, kept as placeholders.
      if (protocol >= 4) {
        assert.deepEqual(value.get("set"), { set: [3] });
        assert.deepEqual(value.get("frozen"), { frozenset: [4] });
      } else {
        assert.equal(
          (value.get("set") as { object: string }).object,
          protocol >= 3 ? "builtins.set" : "__builtin__.set",
        );
      }
    });
  }

  for (let protocol = 3; protocol <= 5; protocol++) {
    test(`bytes, protocol ${protocol}`, () => {
      const value = plain(load(`bytes_p${protocol}`)) as Map<Plain, Plain>;
      assert.deepEqual(value.get("b"), Uint8Array.from([0, 255, 0x78, 0x79]));
      assert.deepEqual(value.get("empty"), new Uint8Array(0));
    });
  }

  test("memoized objects are shared, as in Python", () => {
    const value = load("shared_p2") as PickleDict;
    assert.equal(value.entries.get("x"), value.entries.get("y"));
  });

  test("Python 2 strings (STRING, SHORT_BINSTRING) decode as text", () => {
    const protocol0 = Buffer.from("(dp0\nS'key'\np1\nS'it\\'s\\n'\np2\ns.", "latin1");
    assert.deepEqual(plain(unpickle(protocol0).value), new Map([["key", "it's\n"]]));
    const protocol2 = Buffer.from("\x80\x02}q\x00U\x03keyq\x01U\x02\xc3\xa9q\x02s.", "latin1");
    assert.deepEqual(plain(unpickle(protocol2).value), new Map([["key", "é"]]));
  });
});

describe("unpickle never runs code", () => {
  test("a REDUCE of os.system becomes an inert placeholder", () => {
    for (const name of ["evil_p2", "evil_p0"]) {
      const value = plain(load(name));
      const evil = name === "evil_p2" ? (value as Map<Plain, Plain>).get("evil") : value;
      assert.deepEqual(evil, { object: "posix.system", args: ["echo this must never run"] });
    }
  });

  test("argparse.Namespace keeps its state on the placeholder", () => {
    const value = load("namespace_p2");
    assert.ok(value instanceof PickleObject);
    assert.equal(value.className, "argparse.Namespace");
    assert.deepEqual(plain(value.state!), new Map([["lr", 0.1]]));
  });

  test("an OrderedDict with a _metadata attribute set through BUILD", () => {
    for (const name of ["ordered_meta_p0", "ordered_meta_p2", "ordered_meta_p4"]) {
      const value = load(name);
      assert.ok(value instanceof PickleDict, name);
      assert.equal(value.className, "collections.OrderedDict");
      assert.deepEqual(plain(value), new Map([["w", 1]]));
      assert.deepEqual(plain(value.attributes.get("_metadata")!), new Map([["", new Map([["version", 1]])]]));
    }
  });

  test("only the allowed callables are called", () => {
    const calls: string[] = [];
    const bytes = Buffer.from("\x80\x02cmod\nallowed\nK\x01\x85Rcmod\nother\nK\x02\x85R\x86.", "latin1");
    const { value } = unpickle(bytes, {
      callables: new Map([["mod.allowed", (args) => (calls.push(String(args[0])), "called")]]),
    });
    assert.deepEqual(calls, ["1"]);
    assert.deepEqual(plain(value), tuple("called", { object: "mod.other", args: [2] }));
  });
});

describe("unpickle rejects damaged input", () => {
  const bad: [string, string, RegExp][] = [
    ["unknown opcode", "\x80\x02\xff.", /unknown pickle opcode 0xff/],
    ["stack underflow", "\x80\x02s.", /underflow/],
    ["pop past a mark", "\x80\x02K\x01(0.", /underflow/],
    ["memo read before write", "\x80\x02h\x05.", /memo entry 5/],
    ["mark never pushed", "\x80\x02t.", /MARK/],
    ["setitem on a list", "\x80\x02]K\x01K\x02s.", /SETITEM on list/],
    ["persistent id without a loader", "\x80\x02K\x01Q.", /persistent id/],
    ["protocol too new", "\x80\x06.", /protocol 6/],
    ["bad utf-8", "\x80\x02\x8c\x01\xff.", /UTF-8/],
  ];
  for (const [name, text, pattern] of bad) {
    test(name, () => {
      assert.throws(
        () => unpickle(Buffer.from(text, "latin1")),
        (error: unknown) => {
          assert.ok(error instanceof PickleError && !(error instanceof PickleTruncatedError), String(error));
          assert.match(error.message, pattern);
          return true;
        },
      );
    });
  }

  test("data ending before STOP is a truncation", () => {
    const full = Buffer.from(cases["plain_p2"]!, "hex");
    for (const length of [0, 1, 5, full.length >> 1, full.length - 1]) {
      assert.throws(() => unpickle(full.subarray(0, length)), PickleTruncatedError, `cut at ${length}`);
    }
  });
});

/** Pickle bytes for a string (BINUNICODE). */
function binunicode(text: string): Buffer {
  const utf8 = Buffer.from(text, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32LE(utf8.length);
  return Buffer.concat([Buffer.from("X"), length, utf8]);
}

test("a legacy checkpoint whose pickle is larger than the first read (hand-written, 3 MB key)", async () => {
  const key = `layer.${"x".repeat(3_000_000)}.weight`;
  const ascii = (text: string): Buffer => Buffer.from(text, "latin1");
  const magic = ascii("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
  const protocol = ascii("\x80\x02M\xe9\x03.");
  const systemInfo = Buffer.concat([ascii("\x80\x02}("), binunicode("little_endian"), ascii("\x88u.")]);
  const main = Buffer.concat([
    ascii("\x80\x02}("),
    binunicode(key),
    ascii("ctorch._utils\n_rebuild_tensor_v2\n(("),
    binunicode("storage"),
    ascii("ctorch\nFloatStorage\n"),
    binunicode("k0"),
    binunicode("cpu"),
    ascii("K\x03NtQK\x00K\x03\x85K\x01\x85\x89}tRu."),
  ]);
  const keys = Buffer.concat([ascii("\x80\x02]"), binunicode("k0"), ascii("a.")]);
  const count = Buffer.alloc(8);
  count.writeBigInt64LE(3n);
  const values = Buffer.from(Float32Array.from([1.5, -2, 0.25]).buffer);
  const dir = await tempDir("weights");
  const path = join(dir, "old.pt");
  await writeFile(path, Buffer.concat([magic, protocol, systemInfo, main, keys, count, values]));

  const source = await openWeights(path);
  try {
    assert.deepEqual(source.keys(), [key]);
    assert.deepEqual(source.info(key)?.shape, [3]);
    assert.deepEqual([...(await source.readFloat32(key))], [1.5, -2, 0.25]);
  } finally {
    await source.close();
  }
});
