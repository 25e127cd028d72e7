import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, cp, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lastJson, ROOT, runProcess } from "../bench/child.js";
import { assertOneLineError } from "../support/cli.js";
import { RESNET18_WEIGHTS } from "../support/fixtures.js";
import { CONSUMER_ENV, INSTALL_FLAGS, npm, packPackages, recipeFiles, registryReachable, succeeded, TSC, versionOf } from "../support/package.js";
import { tempDir } from "../support/temp.js";
import { WASM_FILES } from "../../runtime/wasm.js";

/**
 * docs/bundlers.md, done as a user does it: fxc packed and installed into a fresh app with esbuild
 * and Vite, resnet18's layer1.0 compiled, and every recipe of the page built as the page writes it
 * (the files are read from the page). The Node bundles run from a folder without node_modules,
 * first without the wasm binaries (one line naming the fix), then with them (the backend is wasm,
 * the features are the unbundled app's). The browser bundles build and carry the binaries.
 */

const DOC = join(ROOT, "docs", "bundlers.md");
/** Where npm installed tfjs-backend-wasm's binaries for this repository: what every bundle must carry. */
const INSTALLED_WASM = dirname(fileURLToPath(import.meta.resolve("@tensorflow/tfjs-backend-wasm")));

/** The test's own entry (the page's src/main.ts loads a full checkpoint): an input made before load(), the features printed; arguments: weights [backend, default auto] [engine, default tfjs]. */
const MAIN = `import { FxcError, tf, type BackendName, type EngineName, type Tensor4D } from "@fxc/runtime";
import { load } from "./generated/resnet18.js";

// Made before load(): tfjs's plain-JavaScript backend must be registered by importing the runtime, bundled or not.
const x = tf.tensor4d(Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i)), [2, 32, 32, 3]) as Tensor4D;
try {
  const [weights, backend = "auto", engine = "tfjs"] = process.argv.slice(2);
  const extractor = await load(weights!, { engine: engine as EngineName | "auto", backend: backend as BackendName | "auto" });
  const features = await extractor.run(x);
  const layer = features["layer1.0"];
  console.log(JSON.stringify({ engine: extractor.engine, backend: extractor.backend, shape: layer.shape, values: Array.from(await layer.data()) }));
} catch (e) {
  if (!(e instanceof FxcError)) throw e;
  console.error(\`app: \${e.message}\`);
  process.exitCode = 1;
}
`;

/** The same through the compiler's API at run time (createFeatureExtractor: TypeScript, ts-morph and prettier come along). */
const COMPILE = MAIN.replace('import { load } from "./generated/resnet18.js";', 'import { createFeatureExtractor } from "fxc";\nconst fx = createFeatureExtractor("resnet18", { returnNodes: ["layer1.0"], size: 32 });\nconst load = fx.load.bind(fx);');

interface AppRun {
  readonly engine: string;
  readonly backend: string;
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

async function megabytes(file: string): Promise<string> {
  return `${((await stat(file)).size / 1e6).toFixed(1)} MB`;
}

async function writeApp(app: string): Promise<void> {
  await mkdir(join(app, "src"), { recursive: true });
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "fxc-bundled", version: "1.0.0", private: true, type: "module" }, null, 2));
  const compilerOptions = { target: "ES2022", module: "nodenext", strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, rootDir: "src", outDir: "dist" };
  await writeFile(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["src/main.ts"] }, null, 2));
  for (const [name, body] of recipeFiles(await readFile(DOC, "utf8"))) {
    if (name === "src/main.ts") continue;
    await mkdir(dirname(join(app, name)), { recursive: true });
    await writeFile(join(app, name), body);
  }
  await writeFile(join(app, "src", "main.ts"), MAIN);
  await writeFile(join(app, "src", "compile.ts"), COMPILE);
  await copyFile(RESNET18_WEIGHTS, join(app, "weights.pth"));
}

