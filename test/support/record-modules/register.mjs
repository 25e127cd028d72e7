// Preload (node --import) that records which modules a process loads, into the file named by
// FXC_MODULE_LOG: every URL that ESM resolution gives (the hook in hooks.mjs, imports and dynamic
// imports alike) and, at exit, every file in require's cache (what CommonJS packages such as
// ts-morph load, TypeScript included, which no ESM hook sees).
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";

const log = process.env.FXC_MODULE_LOG;
if (log === undefined) throw new Error("record-modules: set FXC_MODULE_LOG to the file to record into");
register(new URL("./hooks.mjs", import.meta.url), { data: { log } });
const require = createRequire(import.meta.url);
process.on("exit", () => {
  const files = Object.keys(require.cache).map((file) => pathToFileURL(file).href);
  appendFileSync(log, files.map((url) => `${url}\n`).join(""));
});
