import { extname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The entry of a worker thread whose module is `name` (without extension), next to the module at
 * `moduleUrl` (pass `import.meta.url`). Run from TypeScript sources (the tests, `npm run fxc`), a
 * worker does not inherit the parent's tsx loader, so a small entry registers it before loading the
 * worker's module; from the built JavaScript the module itself is the entry.
 */
export function workerScript(moduleUrl: string, name: string): URL {
  const extension = extname(fileURLToPath(moduleUrl));
  const worker = new URL(`./${name}${extension}`, moduleUrl);
  if (extension !== ".ts") return worker;
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(worker.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(entry)}`);
}
