import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ROOT, runProcess } from "../bench/child.js";
import { CONSUMER_ENV, INSTALL_FLAGS, npm, packPackages, recipeFiles, registryReachable, succeeded, TSC, versionOf, type Packed } from "../support/package.js";
import { RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

/**
 * What a consumer does: `npm pack` of both packages of this repository, installed into a fresh app
 * (`@fxc/runtime` as a dependency, `fxc` as a dev dependency, from the tarballs; the rest from the
 * registry, whose cache is warm after `npm ci`), `npx fxc build` from fxc.config.json, the app built
 * with plain `tsc` under `tsc --init`'s strict settings, run with `node`, bundled with esbuild as
 * docs/bundlers.md says and run again; then installed for production (`npm ci --omit=dev`), where no
 * compiler is, and run a third time. The three runs print the same features.
 */

/** What the app prints. */
interface AppRun {
  readonly engine: string;
  readonly fallback: string | null;
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

/** The packages only the compiler needs: none may be installed where the app runs in production. */
const BUILD_TIME_PACKAGES = ["fxc", "ts-morph", "@ts-morph/common", "prettier", "yargs", "typescript", "cli-progress", "esbuild"];
/** What @fxc/runtime may depend on: tfjs and sharp, and the optional native engines. */
const RUNTIME_DEPENDENCIES = ["@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-core", "sharp"];
const RUNTIME_OPTIONAL = ["@tensorflow/tfjs-backend-webgpu", "onnxruntime-node", "webgpu"];

/** `tsc --init`'s settings (TypeScript 5.9), with the app's folders. */
const TSC_INIT = {
  module: "nodenext",
  target: "esnext",
  types: [],
  sourceMap: true,
  declaration: true,
  declarationMap: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  strict: true,
  jsx: "react-jsx",
  verbatimModuleSyntax: true,
  isolatedModules: true,
  noUncheckedSideEffectImports: true,
  moduleDetection: "force",
  skipLibCheck: true,
} as const;

async function runApp(what: string, script: string, cwd: string, env: NodeJS.ProcessEnv = CONSUMER_ENV): Promise<AppRun> {
  const finished = succeeded(what, await runProcess(process.execPath, [script], env, cwd));
  return JSON.parse(finished.stdout.trim().split("\n").pop()!) as AppRun;
}

/** The app: ESM, `tsc --init`'s strict settings, a script that loads the compiled module and runs it once on a fixed input. */
async function writeApp(app: string): Promise<void> {
  await mkdir(join(app, "src"), { recursive: true });
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "fxc-consumer", version: "1.0.0", private: true, type: "module" }, null, 2));
  await writeFile(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...TSC_INIT, rootDir: "src", outDir: "dist" }, include: ["src"] }, null, 2));
  await writeFile(
    join(app, "src", "main.ts"),
    [
      `import { tf } from "@fxc/runtime";`,
      `import { load } from "./generated/resnet18.js";`,
      ``,
      `const extractor = await load("weights.pth");`,
      `const x = tf.tensor4d(Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i)), [2, 32, 32, 3]);`,
      `const layer = (await extractor.run(x))["layer1.0"];`,
      `const values = Array.from(await layer.data());`,
      `console.log(JSON.stringify({ engine: extractor.engine, fallback: extractor.fallback ?? null, shape: layer.shape, values }));`,
      `extractor.dispose();`,
      ``,
    ].join("\n"),
  );
  // Types from every public entry of both packages, checked under node10 and nodenext resolution (no .ts source of theirs may be compiled).
  await mkdir(join(app, "entries"), { recursive: true });
  await writeFile(
    join(app, "entries", "entries.ts"),
    [
      `import type { Extractor, Tensor4D } from "@fxc/runtime";`,
      `import type { Preset } from "@fxc/runtime/images";`,
      `import type { Detections } from "@fxc/runtime/detection";`,
      `import type { Pooling } from "@fxc/runtime/descriptors";`,
      `import type { FeatureExtractor } from "fxc";`,
      `import type { Module } from "fxc/models";`,
      `export type Entries = [Extractor<Record<string, Tensor4D>>, Preset, Detections, Pooling, FeatureExtractor, Module];`,
      ``,
    ].join("\n"),
  );
  for (const [mode, options] of Object.entries({ node10: { module: "esnext", moduleResolution: "node10" }, nodenext: { module: "nodenext" } })) {
    await writeFile(join(app, `tsconfig.${mode}.json`), JSON.stringify({ compilerOptions: { ...TSC_INIT, ...options, noEmit: true }, include: ["entries"] }, null, 2));
  }
  // The fixture checkpoint holds resnet18's stem and layer1.0 (fp16), hence `--return layer1.0`.
  await copyFile(RESNET18_WEIGHTS, join(app, "weights.pth"));
}

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"));
}

