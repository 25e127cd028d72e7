import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { failure, ROOT, runProcess, type Finished } from "./bench/child.js";
import { RESNET18_WEIGHTS } from "./support/fixtures.js";
import { tempDir } from "./support/temp.js";

/**
 * What a consumer does: `npm pack` of this repository, installed into a fresh app from the
 * registry (the cache is warm after `npm ci`), `npx fxc compile`, the app built with plain `tsc`
 * under strict settings, and run with `node` on the default engine.
 *
 * The children get none of this process's npm_* variables or ONNXRUNTIME_NODE_INSTALL: under
 * `npm test` they carry this repository's .npmrc (which skips onnxruntime-node's CUDA download),
 * and a consumer has no such file.
 */
const CONSUMER_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|ONNXRUNTIME_NODE_INSTALL|NODE_TEST_CONTEXT$)/i.test(name)),
);
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
/** npm's flags for every install: the cache first, no audit or funding requests. */
const INSTALL_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund"];

/** What a `npm pack --json` entry says about the tarball. */
interface PackEntry {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}

/** What the app prints. */
interface AppRun {
  readonly engine: string;
  readonly fallback: string | null;
  readonly shape: readonly number[];
}

function succeeded(what: string, finished: Finished): Finished {
  assert.equal(finished.code, 0, `${what} ${failure(finished)}\n${finished.stdout}\n${finished.stderr}`);
  return finished;
}

function npm(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = CONSUMER_ENV): Promise<Finished> {
  return runProcess("npm", args, env, cwd);
}

async function runApp(app: string): Promise<AppRun> {
  const finished = succeeded("node dist/main.js", await runProcess(process.execPath, ["dist/main.js"], CONSUMER_ENV, app));
  return JSON.parse(finished.stdout.trim().split("\n").pop()!) as AppRun;
}

/** The app: ESM, strict TypeScript as `tsc --init` sets it up, a script that loads the compiled module and runs it once. */
async function writeApp(app: string): Promise<void> {
  await mkdir(join(app, "src"), { recursive: true });
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "fxc-consumer", version: "1.0.0", private: true, type: "module" }, null, 2));
  const compilerOptions = { target: "ES2022", module: "nodenext", strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, rootDir: "src", outDir: "dist" };
  await writeFile(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }, null, 2));
  await writeFile(
    join(app, "src", "main.ts"),
    [
      `import { tf, type Tensor4D } from "fxc/runtime";`,
      `import { load } from "./generated/resnet18.js";`,
      ``,
      `const extractor = await load("weights.pth");`,
      `const x = tf.randomNormal([2, 32, 32, 3]) as Tensor4D;`,
      `const features = await extractor.run(x);`,
      `console.log(JSON.stringify({ engine: extractor.engine, fallback: extractor.fallback ?? null, shape: features["layer1.0"].shape }));`,
      `extractor.dispose();`,
      ``,
    ].join("\n"),
  );
  // The fixture checkpoint holds resnet18's stem and layer1.0 (fp16), hence `--return layer1.0`.
  await copyFile(RESNET18_WEIGHTS, join(app, "weights.pth"));
}

/** True when the registry answers; else skips the test (fails it under CI=true, where the install must be tested). */
async function registryReachable(t: TestContext, cwd: string): Promise<boolean> {
  const ping = await npm(["ping", "--fetch-timeout=15000", "--fetch-retries=0"], cwd);
  if (ping.code === 0) return true;
  const why = `the npm registry cannot be reached (npm ping ${failure(ping)})`;
  if (process.env["CI"] === "true") assert.fail(`${why}; CI installs the packed tarball from it: give this machine the registry`);
  t.skip(`${why}; the packed install is not tested`);
  return false;
}

test("npm pack installs into a fresh app: npx fxc compile, strict tsc, node runs it on onnxruntime", { timeout: 300_000 }, async (t) => {
  const work = await tempDir("package");
  const app = join(work, "app");
  await writeApp(app);
  if (!(await registryReachable(t, app))) return;

  // npm pack runs `prepare` (the build), so the tarball holds today's sources.
  const packed = succeeded("npm pack", await npm(["pack", "--json", "--pack-destination", work], ROOT));
  const [entry] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as PackEntry[];
  assert.ok(entry);
  const paths = entry.files.map((f) => f.path);
  t.diagnostic(`tarball ${entry.filename}: ${entry.size} bytes, ${entry.unpackedSize} unpacked, ${paths.length} files`);
  const shippedOutsideDist = paths.filter((p) => !p.startsWith("dist/") && !["package.json", "README.md", "LICENSE"].includes(p));
  assert.deepEqual(shippedOutsideDist, [], "only dist/, package.json and README.md ship");
  assert.deepEqual(paths.filter((p) => /\.map$|(?<!\.d)\.ts$/.test(p)), [], "no .ts sources or source maps of them ship");
  // Loaded by path at run time: the CLI, the pool's worker, the resampler's worker, the module template.
  for (const file of ["dist/compiler/cli/main.js", "dist/runtime/pool/worker.js", "dist/runtime/images/resampleWorker.js", "dist/templates/module.js", "dist/runtime/index.d.ts"]) {
    assert.ok(paths.includes(file), `${file} ships`);
  }

  const install = succeeded("npm install", await npm(["install", join(work, entry.filename), ...INSTALL_FLAGS], app));
  const onnxInstalled = existsSync(join(app, "node_modules", "onnxruntime-node", "package.json"));
  t.diagnostic(`npm install: onnxruntime-node ${onnxInstalled ? "installed" : "dropped"}; ${install.seconds.toFixed(1)} s`);

  succeeded("npx fxc compile", await runProcess("npx", ["fxc", "compile", "resnet18", "--return", "layer1.0", "--size", "32", "--out", "src/generated"], CONSUMER_ENV, app));
  succeeded("tsc", await runProcess(process.execPath, [TSC, "-p", "."], CONSUMER_ENV, app));

  let run = await runApp(app);
  t.diagnostic(`node dist/main.js: ${JSON.stringify(run)}`);
  assert.deepEqual(run.shape, [2, 8, 8, 64]);
  if (!onnxInstalled) {
    // npm drops the optional engine when its postinstall fails (offline: the CUDA download); the default falls back to tfjs and names the fix.
    assert.equal(run.engine, "tfjs");
    assert.match(run.fallback ?? "", /^engine onnxruntime is not available .*ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1\.30/);
    // The fix it names, as a consumer types it.
    succeeded("the fix", await npm(["install", "onnxruntime-node@1.30", ...INSTALL_FLAGS], app, { ...CONSUMER_ENV, ONNXRUNTIME_NODE_INSTALL: "skip" }));
    assert.ok(existsSync(join(app, "node_modules", "onnxruntime-node", "package.json")), "the fix installs onnxruntime-node");
    run = await runApp(app);
    t.diagnostic(`after the fix: ${JSON.stringify(run)}`);
  }
  assert.equal(run.engine, "onnxruntime");
  assert.equal(run.fallback, null);
  assert.deepEqual(run.shape, [2, 8, 8, 64]);
});
