import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../../compiler/api.js";
import { CacheError, cacheCompiled, cacheDirectory, cacheFile, runnableSource } from "../../compiler/cli/cache.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { RESNET18_CASE, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

const source = await compile("resnet18", { returnNodes: ["conv1"], size: 32 });
const isRoot = process.getuid?.() === 0;

/** A module that, if ever imported, creates `marker`. */
function planted(marker: string): string {
  return `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\nexport function load() {}\n`;
}

/** Runs `fn` with the compile cache environment set as given, restoring it after. */
async function withCacheEnv<T>(env: { FXC_CACHE_DIR?: string; XDG_CACHE_HOME?: string }, fn: () => Promise<T>): Promise<T> {
  const saved = { FXC_CACHE_DIR: process.env.FXC_CACHE_DIR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
  for (const name of ["FXC_CACHE_DIR", "XDG_CACHE_HOME"] as const) {
    if (env[name] === undefined) delete process.env[name];
    else process.env[name] = env[name];
  }
  try {
    return await fn();
  } finally {
    for (const name of ["FXC_CACHE_DIR", "XDG_CACHE_HOME"] as const) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

test("the cache is the user's own: FXC_CACHE_DIR, else $XDG_CACHE_HOME/fxc, else ~/.cache/fxc, created 0700", async () => {
  assert.equal(cacheDirectory({}), join(homedir(), ".cache", "fxc"));
  assert.equal(cacheDirectory({ XDG_CACHE_HOME: "/var/cache/me" }), "/var/cache/me/fxc");
  assert.equal(cacheDirectory({ XDG_CACHE_HOME: "relative" }), join(homedir(), ".cache", "fxc"), "a relative XDG_CACHE_HOME is ignored, as the XDG spec says");
  assert.equal(cacheDirectory({ XDG_CACHE_HOME: "/var/cache/me", FXC_CACHE_DIR: "/srv/fxc" }), "/srv/fxc");
  const dir = await tempDir("cache");
  const url = await withCacheEnv({ XDG_CACHE_HOME: join(dir, "xdg") }, () => cacheCompiled(source));
  assert.equal(fileURLToPath(url), cacheFile(await runnableSource(source), join(dir, "xdg", "fxc")));
  assert.equal((await stat(join(dir, "xdg", "fxc"))).mode & 0o777, 0o700);
});

test("a file planted at the expected path is replaced, never run", async () => {
  const dir = await tempDir("cache");
  const marker = join(dir, "ran");
  await withCacheEnv({ FXC_CACHE_DIR: join(dir, "cache") }, async () => {
    const js = await runnableSource(source);
    const file = cacheFile(js);
    await mkdir(join(dir, "cache"), { mode: 0o700 });
    for (const plant of ["file", "symlink"] as const) {
      await rm(file, { force: true });
      if (plant === "file") await writeFile(file, planted(marker));
      else {
        await writeFile(join(dir, "elsewhere.mjs"), planted(marker));
        await symlink(join(dir, "elsewhere.mjs"), file);
      }
      const warnings: string[] = [];
      const url = await cacheCompiled(source, (m) => warnings.push(m));
      assert.deepEqual(warnings.length, 1, plant);
      assert.match(warnings[0]!, /^replaced .*\.mjs: its content was not the module compiled for this request$/);
      assert.ok((await lstat(file)).isFile(), `${plant}: a regular file now`);
      assert.equal(await readFile(file, "utf8"), js, `${plant}: the module just compiled`);
      const module = (await import(url)) as { load: unknown; returnNodes: unknown };
      assert.deepEqual(module.returnNodes, { conv1: "conv1" }, plant);
      assert.equal(existsSync(marker), false, `${plant}: the planted code never ran`);
    }
    assert.equal(await readFile(join(dir, "elsewhere.mjs"), "utf8"), planted(marker), "the link's target is left alone");
    const warnings: string[] = [];
    await cacheCompiled(source, (m) => warnings.push(m));
    assert.deepEqual(warnings, [], "a file that is what it should be is used quietly");
  });
});

test("a cache others can write into is refused before anything in it is read", async () => {
  const dir = await tempDir("cache");
  const marker = join(dir, "ran");
  const shared = join(dir, "shared");
  await mkdir(shared);
  await chmod(shared, 0o777);
  await writeFile(cacheFile(await runnableSource(source), shared), planted(marker));
  await withCacheEnv({ FXC_CACHE_DIR: shared }, () =>
    assert.rejects(cacheCompiled(source), (e: Error) => e instanceof CacheError && /^the compile cache .*shared is writable by others \(mode 0777\), so fxc will not run code from it; make it private \(chmod 700, owned by you\) or set FXC_CACHE_DIR/.test(e.message)),
  );
  // In a folder others can write (not sticky), the cache could be swapped for another: refused too; a sticky one (as /tmp) is fine.
  const open = join(dir, "open");
  await mkdir(join(open, "fxc"), { recursive: true, mode: 0o700 });
  await chmod(open, 0o777);
  await withCacheEnv({ FXC_CACHE_DIR: join(open, "fxc") }, () => assert.rejects(cacheCompiled(source), /^CacheError: the compile cache .* lies in .*open, which others can write \(mode 0777\)/));
  await chmod(open, 0o1777);
  await withCacheEnv({ FXC_CACHE_DIR: join(open, "fxc") }, () => cacheCompiled(source));
  assert.equal(existsSync(marker), false, "the planted code never ran");
  // The CLI's worker pool (the one user of the cache) says it in one line and exits 1.
  const input = await readNpy(join(RESNET18_CASE, "input.npy"));
  const x = join(dir, "x.npy");
  await writeNpy(x, input.shape, input.data);
  const extract = (out: string, ...more: string[]): string[] => ["extract", "resnet18", "--layout", "nchw", "--return", "conv1", "--weights", RESNET18_WEIGHTS, "--input", x, "--out", out, ...more];
  const r = await fxc(extract(join(dir, "f.safetensors"), "--workers", "2"), { env: { FXC_CACHE_DIR: shared } });
  assertOneLineError(r, /^fxc: the compile cache .*shared is writable by others/, { code: 1 });
  assert.equal(existsSync(join(dir, "f.safetensors")), false);
  // In one thread the CLI interprets the program: it neither reads nor writes the cache.
  const before = await readdir(shared);
  const inThread = await fxc(extract(join(dir, "g.safetensors")), { env: { FXC_CACHE_DIR: shared } });
  assert.equal(inThread.code, 0, inThread.stderr);
  assert.deepEqual(await readdir(shared), before);
  assert.equal(existsSync(marker), false, "the planted code never ran");
});

test("a cache that belongs to another user is refused", { skip: isRoot ? false : "needs root to give a folder to another user" }, async () => {
  const dir = await tempDir("cache");
  const theirs = join(dir, "theirs");
  await mkdir(theirs, { mode: 0o700 });
  await chown(theirs, 65534, 65534);
  await withCacheEnv({ FXC_CACHE_DIR: theirs }, () => assert.rejects(cacheCompiled(source), /^CacheError: the compile cache .*theirs belongs to another user \(uid 65534\), so fxc will not run code from it/));
});

test("the cached module imports the runtime this process resolves (the cache folder has no node_modules); its doc comments keep the package's name", async () => {
  const js = await runnableSource(source);
  const imports = js.split("\n").filter((line) => /^import\b/.test(line));
  assert.deepEqual(
    imports.map((line) => /from "([^"]+)";$/.exec(line)?.[1]),
    [import.meta.resolve("@fxc/runtime")],
    "one import, of the runtime's resolved file",
  );
  assert.match(js, /\(preprocess from "@fxc\/runtime\/images"\)/, "a doc comment naming the package is not an import");
});
