import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runProcess } from "./bench/child.js";
import { CONSUMER_ENV, INSTALL_FLAGS, npm, packFxc, registryReachable, succeeded, TSC } from "./support/package.js";
import { RESNET18_WEIGHTS } from "./support/fixtures.js";
import { tempDir } from "./support/temp.js";

/**
 * What a consumer does: `npm pack` of this repository, installed into a fresh app from the
 * registry (the cache is warm after `npm ci`), `npx fxc compile`, the app built with plain `tsc`
 * under strict settings, and run with `node` on the default engine.
 */

/** What the app prints. */
interface AppRun {
  readonly engine: string;
  readonly fallback: string | null;
  readonly shape: readonly number[];
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

test("npm pack installs into a fresh app: fxc.config.json + npx fxc build (and --check), strict tsc, node runs it on onnxruntime", { timeout: 300_000 }, async (t) => {
  const work = await tempDir("package");
  const app = join(work, "app");
  await writeApp(app);
  if (!(await registryReachable(t, app))) return;

  const { tarball, entry } = await packFxc(work);
  const paths = entry.files.map((f) => f.path);
  t.diagnostic(`tarball ${entry.filename}: ${entry.size} bytes, ${entry.unpackedSize} unpacked, ${paths.length} files`);
  const shippedOutsideDist = paths.filter((p) => !p.startsWith("dist/") && !["package.json", "README.md", "LICENSE"].includes(p));
  assert.deepEqual(shippedOutsideDist, [], "only dist/, package.json and README.md ship");
  assert.deepEqual(paths.filter((p) => /\.map$|(?<!\.d)\.ts$/.test(p)), [], "no .ts sources or source maps of them ship");
  // Loaded by path at run time: the CLI, the pool's worker, the resampler's worker, the module template.
  for (const file of ["dist/compiler/cli/main.js", "dist/runtime/pool/worker.js", "dist/runtime/images/resampleWorker.js", "dist/templates/module.js", "dist/runtime/index.d.ts"]) {
    assert.ok(paths.includes(file), `${file} ships`);
  }

  const install = succeeded("npm install", await npm(["install", tarball, ...INSTALL_FLAGS], app));
  const onnxInstalled = existsSync(join(app, "node_modules", "onnxruntime-node", "package.json"));
  t.diagnostic(`npm install: onnxruntime-node ${onnxInstalled ? "installed" : "dropped"}; ${install.seconds.toFixed(1)} s`);

  // The build step the README gives: a config, `fxc build`, and `fxc build --check` in CI.
  const config = { out: "src/generated", extractors: [{ model: "resnet18", return: "layer1.0", size: 32 }] };
  await writeFile(join(app, "fxc.config.json"), JSON.stringify(config, null, 2));
  succeeded("npx fxc build", await runProcess("npx", ["fxc", "build"], CONSUMER_ENV, app));
  succeeded("npx fxc build --check", await runProcess("npx", ["fxc", "build", "--check"], CONSUMER_ENV, app));
  await writeFile(join(app, "fxc.config.json"), JSON.stringify({ ...config, extractors: [{ ...config.extractors[0], return: "layer1" }] }, null, 2));
  const stale = await runProcess("npx", ["fxc", "build", "--check"], CONSUMER_ENV, app);
  assert.equal(stale.code, 1, `fxc build --check after the config changed: ${stale.stderr}`);
  assert.match(stale.stdout, /^\+.*layer1/m, "--check prints the diff of what would change");
  await writeFile(join(app, "fxc.config.json"), JSON.stringify(config, null, 2));
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
