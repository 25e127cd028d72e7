import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nearest } from "../../compiler/tasks/nearest.js";
import { decodeImage } from "../../runtime/images/decode.js";
import { printable, printableJson } from "../../runtime/io/printable.js";
import { WeightsError } from "../../runtime/weights/types.js";
import { writeSafetensors } from "../../runtime/weights/safetensors.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { EDITED, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const PRESET = { resizeSize: 72, cropSize: 64, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: "bilinear" };

/** An index as fxc extract writes it (resnet18, layer1.0, avg-pooled), with `metadata` replacing fields of its metadata. */
async function writeIndex(file: string, metadata: Record<string, string> = {}, paths = ["a.png", "b.png"]): Promise<string> {
  const data = new Float32Array(paths.length * 64).map((_, i) => ((i * 37) % 11) - 5);
  const base = { model: "resnet18", return: "layer1.0", layout: "nhwc", mode: "eval", preprocessing: JSON.stringify(PRESET), pool: "avg", normalize: "none", paths: JSON.stringify(paths) };
  await writeSafetensors(file, [{ key: "layer1.0", shape: [paths.length, 64], data }], { ...base, ...metadata });
  return file;
}

/** The control characters that would act on a terminal: C0, DEL, C1 (U+009B is a CSI), bidi overrides. */
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test("printable escapes what would act on a terminal and leaves the rest; printableJson parses back to the same value", () => {
  assert.equal(printable("photos/ünïcode 写真.png"), "photos/ünïcode 写真.png");
  assert.equal(printable("a\u001b[2Jb\u009b31m\nc\u202ed\u0007"), "a\\x1b[2Jb\\x9b31m\\x0ac\\u202ed\\x07");
  const value = [{ path: "x\u001b]0;owned\u0007\u009by\u2028z" }];
  const json = printableJson(value);
  assert.doesNotMatch(json.replace(/\n/g, ""), RAW_CONTROLS);
  assert.deepEqual(JSON.parse(json), value);
});

test("fxc nearest prints escape sequences in an index's paths escaped, in the table and in --json", async () => {
  const dir = await tempDir("images-index");
  const hostile = ["x\u001b[2J\u001b[31mred.png", "y\u009b1;1Hz\u202egnp.exe"];
  const index = await writeIndex(join(dir, "index.safetensors"), {}, hostile);
  const table = await fxc(["nearest", "--index", index, "--key", "layer1.0", "--query-features", index, "--top", "2"]);
  assert.equal(table.code, 0, table.stderr);
  assert.doesNotMatch(table.stdout.replace(/\n/g, ""), RAW_CONTROLS, "no raw control character reaches the terminal");
  assert.match(table.stdout, /^query x\\x1b\[2J\\x1b\[31mred\.png$/m);
  assert.match(table.stdout, /^ {3}1 {2}1\.0000 {2}y\\x9b1;1Hz\\u202egnp\.exe$/m);
  const json = await fxc(["nearest", "--index", index, "--key", "layer1.0", "--query-features", index, "--top", "1", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.doesNotMatch(json.stdout.replace(/\n/g, ""), RAW_CONTROLS);
  const results = JSON.parse(json.stdout) as { query: string; neighbours: { path: string }[] }[];
  assert.deepEqual(results.map((r) => r.query), hostile, "JSON keeps the paths exactly");
});

test("an image whose name holds escape sequences is named escaped in its error", async () => {
  const dir = await tempDir("images-index");
  const file = join(dir, "bad\u001b[8m.png");
  await writeFile(file, "not a png");
  await assert.rejects(decodeImage(file), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.doesNotMatch(e.message, RAW_CONTROLS);
    assert.ok(e.message.startsWith(`${join(dir, "bad\\x1b[8m.png")}: cannot be decoded as an image`), e.message);
    return true;
  });
});

test("an index's metadata is checked like a command line: sizes over the limit and malformed fields are one-line errors", async () => {
  const dir = await tempDir("images-index");
  const cases: [string, Record<string, string>, RegExp][] = [
    ["crop 30000", { preprocessing: JSON.stringify({ ...PRESET, cropSize: 30000 }) }, /cannot be used: preprocessing cropSize 30000 is over the limit of 2048 pixels per side \(FXC_MAX_PREPROCESS_SIDE=N raises it\)/],
    ["resize 1e9", { preprocessing: JSON.stringify({ ...PRESET, resizeSize: 1e9 }) }, /preprocessing resizeSize 1000000000 is over the limit/],
    ["null", { preprocessing: "null" }, /cannot be used: 'preprocessing' is not a JSON object/],
    ["a list", { preprocessing: "[224]" }, /'preprocessing' is not a JSON object/],
    ["not JSON", { preprocessing: "{crop" }, /'preprocessing' is not JSON/],
    ["a string size", { preprocessing: JSON.stringify({ ...PRESET, cropSize: "224" }) }, /preprocessing cropSize is not a number/],
    ["a string mean", { preprocessing: JSON.stringify({ ...PRESET, mean: "abc" }) }, /preprocessing mean is not three numbers/],
    ["a zero std", { preprocessing: JSON.stringify({ ...PRESET, std: [0, 1, 1] }) }, /preprocessing std must be positive/],
    ["an unknown filter", { preprocessing: JSON.stringify({ ...PRESET, interpolation: "lanczos" }) }, /preprocessing interpolation is not bilinear, bicubic or nearest/],
    ["a bad pooling", { pool: "gem:-1" }, /cannot be used: bad pooling 'gem:-1'/],
    ["a bad normalization", { normalize: "l3" }, /cannot be used: bad normalization 'l3'/],
    ["an escape in the model", { model: "resnet18\u001b[2J" }, /was made with model 'resnet18\\x1b\[2J', which is not in fxc's zoo/],
    ["an escape in the node", { return: "layer1\u001b[2J:layer1.0" }, /names node 'layer1\\x1b\[2J' for 'layer1\.0', which is not a node name/],
  ];
  for (const [name, metadata, pattern] of cases) {
    const index = await writeIndex(join(dir, `${name.replace(/\W/g, "-")}.safetensors`), metadata);
    // Refused before the weights are read: they do not exist here.
    const error = await nearest({ index, key: "layer1.0", query: { images: EDITED, weights: "/nonexistent.pth" } }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WeightsError, `${name}: ${String(error)}`);
    assert.match(error.message, pattern, name);
    assert.doesNotMatch(error.message, RAW_CONTROLS, name);
    assert.ok(error.message.startsWith(`${index}: its metadata`) || error.message.startsWith(`${index}: was made`), error.message);
  }
  // The command line: one line, before any image or weight is read.
  const index = await writeIndex(join(dir, "huge.safetensors"), { preprocessing: JSON.stringify({ ...PRESET, cropSize: 30000 }) });
  const r = await fxc(["nearest", "--index", index, "--key", "layer1.0", "--query", EDITED, "--weights", RESNET18_WEIGHTS]);
  assertOneLineError(r, /^fxc: .*huge\.safetensors: its metadata cannot be used: preprocessing cropSize 30000 is over the limit of 2048 pixels per side .*; make the index with fxc extract/, { code: 1 });
});
