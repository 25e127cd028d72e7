import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, copyFile, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { imageBatches, type ImageFailure } from "../../runtime/images/batches.js";
import { listImages } from "../../runtime/images/list.js";
import { assertOneLineError, fxc, type SpawnOptions } from "../support/cli.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const SMALL = { resizeSize: 40, cropSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], interpolation: "bilinear" } as const;

test("an input that cannot be read is a one-line error, and is skipped with skipBad; a missing one is always an error", async () => {
  const dir = await tempDir("images-listing");
  const good = join(dir, "good.png");
  await copyFile(join(GALLERY, "city.png"), good);
  const unreadable = join(good, "inner"); // ENOTDIR: a failure root meets too, unlike permissions
  const message = `${unreadable}: cannot be read (ENOTDIR: not a directory); check its permissions, or skip unreadable folders and images (--skip-bad)`;
  await assert.rejects(listImages([good, unreadable]), (e: unknown) => e instanceof Error && e.message === message);
  const failures: ImageFailure[] = [];
  assert.deepEqual(await listImages([good, unreadable], { onUnreadable: (f) => failures.push(f) }), [good]);
  assert.deepEqual(failures.map((f) => f.error.message), [message]);
  // Nothing readable at all is still an error, with skipping too.
  await assert.rejects(listImages([unreadable], { onUnreadable: () => undefined }), /inner: cannot be read \(ENOTDIR: not a directory\), and no other image could be listed; check the inputs/);
  await assert.rejects(listImages([good, join(dir, "typo")], { onUnreadable: () => undefined }), /typo: no such file or folder; check the path/);
  // Batches skip it as they skip a bad image.
  const skipped: ImageFailure[] = [];
  const paths: string[] = [];
  for await (const b of imageBatches([good, unreadable], { preprocessing: SMALL, skipBad: true, onSkip: (f) => skipped.push(f) })) paths.push(...b.paths);
  assert.deepEqual(paths, [good]);
  assert.deepEqual(skipped.map((f) => f.path), [unreadable]);
});

/** Root reads folders whatever their mode: as root, the CLI runs as nobody, if nobody can run it from this checkout. */
async function unprivileged(): Promise<SpawnOptions["user"] | "cannot"> {
  if (process.getuid?.() !== 0) return undefined;
  const user = { uid: 65534, gid: 65534 };
  const probe = await fxc(["--version"], { user }).catch(() => ({ code: -1 }));
  return probe.code === 0 ? user : "cannot";
}

test("a subfolder without read permission: one line naming it, skipped with --skip-bad by extract and nearest", async (t) => {
  const user = await unprivileged();
  if (user === "cannot") {
    t.skip("running as root, whom permissions do not stop, and user nobody cannot run fxc from this checkout");
    return;
  }
  const dir = await tempDir("images-listing");
  await chmod(dir, 0o1777); // nobody writes the output and its compile cache here; sticky, as /tmp, or fxc refuses a cache others could swap
  const photos = join(dir, "photos");
  const locked = join(photos, "locked");
  await mkdir(locked, { recursive: true });
  await copyFile(join(GALLERY, "city.png"), join(photos, "a.png"));
  await copyFile(join(GALLERY, "rings.png"), join(locked, "b.png"));
  await chmod(photos, 0o755);
  await chmod(locked, 0o000);
  try {
    await runUnprivileged(dir, photos, locked, user);
  } finally {
    await chmod(locked, 0o755); // so that the temporary folder can be removed
  }
});

async function runUnprivileged(dir: string, photos: string, locked: string, user: SpawnOptions["user"]): Promise<void> {
  const options: SpawnOptions = { user, env: { FXC_CACHE_DIR: join(dir, "cache") } };
  const index = join(dir, "out", "index.safetensors");
  const args = ["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", photos, "--pool", "avg", "--resize", "40", "--crop", "32", "--out", index];
  const expected = `${locked}: cannot be read (EACCES: permission denied); check its permissions, or skip unreadable folders and images (--skip-bad)`;
  const strict = await fxc(args, options);
  assertOneLineError(strict, /./, { code: 1 });
  assert.equal(strict.stderr, `fxc: ${expected}\n`);

  const skipped = await fxc([...args, "--skip-bad"], options);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.match(skipped.stderr, new RegExp(`^fxc: warning: skipped ${expected.replace(/[.()/\\-]/g, "\\$&")}$`, "m"));
  assert.match(skipped.stderr, /\(1 images, 1 skipped; /);
  assert.deepEqual(await readdir(join(dir, "out")), ["index.safetensors"]);

  const query = await fxc(["nearest", "--index", index, "--key", "layer1.0", "--query", photos, "--weights", RESNET18_WEIGHTS, "--skip-bad"], options);
  assert.equal(query.code, 0, query.stderr);
  assert.match(query.stderr, /^fxc: warning: skipped .*locked: cannot be read \(EACCES: permission denied\)/m);
  assert.match(query.stdout, /^query .*photos\/a\.png\n {3}1 {2}1\.0000 {2}.*photos\/a\.png\n$/);
}