/** What a tarball ships, checked: the folders it may hold, the files loaded by path at run time. */
function assertShipped(packed: Packed, allowed: RegExp, required: readonly string[]): void {
  const paths = packed.entry.files.map((f) => f.path);
  assert.deepEqual(paths.filter((p) => !allowed.test(p)), [], `${packed.entry.filename} ships only ${allowed}`);
  for (const file of required) assert.ok(paths.includes(file), `${file} ships in ${packed.entry.filename}`);
}

/** Every source map and declaration map of an installed package names files the package ships, so an editor opens them. */
async function assertMapsResolve(t: TestContext, pkg: string): Promise<void> {
  const files = await filesUnder(pkg);
  const maps = files.filter((f) => f.endsWith(".map"));
  assert.ok(maps.some((f) => f.endsWith(".d.ts.map")), `${pkg} ships declaration maps`);
  assert.ok(maps.some((f) => f.endsWith(".js.map")), `${pkg} ships source maps`);
  const unresolved: string[] = [];
  for (const map of maps) {
    const { sources, sourceRoot = "" } = JSON.parse(await readFile(join(pkg, map), "utf8")) as { sources: string[]; sourceRoot?: string };
    for (const source of sources) {
      const target = resolve(pkg, dirname(map), sourceRoot, source);
      if (!target.startsWith(pkg + sep) || !existsSync(target)) unresolved.push(`${map} -> ${source}`);
    }
  }
  assert.deepEqual(unresolved.slice(0, 5), [], `maps of ${pkg} name files it does not ship`);
  t.diagnostic(`${pkg.slice(pkg.lastIndexOf("node_modules"))}: ${maps.length} maps, all resolve`);
}