/** Runs a Node bundle from `deploy`, a folder outside the app (no node_modules): first its script alone, then with the wasm binaries its recipe put beside it. */
async function runDeployed(bundle: string, script: string, deploy: string, weights: string): Promise<AppRun> {
  await mkdir(deploy, { recursive: true });
  await copyFile(join(bundle, script), join(deploy, script));
  const missing = await runProcess(process.execPath, [script, weights], CONSUMER_ENV, deploy);
  assertOneLineError(missing, /^app: the wasm backend \(the default here\) is not available: its binaries .* are neither next to this code nor in an installed @tensorflow\/tfjs-backend-wasm \(looked in .*\); copy node_modules\/@tensorflow\/tfjs-backend-wasm\/dist\/\*\.wasm next to your bundle, or say where they are with the wasmPaths option/, { code: 1 });
  await cp(bundle, deploy, { recursive: true });
  return lastJson<AppRun>(succeeded(`node ${script}`, await runProcess(process.execPath, [script, weights], CONSUMER_ENV, deploy)));
}

/** The three binaries, byte for byte the package's, in `folder`: under their own names, or Vite's hashed ones (returned). */
async function assertBinaries(folder: string, hashed: boolean): Promise<string[]> {
  const names = await readdir(folder);
  const found: string[] = [];
  for (const file of WASM_FILES) {
    const base = file.slice(0, -".wasm".length);
    const name = names.find((n) => (hashed ? new RegExp(`^${base}-[\\w-]+\\.wasm$`).test(n) : n === file));
    assert.ok(name !== undefined, `${file} is in ${folder} (${names.join(", ")})`);
    assert.ok((await readFile(join(folder, name))).equals(await readFile(join(INSTALLED_WASM, file))), `${name} is tfjs's ${file}`);
    found.push(name);
  }
  return found;
}

