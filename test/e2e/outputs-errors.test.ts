import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFeatureExtractor } from "../../compiler/api.js";
import { assertWritable, OutputError, writeFileAtomic } from "../../runtime/io/atomic.js";
import { writeNpy } from "../../runtime/io/npy.js";
import { tf, type Tensor4D } from "../../runtime/index.js";
import { assertOneLineError, fxc, unprivilegedUser } from "../support/cli.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

/** A folder nobody but its owner may write in; the tests that need one run fxc as another user when they run as root. */
async function readOnlyFolder(dir: string): Promise<string> {
  const folder = join(dir, "read-only");
  await mkdir(folder);
  await chmod(dir, 0o755);
  await chmod(folder, 0o555);
  return folder;
}

test("an output path that cannot be written is one line naming it, before anything is computed", async () => {
  const dir = await tempDir("outputs-errors");
  await mkdir(join(dir, "folder.safetensors"));
  await writeFile(join(dir, "file"), "");
  const readOnly = await readOnlyFolder(dir);
  // Weights that are not a checkpoint: an error about them would mean the output was checked too late.
  const notWeights = join(dir, "not-weights.pth");
  await writeFile(notWeights, "not a checkpoint");
  const extract = (out: string, more: string[] = []) =>
    fxc(["extract", "resnet18", "--return", "layer1.0", "--weights", notWeights, "--input", GALLERY, "--out", out, ...more], { user: unprivilegedUser() });
  const [folder, underFile, denied, npyOverFile] = await Promise.all([
    extract(join(dir, "folder.safetensors")),
    extract(join(dir, "file", "f.safetensors")),
    extract(join(readOnly, "f.safetensors")),
    extract(join(dir, "file"), ["--format", "npy"]),
  ]);
  assertOneLineError(folder, /^fxc: .*folder\.safetensors: is a folder, not a file; give the path of a file to write$/, { code: 1 });
  assertOneLineError(underFile, /^fxc: .*file\/f\.safetensors: cannot be written: .*file is a file, not a folder; give a path under a folder$/, { code: 1 });
  assertOneLineError(denied, /^fxc: .*read-only\/f\.safetensors: cannot be written: no permission to write in .*read-only; choose a folder you can write to, or change its permissions$/, { code: 1 });
  assertOneLineError(npyOverFile, /^fxc: .*file: is a file, not a folder; give a folder to write into, or remove the file$/, { code: 1 });
  assert.deepEqual((await readdir(readOnly)).sort(), []);
});

test("a write that fails anyway names the caller's path, not the hidden temporary file", async () => {
  const dir = await tempDir("outputs-errors");
  await mkdir(join(dir, "taken", "inside"), { recursive: true });
  await assert.rejects(writeFileAtomic(join(dir, "taken"), "x"), (e: unknown) => e instanceof OutputError && /^.*taken: is a folder, not a file; give the path of a file to write$/.test(e.message));
  await writeFile(join(dir, "plain"), "");
  await assert.rejects(writeFileAtomic(join(dir, "plain", "x.txt"), "x"), /plain\/x\.txt: cannot be written: .*plain is a file, not a folder; give a path under a folder$/);
  assert.deepEqual((await readdir(join(dir, "taken"))).sort(), ["inside"]);
  // A folder still to be made is writable if its nearest existing ancestor is.
  await assertWritable(join(dir, "new", "deeper", "f.safetensors"), "file");
  await assertWritable(join(dir, "new", "deeper"), "folder");
  await assert.rejects(assertWritable(join(dir, "plain"), "folder"), /plain: is a file, not a folder/);
});

test("compile --check says what the file is when it cannot compare it: missing, a folder, unreadable", async () => {
  const dir = await tempDir("outputs-errors");
  await chmod(dir, 0o755);
  await mkdir(join(dir, "folder.ts"));
  await writeFile(join(dir, "secret.ts"), "// not readable by others\n");
  // Unreadable to the user fxc runs as: others when it runs as nobody, its owner too otherwise.
  await chmod(join(dir, "secret.ts"), unprivilegedUser() ? 0o600 : 0o000);
  const check = (name: string, user = unprivilegedUser()) => fxc(["compile", "resnet18", "--return", "layer1", "--out", dir, "--name", name, "--check"], { user });
  const [missing, folder, unreadable] = await Promise.all([check("missing"), check("folder"), check("secret")]);
  assertOneLineError(missing, /^fxc: .*missing\.ts does not exist; write it with: npx fxc compile resnet18 --return layer1 --out \S+ --name missing$/, { code: 1 });
  assertOneLineError(folder, /^fxc: .*folder\.ts is a folder, not a module; move the folder away, then write it with: npx fxc compile resnet18 --return layer1 --out \S+ --name folder$/, { code: 1 });
  assertOneLineError(unreadable, /^fxc: .*secret\.ts cannot be read \(permission denied\); make it readable, or check as its owner$/, { code: 1 });
});

test("an empty batch (N = 0) is refused in one line, the same on every engine and backend and in the CLI", async () => {
  const fx = createFeatureExtractor("resnet18", { returnNodes: ["maxpool"], size: 32, layout: "nchw" });
  const messages: string[] = [];
  for (const options of [{ engine: "tfjs", backend: "cpu" }, { engine: "tfjs", backend: "wasm" }, { engine: "onnxruntime" }] as const) {
    const extractor = await fx.load(RESNET18_WEIGHTS, options);
    const x = tf.zeros([0, 3, 32, 32]) as Tensor4D;
    try {
      await assert.rejects(extractor.run(x), (e: Error) => (messages.push(e.message), e.name === "InputShapeError"), JSON.stringify(options));
    } finally {
      x.dispose();
      extractor.dispose();
    }
  }
  assert.deepEqual(messages, Array(3).fill("input shape [0, 3, 32, 32] has an empty batch (N = 0); pass at least one image"));

  const dir = await tempDir("outputs-errors");
  const empty = join(dir, "empty.npy");
  await writeNpy(empty, [0, 3, 32, 32], new Float32Array(0));
  const r = await fxc(["extract", "resnet18", "--return", "maxpool", "--layout", "nchw", "--backend", "wasm", "--weights", RESNET18_WEIGHTS, "--input", empty, "--out", join(dir, "f.safetensors")]);
  assertOneLineError(r, /^fxc: input shape \[0, 3, 32, 32\] has an empty batch \(N = 0\); pass at least one image$/, { code: 1 });
  assert.deepEqual((await readdir(dir)).sort(), ["empty.npy"]);
});
