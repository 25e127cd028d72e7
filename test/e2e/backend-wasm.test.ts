import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { locateWasmFiles, wasmFailureFix } from "../../runtime/wasm.js";
import { WASM_FILES } from "../../runtime/index.js";
import { NODE_WITH_SOURCES, runProcess } from "../bench/child.js";
import { ROOT } from "../support/cli.js";
import { tempDir } from "../support/temp.js";

/** Where npm installed tfjs-backend-wasm's binaries for this repository. */
const INSTALLED = dirname(fileURLToPath(import.meta.resolve("@tensorflow/tfjs-backend-wasm")));

async function folderWithBinaries(prefix: string): Promise<string> {
  const folder = await tempDir(prefix);
  for (const file of WASM_FILES) await copyFile(join(INSTALLED, file), join(folder, file));
  return folder;
}

test("unbundled, the wasm binaries are found in the installed package", () => {
  assert.deepEqual(locateWasmFiles(undefined), { paths: `${INSTALLED}${sep}` });
});

test("binaries next to the code that runs (a bundle's folder) come first", async () => {
  const bundle = await folderWithBinaries("wasm-bundle");
  assert.deepEqual(locateWasmFiles(undefined, pathToFileURL(join(bundle, "main.mjs")).href), { paths: `${bundle}${sep}` });
});

test("wasmPaths: a folder (path or file: URL) holding all three, or a map of each file", async () => {
  const folder = await folderWithBinaries("wasm-given");
  assert.deepEqual(locateWasmFiles(folder), { paths: `${folder}${sep}` });
  assert.deepEqual(locateWasmFiles(pathToFileURL(folder).href), { paths: `${folder}${sep}` });
  const map = Object.fromEntries(WASM_FILES.map((f) => [f, join(folder, f)])) as Record<(typeof WASM_FILES)[number], string>;
  assert.deepEqual(locateWasmFiles(map), { paths: map });
});

test("wasmPaths that do not hold the binaries: why, and the fix", async () => {
  const empty = await tempDir("wasm-empty");
  assert.deepEqual(locateWasmFiles(empty), {
    why: `${WASM_FILES.join(", ")} are not in ${empty} (the wasmPaths option); copy node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm there`,
  });
  const partial = { "tfjs-backend-wasm.wasm": join(INSTALLED, "tfjs-backend-wasm.wasm") } as unknown as Record<(typeof WASM_FILES)[number], string>;
  const located = locateWasmFiles(partial);
  assert.ok("why" in located);
  assert.match(located.why, /^the wasmPaths option must map each of tfjs-backend-wasm\.wasm, .* to an existing file \(tfjs-backend-wasm-simd\.wasm missing, tfjs-backend-wasm-threaded-simd\.wasm missing\)$/);
});

test("a bundle without require or __dirname for tfjs's CommonJS code: the failure points to the banner", () => {
  assert.equal(wasmFailureFix("__dirname is not defined"), "; an ES module bundle must define require and __dirname for tfjs's CommonJS code (the esbuild banner in fxc's docs/bundlers.md)");
  assert.match(wasmFailureFix('Dynamic require of "fs" is not supported'), /esbuild banner/);
  assert.equal(wasmFailureFix("Aborted(CompileError: WebAssembly.instantiate(): expected magic word)"), "");
});

test("in a browser, the binaries are fetched from the bundle's folder unless wasmPaths says where", () => {
  const bundle = "https://app.example/assets/index-1a2b.js";
  assert.deepEqual(locateWasmFiles(undefined, bundle, false), { paths: "https://app.example/assets/" });
  assert.deepEqual(locateWasmFiles("/static/wasm", bundle, false), { paths: "/static/wasm/" });
  const map = Object.fromEntries(WASM_FILES.map((f) => [f, `/assets/${f.replace(".wasm", "-x1.wasm")}`])) as Record<(typeof WASM_FILES)[number], string>;
  assert.deepEqual(locateWasmFiles(map, bundle, false), { paths: map });
});

/** Runs `body` (after `import { tf, useBackend } from fxc's runtime`) in a fresh process: tfjs keeps a wasm failure for the life of the process. */
async function inFreshProcess(body: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `import { tf, useBackend } from ${JSON.stringify(join(ROOT, "runtime/index.ts"))};\n${body}`;
  return runProcess(NODE_WITH_SOURCES[0]!, [...NODE_WITH_SOURCES.slice(1), "--input-type=module", "-e", script], process.env, ROOT);
}

test("auto mode never falls back to cpu quietly: wasm that cannot start is an error naming why and the fix", async () => {
  const empty = await tempDir("wasm-auto");
  const r = await inFreshProcess(`
    try { await useBackend("auto", { wasmPaths: ${JSON.stringify(empty)} }); console.log("ran on " + tf.getBackend()); }
    catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }
  `);
  assert.equal(r.code, 0, r.stderr);
  const { name, message } = JSON.parse(r.stdout.trim()) as { name: string; message: string };
  assert.equal(name, "BackendError");
  assert.equal(
    message,
    `the wasm backend (the default here) is not available: ${WASM_FILES.join(", ")} are not in ${empty} (the wasmPaths option); copy node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm there; or run on plain JavaScript, many times slower, by naming it (--backend cpu, options.backend: "cpu")`,
  );
});

test("a wasm backend that fails to initialize says why (tfjs keeps the reason to itself in production mode)", async () => {
  const broken = await tempDir("wasm-broken");
  for (const file of WASM_FILES) await writeFile(join(broken, file), "not WebAssembly");
  const r = await inFreshProcess(`
    try { await useBackend("wasm", { wasmPaths: ${JSON.stringify(broken)} }); console.log("started"); }
    catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }
  `);
  assert.equal(r.code, 0, r.stderr);
  const { name, message } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { name: string; message: string };
  assert.equal(name, "BackendError");
  assert.match(message, /^backend 'wasm' failed to initialize: \S/);
});

test("a tensor made before anything else works: the cpu backend is registered on import", async () => {
  const r = await inFreshProcess(`console.log(JSON.stringify({ sum: tf.sum(tf.ones([2, 3])).dataSync()[0], backend: tf.getBackend() }));`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { sum: 6, backend: "cpu" });
});
