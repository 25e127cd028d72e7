import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ts } from "ts-morph";
import { writeFileAtomic } from "../../runtime/io/atomic.js";
import type { CompiledModule } from "../../runtime/extractor.js";
import { createExtractorPool } from "../../runtime/index.js";
import { OptionsError } from "../pipeline.js";
import { compileProgram } from "../api.js";
import { requestExtractorOptions, requestLoadOptions, type ExtractorLoader } from "../tasks/loader.js";

/**
 * Compiled modules that `fxc extract` runs: the exact source `fxc compile` writes, made
 * runnable by stripping its types and pointing its runtime import at this process's runtime
 * (so that both share one tfjs and one backend).
 */
export async function importCompiled<M>(source: string): Promise<M> {
  return (await import(await cacheCompiled(source))) as M;
}

/** Writes the runnable form of a compiled module into the cache; returns its URL. */
export async function cacheCompiled(source: string): Promise<string> {
  const runtimeUrl = new URL("../../runtime/index.js", import.meta.url).href;
  const js = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } })
    .outputText.replace(/from "fxc\/runtime"/g, `from ${JSON.stringify(runtimeUrl)}`);
  const dir = process.env.FXC_CACHE_DIR ?? join(tmpdir(), "fxc-cache");
  const file = join(dir, `${createHash("sha256").update(js).digest("hex").slice(0, 24)}.mjs`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(file, js);
  }
  return pathToFileURL(file).href;
}

/**
 * The CLI's extractors: the module `fxc compile` writes for the request, imported and loaded, or,
 * with `workers` above 1, loaded by a pool of worker threads.
 */
export const loadCompiled: ExtractorLoader = async (r) => {
  const { source, program } = await compileProgram(r.model, requestExtractorOptions(r));
  const options = requestLoadOptions(r);
  if ((r.workers ?? 1) > 1) {
    if (typeof r.weights !== "string") throw new OptionsError("worker threads read the weights themselves: give a checkpoint path");
    const pool = await createExtractorPool(await cacheCompiled(source), r.weights, { ...options, workers: r.workers });
    return { extractor: pool, outputs: program.outputs, layout: r.layout };
  }
  const compiled = await importCompiled<CompiledModule>(source);
  return { extractor: await compiled.load(r.weights, options), outputs: program.outputs, layout: r.layout };
};
