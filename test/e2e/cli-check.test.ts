import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { diffLines, unifiedDiff } from "../../compiler/cli/diff.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { tempDir } from "../support/temp.js";

test("unifiedDiff writes diff -u's hunks (diff -U2's output here): context, line numbers, a missing final newline", () => {
  const before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
  const after = "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk";
  assert.equal(
    unifiedDiff(before, after, { oldLabel: "old", newLabel: "new", context: 2 }),
    ["--- old", "+++ new", "@@ -2,5 +2,5 @@", " b", " c", "-d", "+D", " e", " f", "@@ -9,2 +9,3 @@", " i", " j", "+k", "\\ No newline at end of file", ""].join("\n"),
  );
  assert.equal(unifiedDiff(before, before, { oldLabel: "old", newLabel: "new" }), "");
  assert.equal(unifiedDiff("", "x\n", { oldLabel: "old", newLabel: "new" }), "--- old\n+++ new\n@@ -0,0 +1,1 @@\n+x\n");
  // The shortest script: one line moved is one removal and one addition.
  const ops = diffLines(["1", "2", "3", "4"], ["2", "3", "4", "1"]);
  assert.deepEqual(ops.filter((op) => op.kind !== " ").map((op) => op.kind + op.text), ["-1", "+1"]);
});

test("unifiedDiff stays bounded on a file rewritten whole: at most maxLines lines of hunks, then how many more", () => {
  const before = Array.from({ length: 20000 }, (_, i) => `old ${i}`).join("\n") + "\n";
  const after = Array.from({ length: 20000 }, (_, i) => `new ${i}`).join("\n") + "\n";
  const lines = unifiedDiff(before, after, { oldLabel: "a", newLabel: "b", maxLines: 50 }).trimEnd().split("\n");
  assert.equal(lines.length, 2 + 50 + 1);
  assert.equal(lines.at(-1), `... ${40001 - 50} more lines of diff`);
});

const spec = (out: string, returns: string, ...more: string[]) => ["compile", "resnet18", "--return", returns, "--out", out, "--size", "64", ...more];

test("compile --check, spec changed: the diff on stdout, and the command that writes the new file (not the header's old one)", async () => {
  const out = await tempDir("check");
  assert.equal((await fxc(spec(out, "layer1"))).code, 0);
  const file = join(out, "resnet18.ts");
  const before = await readFile(file, "utf8");
  const r = await fxc(spec(out, "layer1,layer2:second", "--check"));
  assertOneLineError(r, /^fxc: \S+resnet18\.ts is out of date \(the diff says what would change\); write it with: npx fxc compile resnet18 --return layer1,layer2:second --out \S+ --size 64$/, { code: 1 });
  assert.match(r.stdout, /^--- \S+resnet18\.ts \(on disk\)\n\+\+\+ \S+resnet18\.ts \(as compiled now\)\n@@ -1,5 \+1,5 @@\n/);
  assert.match(r.stdout, /\n-\/\/ Do not edit\. Regenerate with: npx fxc compile resnet18 --return layer1 --out \S+ --size 64\n\+\/\/ Do not edit\. Regenerate with: npx fxc compile resnet18 --return layer1,layer2:second /);
  assert.match(r.stdout, /\n\+  second: Tensor4D;\n/);
  assert.equal(await readFile(file, "utf8"), before, "--check writes nothing");
});

test("compile --check of a file that does not exist says so, and whether its folder does", async () => {
  const out = await tempDir("check");
  const r = await fxc(spec(join(out, "nowhere"), "layer1", "--check"));
  assertOneLineError(r, /^fxc: \S+nowhere\/resnet18\.ts does not exist \(nor does the folder \S+nowhere\); write it with: npx fxc compile resnet18 --return layer1 --out \S+nowhere --size 64$/, { code: 1 });
  assert.equal(r.stdout, "");
});

test("compile writes only when the content changes: a second identical compile leaves the file as it is", async () => {
  const out = await tempDir("check");
  assert.equal((await fxc(spec(out, "layer1"))).code, 0);
  const file = join(out, "resnet18.ts");
  // A stamp in the past, so that a rewrite would show in the modification time.
  const past = new Date(Date.now() - 3600_000);
  await utimes(file, past, past);
  const stamped = (await stat(file)).mtimeMs;
  const again = await fxc(spec(out, "layer1"));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /^fxc: \S+resnet18\.ts is current; left as it is$/m);
  assert.equal((await stat(file)).mtimeMs, stamped, "not rewritten");
  await writeFile(file, "stale");
  const rewrite = await fxc(spec(out, "layer1"));
  assert.match(rewrite.stderr, /^fxc: wrote /m);
  assert.notEqual(await readFile(file, "utf8"), "stale");
});
