import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { useBackend } from "../backend.js";
import type { EngineReport, LoadOptions } from "../extractor.js";
import { assertNonEmptyBatch } from "../ops/support/input.js";
import { tf, type Tensor, type Tensor4D } from "../ops/tf.js";
import { concatFloat32 } from "../weights/dtype.js";
import { workerScript } from "../workerScript.js";
import { errorFromThread } from "../errors.js";
import type { FromWorker, TensorMessage, ToWorker, WorkerSetup } from "./messages.js";

export interface PoolOptions extends Omit<LoadOptions, "trainable"> {
  /** Worker threads, each with its own backend and weights; default: one per core. */
  readonly workers?: number;
}

/** An extractor spread over worker threads: a batch is split by rows, one slice per worker. Its report is its workers'. */
export interface ExtractorPool extends EngineReport {
  /** Runs a batch, split by rows over the workers; the features are tfjs tensors in this thread. */
  run(x: Tensor4D): Promise<Record<string, Tensor>>;
  /** The same as `run` (the pool was async before engines had `run`). */
  forward(x: Tensor4D): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
  readonly workers: number;
}

/**
 * tfjs's WebAssembly backend runs one thread in Node, so more cores need more workers, each
 * with its own backend. Worth it for large batches and folders; each worker holds the weights.
 */
export async function createExtractorPool(moduleUrl: string, weights: string, options: PoolOptions = {}): Promise<ExtractorPool> {
  const count = Math.max(1, options.workers ?? availableParallelism());
  // This thread holds the inputs and outputs, on the same kind of backend as the workers.
  await useBackend(options.backend, { wasmPaths: options.wasmPaths });
  const { workers: _, onWarning, ...loadOptions } = options;
  const warned = new Set<string>();
  const warn = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    (onWarning ?? ((m: string) => process.emitWarning(m)))(message);
  };
  const script = workerScript(import.meta.url, "worker");
  // Workers share the cores: onnxruntime's threads per worker are the cores divided among them, not one per core each.
  const threads = loadOptions.threads ?? Math.max(1, Math.floor(availableParallelism() / count));
  const setup: WorkerSetup = { moduleUrl, weights, options: { ...loadOptions, threads } };
  const pending = new Map<number, { resolve: (o: Record<string, TensorMessage>) => void; reject: (e: Error) => void }>();
  let nextId = 0;

  const started = await Promise.allSettled(
    Array.from({ length: count }, () => {
      const worker = new Worker(script, { workerData: setup });
      return new Promise<{ worker: Worker; report: EngineReport }>((resolve, reject) => {
        worker.once("error", reject);
        const starting = (m: FromWorker): void => {
          if ("warning" in m) return warn(m.warning);
          worker.off("message", starting);
          if ("ready" in m) {
            const { ready: _, ...report } = m;
            resolve({ worker, report });
          }
          else reject("error" in m ? errorFromThread(m.error) : new Error("the worker did not start"));
        };
        worker.on("message", starting);
      });
    }),
  );
  const ready = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure !== undefined) {
    await Promise.all(ready.map((r) => r.worker.terminate()));
    throw failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason));
  }
  for (const { worker } of ready) {
    worker.on("message", (m: FromWorker) => {
      if (!("id" in m) || m.id === undefined) return;
      const job = pending.get(m.id);
      pending.delete(m.id);
      if ("error" in m) job?.reject(errorFromThread(m.error));
      else if ("outputs" in m) job?.resolve(m.outputs);
    });
  }

  const run = (worker: Worker, input: TensorMessage): Promise<Record<string, TensorMessage>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, input } satisfies ToWorker, [input.data.buffer as ArrayBuffer]);
    });

  const pool: ExtractorPool = {
    workers: ready.length,
    ...ready[0]!.report,
    forward: (x) => pool.run(x),
    async run(x) {
      assertNonEmptyBatch(x.shape);
      const n = x.shape[0];
      const rowsPer = Math.ceil(n / ready.length);
      const data = (await x.data()) as Float32Array;
      const rowSize = data.length / n;
      const slices = ready.slice(0, Math.ceil(n / rowsPer)).map(({ worker }, i) => {
        const rows = Math.min(rowsPer, n - i * rowsPer);
        const part = data.slice(i * rowsPer * rowSize, (i * rowsPer + rows) * rowSize);
        return run(worker, { shape: [rows, ...x.shape.slice(1)], data: part });
      });
      const parts = await Promise.all(slices);
      // Null prototype, as a compiled module's own result: every key is an own property.
      const out = Object.create(null) as Record<string, Tensor>;
      for (const key of Object.keys(parts[0]!)) {
        const pieces = parts.map((p) => p[key]!);
        const joined = concatFloat32(pieces.map((p) => p.data));
        // Every output has the batch first, in either layout.
        out[key] = tf.tensor(joined, [pieces.reduce((s, p) => s + p.shape[0]!, 0), ...pieces[0]!.shape.slice(1)]);
      }
      return out;
    },
    async dispose() {
      for (const { worker } of ready) worker.postMessage({ id: -1, close: true } satisfies ToWorker);
      await Promise.all(ready.map(({ worker }) => new Promise((resolve) => worker.once("exit", resolve))));
    },
  };
  return pool;
}
