import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { errorFromThread, type ThreadFailure } from "../errors.js";
import { workerScript } from "../workerScript.js";
import { alignJobs, planMultiScaleRoIAlign, type AlignParams, type MultiScaleRoIAlignArgs, type Nchw } from "./roiAlign.js";

/**
 * multiScaleRoIAlign spread over worker threads: the boxes are split into one contiguous run per
 * thread, each writing its boxes' C × ph × pw into one shared output. The levels are copied once
 * into shared memory (and reused while the same arrays come back: the box head's and the mask
 * head's pooling read the same FPN levels). Each box's sums are computed by the same code as in
 * one thread (alignJobs), so the results are identical; only the wall time changes (CPU time
 * stays, plus the copies).
 */

/** One box as a worker gets it (its level's data is the shared copy). */
export interface SharedJob {
  readonly level: number;
  readonly batchIndex: number;
  readonly spatialScale: number;
  readonly box: readonly [number, number, number, number];
  readonly outOffset: number;
}

export interface RoIAlignRequest {
  readonly id: number;
  readonly levels: readonly { readonly buffer: SharedArrayBuffer; readonly shape: Nchw }[];
  readonly jobs: readonly SharedJob[];
  readonly channels: number;
  readonly params: AlignParams;
  readonly out: SharedArrayBuffer;
}

export type RoIAlignReply = { readonly id: number } | { readonly id: number; readonly error: ThreadFailure };

/** Below this many multiply-adds (boxes × channels × bins × taps) one thread does it: starting the others costs more. */
const THREADED_MIN_WORK = 20_000_000;

/**
 * The default thread count: the cores, at most eight (1000 boxes leave little to split further);
 * 1 where there are no worker threads (a browser bundle maps node:os and node:worker_threads to nothing).
 */
export function defaultRoIAlignThreads(): number {
  if (typeof availableParallelism !== "function" || typeof Worker !== "function") return 1;
  return Math.min(availableParallelism(), 8);
}

export interface RoIAlignThreads {
  /** multiScaleRoIAlign's result, computed by up to `threads` threads. */
  multiScaleRoIAlign(...args: MultiScaleRoIAlignArgs): Promise<Float32Array>;
  readonly threads: number;
  /** Ends the worker threads. */
  dispose(): void;
}

/** A pool of `threads` RoIAlign threads (this one included), started at the first large enough call; 1 runs everything here. */
export function roiAlignThreads(threads: number = defaultRoIAlignThreads()): RoIAlignThreads {
  if (!(Number.isSafeInteger(threads) && threads >= 1)) throw new RangeError(`RoIAlign threads ${threads} is not a whole number >= 1`);
  let workers: Worker[] | undefined;
  /** Set when a worker failed: from then on everything runs here. */
  let broken = false;
  const shared = new WeakMap<Float32Array, SharedArrayBuffer>();
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 0;

  const start = (): Worker[] => {
    const script = workerScript(import.meta.url, "roiAlignWorker");
    return Array.from({ length: threads - 1 }, () => {
      const worker = new Worker(script);
      worker.unref();
      worker.on("message", (reply: RoIAlignReply) => {
        const waiting = pending.get(reply.id);
        pending.delete(reply.id);
        if ("error" in reply) waiting?.reject(errorFromThread(reply.error));
        else waiting?.resolve();
      });
      worker.on("error", (e) => {
        broken = true;
        for (const w of pending.values()) w.reject(e);
        pending.clear();
      });
      return worker;
    });
  };

  const shareLevel = (data: Float32Array): SharedArrayBuffer => {
    let buffer = shared.get(data);
    if (buffer === undefined) {
      buffer = new SharedArrayBuffer(data.byteLength);
      new Float32Array(buffer).set(data);
      shared.set(data, buffer);
    }
    return buffer;
  };

  return {
    threads,
    async multiScaleRoIAlign(...args) {
      const plan = planMultiScaleRoIAlign(...args);
      const [features, , , , samplingRatio] = args;
      const work = plan.outputLength * 4 * Math.max(samplingRatio, 1) ** 2;
      if (threads === 1 || broken || work < THREADED_MIN_WORK || plan.jobs.length < threads) {
        const out = new Float32Array(plan.outputLength);
        alignJobs(plan.jobs, plan.channels, plan.params, out);
        return out;
      }
      workers ??= start();
      const levels = features.map((f) => ({ buffer: shareLevel(f.data), shape: f.shape }));
      const outBuffer = new SharedArrayBuffer(plan.outputLength * 4);
      const out = new Float32Array(outBuffer);
      // Contiguous runs of boxes, one per thread; the last run is this thread's.
      const per = Math.ceil(plan.jobs.length / threads);
      const runs = Array.from({ length: threads }, (_, t) => plan.jobs.slice(t * per, (t + 1) * per));
      const done = workers.map((worker, t) => {
        const id = nextId++;
        const jobs: SharedJob[] = runs[t]!.map(({ level, batchIndex, spatialScale, box, outOffset }) => ({ level, batchIndex, spatialScale, box, outOffset }));
        const request: RoIAlignRequest = { id, levels, jobs, channels: plan.channels, params: plan.params, out: outBuffer };
        // Held (ref) only while it works: an idle pool does not keep the process alive.
        worker.ref();
        return new Promise<void>((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.postMessage(request);
        }).finally(() => worker.unref());
      });
      alignJobs(runs[threads - 1]!, plan.channels, plan.params, out);
      try {
        await Promise.all(done);
      } catch {
        // A worker that failed: this thread does the whole of it, as without threads.
        broken = true;
        alignJobs(plan.jobs, plan.channels, plan.params, out);
      }
      // A plain copy: engines' tensors take ordinary buffers.
      return out.slice();
    },
    dispose() {
      for (const worker of workers ?? []) void worker.terminate();
      workers = undefined;
    },
  };
}
