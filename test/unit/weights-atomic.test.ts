import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openAtomic, withAtomicFile, writeFileAtomic } from "../../runtime/io/atomic.js";
import { tempDir } from "../support/temp.js";

test("writes a string, a buffer, or a list of buffers, creating parent directories", async () => {
  const dir = await tempDir("weights");
  await writeFileAtomic(join(dir, "a", "b", "text.txt"), "héllo\n");
  await writeFileAtomic(join(dir, "one.bin"), Uint8Array.from([1, 2, 3]));
  await writeFileAtomic(join(dir, "many.bin"), [Uint8Array.from([1]), new Uint8Array(0), Uint8Array.from([2, 3])]);
  assert.equal(await readFile(join(dir, "a", "b", "text.txt"), "utf8"), "héllo\n");
  assert.deepEqual([...(await readFile(join(dir, "one.bin")))], [1, 2, 3]);
  assert.deepEqual([...(await readFile(join(dir, "many.bin")))], [1, 2, 3]);
  assert.deepEqual((await readdir(dir)).sort(), ["a", "many.bin", "one.bin"]);
});

test("replaces an existing file whole", async () => {
  const dir = await tempDir("weights");
  const path = join(dir, "f.txt");
  await writeFile(path, "old content that is longer");
  await writeFileAtomic(path, "new");
  assert.equal(await readFile(path, "utf8"), "new");
  assert.deepEqual(await readdir(dir), ["f.txt"]);
});

test("nothing appears under the final name before commit; the temp file sits in the same directory", async () => {
  const dir = await tempDir("weights");
  const path = join(dir, "streamed.bin");
  const file = await openAtomic(path);
  await file.write(Uint8Array.from([1, 2]));
  await file.write("ab");
  const during = await readdir(dir);
  assert.equal(during.length, 1);
  assert.match(during[0]!, new RegExp(`^\\.streamed\\.bin\\.${process.pid}\\.[0-9a-f]+\\.tmp$`));
  await file.commit();
  assert.deepEqual(await readdir(dir), ["streamed.bin"]);
  assert.deepEqual([...(await readFile(path))], [1, 2, 0x61, 0x62]);
  await assert.rejects(file.write("more"), /already committed/);
});

test("abort removes the temp file and leaves an existing file untouched", async () => {
  const dir = await tempDir("weights");
  const path = join(dir, "keep.txt");
  await writeFile(path, "original");
  const file = await openAtomic(path);
  await file.write("partial");
  await file.abort();
  await file.abort(); // idempotent
  assert.deepEqual(await readdir(dir), ["keep.txt"]);
  assert.equal(await readFile(path, "utf8"), "original");
});

test("an error while writing leaves no temp file and no partial file", async () => {
  const dir = await tempDir("weights");
  const path = join(dir, "never.bin");
  const notBytes = 42 as unknown as Uint8Array; // a caller bug past the type checker
  await assert.rejects(writeFileAtomic(path, [Uint8Array.from([1, 2, 3]), notBytes]), TypeError);
  assert.deepEqual(await readdir(dir), []);

  await writeFile(path, "original");
  await assert.rejects(
    withAtomicFile(path, async (file) => {
      await file.write("half of it");
      throw new Error("producer failed");
    }),
    /producer failed/,
  );
  assert.deepEqual(await readdir(dir), ["never.bin"]);
  assert.equal(await readFile(path, "utf8"), "original");
});

test("a failing rename (the final path is a non-empty directory) cleans up", async () => {
  const dir = await tempDir("weights");
  const path = join(dir, "occupied");
  await mkdir(path);
  await writeFile(join(path, "inside"), "x");
  await assert.rejects(writeFileAtomic(path, "data"));
  assert.deepEqual(await readdir(dir), ["occupied"]);
  assert.deepEqual(await readdir(path), ["inside"]);
});

test("concurrent writers of the same path never mix their contents", async () => {
  const dir = await tempDir("weights");
  const path = join(dir, "race.txt");
  const contents = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000 + i));
  await Promise.all(contents.map((text) => writeFileAtomic(path, text)));
  assert.ok(contents.includes(await readFile(path, "utf8")));
  assert.deepEqual(await readdir(dir), ["race.txt"]);
});