test("both packages packed and installed into a fresh app: npx fxc build, strict tsc, node, an esbuild bundle and a production install without the compiler give the same features", { timeout: 600_000 }, async (t) => {
  const work = await tempDir("package");
  const app = join(work, "app");
  await writeApp(app);
  if (!(await registryReachable(t, app))) return;

  const { fxc, runtime } = await packPackages(work);
  for (const { entry } of [fxc, runtime]) t.diagnostic(`tarball ${entry.filename}: ${entry.size} bytes, ${entry.unpackedSize} unpacked, ${entry.files.length} files`);
  // The compiler's package: its build, and the sources its maps point to; no tests, no runtime.
  assertShipped(fxc, /^(package\.json|README\.md|dist\/(compiler|models|templates)\/.*|(compiler|models|templates)\/.*\.ts)$/, ["dist/compiler/cli/main.js", "dist/templates/module.js", "dist/compiler/index.d.ts"]);
  // The runtime's package, with the workers loaded by path at run time.
  assertShipped(runtime, /^(package\.json|README\.md|dist\/.*|(?!dist\/).*\.ts)$/, ["dist/index.js", "dist/index.d.ts", "dist/pool/worker.js", "dist/detection/roiAlignWorker.js", "index.ts"]);

  // As the README says: the runtime is the app's dependency, the compiler a dev dependency (with the bundler).
  const install = succeeded("npm install @fxc/runtime", await npm(["install", runtime.tarball, ...INSTALL_FLAGS], app));
  succeeded("npm install -D fxc", await npm(["install", "--save-dev", fxc.tarball, `esbuild@${await versionOf("esbuild")}`, ...INSTALL_FLAGS], app));
  const installed = (name: string): string => join(app, "node_modules", name);
  const manifest = async (name: string): Promise<{ version: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }> =>
    JSON.parse(await readFile(join(installed(name), "package.json"), "utf8"));
  const runtimeManifest = await manifest("@fxc/runtime");
  assert.deepEqual(Object.keys(runtimeManifest.dependencies ?? {}).sort(), RUNTIME_DEPENDENCIES, "@fxc/runtime depends on tfjs and sharp only");
  assert.deepEqual(Object.keys(runtimeManifest.optionalDependencies ?? {}).sort(), RUNTIME_OPTIONAL);
  assert.equal((await manifest("fxc")).dependencies?.["@fxc/runtime"], runtimeManifest.version, "fxc depends on @fxc/runtime at exactly its own version");
  const onnxInstalled = existsSync(join(installed("onnxruntime-node"), "package.json"));
  t.diagnostic(`npm install: onnxruntime-node ${onnxInstalled ? "installed" : "dropped"}; ${install.seconds.toFixed(1)} s`);
  await assertMapsResolve(t, installed("fxc"));
  await assertMapsResolve(t, installed("@fxc/runtime"));

  // Every public entry's types resolve to declarations under node10 and nodenext: no .ts source of fxc's is compiled.
  for (const mode of ["node10", "nodenext"]) {
    const listed = succeeded(`tsc -p tsconfig.${mode}.json`, await runProcess(process.execPath, [TSC, "-p", `tsconfig.${mode}.json`, "--listFiles"], CONSUMER_ENV, app));
    const sources = listed.stdout.split("\n").filter((f) => /node_modules\/(fxc|@fxc\/runtime)\/.*(?<!\.d)\.ts$/.test(f.trim()));
    assert.deepEqual(sources, [], `${mode}: the consumer's tsc reads declarations only`);
  }

  // The build step the README gives: a config, `fxc build`, and `fxc build --check` in CI.
  const config = { out: "src/generated", extractors: [{ model: "resnet18", return: "layer1.0", size: 32 }] };
  await writeFile(join(app, "fxc.config.json"), JSON.stringify(config, null, 2));
  succeeded("npx fxc build", await runProcess("npx", ["fxc", "build"], CONSUMER_ENV, app));
  succeeded("npx fxc build --check", await runProcess("npx", ["fxc", "build", "--check"], CONSUMER_ENV, app));
  assert.match(await readFile(join(app, "src", "generated", "resnet18.ts"), "utf8"), /^} from "@fxc\/runtime";$/m, "the module imports the runtime package");
  await writeFile(join(app, "fxc.config.json"), JSON.stringify({ ...config, extractors: [{ ...config.extractors[0], return: "layer1" }] }, null, 2));
  const stale = await runProcess("npx", ["fxc", "build", "--check"], CONSUMER_ENV, app);
  assert.equal(stale.code, 1, `fxc build --check after the config changed: ${stale.stderr}`);
  assert.match(stale.stdout, /^\+.*layer1/m, "--check prints the diff of what would change");
  await writeFile(join(app, "fxc.config.json"), JSON.stringify(config, null, 2));
  succeeded("tsc", await runProcess(process.execPath, [TSC, "-p", "."], CONSUMER_ENV, app));

  let run = await runApp("node dist/main.js", "dist/main.js", app);
  t.diagnostic(`node dist/main.js: engine ${run.engine}, shape ${run.shape.join("x")}`);
  assert.deepEqual(run.shape, [2, 8, 8, 64]);
  if (!onnxInstalled) {
    // npm drops the optional engine when its postinstall fails (offline: the CUDA download); the default falls back to tfjs and names the fix.
    assert.equal(run.engine, "tfjs");
    assert.match(run.fallback ?? "", /^engine onnxruntime is not available .*ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1\.30/);
    // The fix it names, as a consumer types it.
    succeeded("the fix", await npm(["install", "onnxruntime-node@1.30", ...INSTALL_FLAGS], app, { ...CONSUMER_ENV, ONNXRUNTIME_NODE_INSTALL: "skip" }));
    assert.ok(existsSync(join(installed("onnxruntime-node"), "package.json")), "the fix installs onnxruntime-node");
    run = await runApp("node dist/main.js", "dist/main.js", app);
    t.diagnostic(`after the fix: engine ${run.engine}`);
  }
  assert.equal(run.engine, "onnxruntime");
  assert.equal(run.fallback, null);
  assert.deepEqual(run.shape, [2, 8, 8, 64]);

  // Bundled with esbuild by docs/bundlers.md's recipe (onnxruntime-node stays external: the same engine runs).
  const recipe = recipeFiles(await readFile(join(ROOT, "docs", "bundlers.md"), "utf8")).get("esbuild.node.mjs");
  assert.ok(recipe !== undefined, "docs/bundlers.md has the esbuild recipe");
  await writeFile(join(app, "esbuild.node.mjs"), recipe);
  succeeded("node esbuild.node.mjs", await runProcess(process.execPath, ["esbuild.node.mjs"], CONSUMER_ENV, app));
  const bundled = await runApp("node bundle/node/main.mjs", "bundle/node/main.mjs", app);
  assert.deepEqual(bundled, run, "the bundle prints what the unbundled app prints");

  // Installed for production: what the lockfile holds, without dev dependencies. No compiler comes along, and the app runs the same.
  const production = join(work, "production");
  await mkdir(production);
  for (const file of ["package.json", "package-lock.json", "weights.pth"]) await copyFile(join(app, file), join(production, file));
  await cp(join(app, "dist"), join(production, "dist"), { recursive: true });
  succeeded("npm ci --omit=dev", await npm(["ci", "--omit=dev", ...INSTALL_FLAGS], production, { ...CONSUMER_ENV, ONNXRUNTIME_NODE_INSTALL: "skip" }));
  const present = BUILD_TIME_PACKAGES.filter((name) => existsSync(join(production, "node_modules", name)));
  assert.deepEqual(present, [], "a production install holds no build-time package");
  assert.ok(existsSync(join(production, "node_modules", "@fxc", "runtime", "package.json")), "it holds the runtime");
  const deployed = await runApp("node dist/main.js (production)", "dist/main.js", production);
  assert.deepEqual(deployed, run, "the production install prints what the app printed");
});
