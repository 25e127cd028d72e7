/**
 * One engine on one task, in a process of its own (bench.ts starts it): import the compiled module,
 * then the first call (load the weights from their file, one run at the full batch: it is also the
 * warm-up), then the timed runs. Prints an EngineResult as JSON.
 */
import { createExtractorPool, tf, type Tensor4D } from "../../runtime/index.js";
import type { CompiledModule } from "../../runtime/extractor.js";
import type { EngineJob, EngineResult } from "./engines.js";

/** What the bench needs of an extractor or a pool: `run`, which every engine has. */
interface Runnable {
  run(x: Tensor4D): Promise<unknown>;
  dispose(): unknown;
  readonly backend: string;
  readonly engine: string;
}

/** Disposes the tfjs tensors among the outputs; typed arrays need nothing. */
function release(outputs: unknown): void {
  if (typeof outputs !== "object" || outputs === null) return;
  for (const value of Object.values(outputs)) if (value instanceof tf.Tensor) value.dispose();
}

/** Uniform values in [-1, 1) from a fixed seed: the same input on every engine. */
function input(batch: number, size: number): Tensor4D {
  const data = new Float32Array(batch * size * size * 3);
  let seed = 1;
  for (let i = 0; i < data.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    data[i] = seed / 2 ** 31 - 1;
  }
  return tf.tensor4d(data, [batch, size, size, 3]);
}

async function main(job: EngineJob): Promise<EngineResult> {
  // Importing is the user's program starting; the first call is what follows.
  const module = (await import(job.moduleUrl)) as CompiledModule;
  const started = performance.now();
  const extractor: Runnable =
    job.workers === undefined ? await module.load(job.weights, job.options) : await createExtractorPool(job.moduleUrl, job.weights, { ...job.options, workers: job.workers });
  // A row names what ran: onnxruntime, or tfjs's backend.
  const resolved = extractor.engine === "tfjs" ? extractor.backend : extractor.engine;
  if (job.options.engine !== undefined && extractor.engine !== job.options.engine) {
    throw new Error(`load ran engine ${extractor.engine} where the row asked for ${job.options.engine}`);
  }
  const x = input(job.batch, job.size);
  const runOnce = async (): Promise<void> => release(await extractor.run(x));
  try {
    await runOnce();
    const firstCallSeconds = (performance.now() - started) / 1000;
    const seconds: number[] = [];
    for (let i = 0; i < job.runs; i++) {
      const start = performance.now();
      await runOnce();
      seconds.push((performance.now() - start) / 1000);
    }
    return { resolved, seconds, firstCallSeconds, maxRssMB: process.resourceUsage().maxRSS / 1024 };
  } finally {
    x.dispose();
    await extractor.dispose();
  }
}

try {
  console.log(JSON.stringify(await main(JSON.parse(process.argv[2]!) as EngineJob)));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