test("docs/bundlers.md's recipes: esbuild and Vite bundles for Node run on wasm with the unbundled app's features; browser bundles build with the binaries", { timeout: 600_000 }, async (t) => {
  const work = await tempDir("bundlers");
  const app = join(work, "app");
  await writeApp(app);
  if (!(await registryReachable(t, app))) return;

  const { fxc, runtime } = await packPackages(work);
  // The app's tools, at this repository's versions (npm's cache holds them): the bundlers, and Node's types for the entry's process.argv.
  const tools = await Promise.all(["esbuild", "vite", "@types/node"].map(async (pkg) => `${pkg}@${await versionOf(pkg)}`));
  succeeded("npm install", await npm(["install", runtime.tarball, fxc.tarball, ...tools, ...INSTALL_FLAGS], app));
  succeeded("npx fxc compile", await runProcess("npx", ["fxc", "compile", "resnet18", "--return", "layer1.0", "--size", "32", "--out", "src/generated"], CONSUMER_ENV, app));
  succeeded("tsc", await runProcess(process.execPath, [TSC, "-p", "."], CONSUMER_ENV, app));
  const weights = join(app, "weights.pth");
  // Unbundled, on wasm by name: auto would pick a GPU where Dawn finds one, and the bundles below run where it is not installed.
  const unbundled = lastJson<AppRun>(succeeded("node dist/main.js", await runProcess(process.execPath, ["dist/main.js", weights, "wasm"], CONSUMER_ENV, app)));
  assert.equal(unbundled.backend, "wasm");
  assert.deepEqual(unbundled.shape, [2, 8, 8, 64]);
  const vite = join(app, "node_modules", "vite", "bin", "vite.js");

  await t.test("esbuild, Node: one ES module file and the binaries; onnxruntime-node, external, used where installed", async () => {
    succeeded("node esbuild.node.mjs", await runProcess(process.execPath, ["esbuild.node.mjs"], CONSUMER_ENV, app));
    const run = await runDeployed(join(app, "bundle", "node"), "main.mjs", join(work, "deploy-esbuild"), weights);
    assert.deepEqual({ engine: run.engine, backend: run.backend }, { engine: "tfjs", backend: "wasm" });
    assert.deepEqual(run.values, unbundled.values);
    t.diagnostic(`esbuild, Node: main.mjs ${await megabytes(join(app, "bundle", "node", "main.mjs"))}`);

    // Where the native engine is installed, the bundle uses it: external, it is imported from node_modules.
    if (!existsSync(join(app, "node_modules", "onnxruntime-node", "package.json"))) {
      succeeded("npm install onnxruntime-node", await npm(["install", "onnxruntime-node@1.30", ...INSTALL_FLAGS], app, { ...CONSUMER_ENV, ONNXRUNTIME_NODE_INSTALL: "skip" }));
    }
    const native = lastJson<AppRun>(succeeded("node bundle/node/main.mjs", await runProcess(process.execPath, ["bundle/node/main.mjs", weights, "auto", "auto"], CONSUMER_ENV, app)));
    assert.deepEqual({ engine: native.engine, backend: native.backend }, { engine: "onnxruntime", backend: "wasm" });
    const largest = Math.max(...unbundled.values.map(Math.abs));
    const worst = Math.max(...native.values.map((v, i) => Math.abs(v - unbundled.values[i]!)));
    assert.ok(worst <= 1e-4 * largest, `onnxruntime within 1e-4 of the largest magnitude: ${worst} of ${largest}`);
  });

  await t.test("esbuild, Node, createFeatureExtractor bundled: the compiler runs from the bundle too", async () => {
    const recipe = await readFile(join(app, "esbuild.node.mjs"), "utf8");
    const compileRecipe = recipe.replace('"src/main.ts"', '"src/compile.ts"').replace('"bundle/node"', '"bundle/compile"');
    assert.notEqual(compileRecipe, recipe);
    await writeFile(join(app, "esbuild.compile.mjs"), compileRecipe);
    succeeded("node esbuild.compile.mjs", await runProcess(process.execPath, ["esbuild.compile.mjs"], CONSUMER_ENV, app));
    const deploy = join(work, "deploy-compile");
    await cp(join(app, "bundle", "compile"), deploy, { recursive: true });
    const run = lastJson<AppRun>(succeeded("node main.mjs", await runProcess(process.execPath, ["main.mjs", weights], CONSUMER_ENV, deploy)));
    assert.deepEqual({ engine: run.engine, backend: run.backend }, { engine: "tfjs", backend: "wasm" });
    assert.deepEqual(run.values, unbundled.values);
    t.diagnostic(`esbuild, Node, with the compiler: main.mjs ${await megabytes(join(deploy, "main.mjs"))}`);
  });

  await t.test("Vite, Node (SSR build): one ES module file and the binaries", async () => {
    succeeded("vite build --config vite.node.config.mjs", await runProcess(process.execPath, [vite, "build", "--config", "vite.node.config.mjs"], CONSUMER_ENV, app));
    const run = await runDeployed(join(app, "bundle", "vite-node"), "main.js", join(work, "deploy-vite"), weights);
    assert.deepEqual({ engine: run.engine, backend: run.backend }, { engine: "tfjs", backend: "wasm" });
    assert.deepEqual(run.values, unbundled.values);
    t.diagnostic(`Vite, Node: main.js ${await megabytes(join(app, "bundle", "vite-node", "main.js"))}`);
  });

  await t.test("esbuild, browser: builds without Node's modules, the binaries beside it", async () => {
    succeeded("node esbuild.browser.mjs", await runProcess(process.execPath, ["esbuild.browser.mjs"], CONSUMER_ENV, app));
    const bundle = await readFile(join(app, "bundle", "browser", "browser.js"), "utf8");
    assert.doesNotMatch(bundle, /from\s*["']node:|import\(\s*["']node:|onnxruntime_binding/, "Node-only modules are left out");
    await assertBinaries(join(app, "bundle", "browser"), false);
    t.diagnostic(`esbuild, browser: browser.js ${await megabytes(join(app, "bundle", "browser", "browser.js"))}`);
  });

  await t.test("Vite, browser: builds, emits the binaries its ?url imports name", async () => {
    succeeded("vite build", await runProcess(process.execPath, [vite, "build"], CONSUMER_ENV, app));
    const assets = join(app, "bundle", "vite-browser", "assets");
    const emitted = await assertBinaries(assets, true);
    const scripts = await Promise.all((await readdir(assets)).filter((n) => n.endsWith(".js")).map((n) => readFile(join(assets, n), "utf8")));
    for (const name of emitted) assert.ok(scripts.some((s) => s.includes(name)), `the bundle refers to ${name}`);
  });
});
