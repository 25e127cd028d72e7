import { Worker } from "node:worker_threads";
import { workerScript } from "../workerScript.js";
import type { ResampleBand } from "./resample.js";
import type { ResampleReply, ResampleRequest } from "./resampleWorker.js";

/**
 * Worker threads that resample bands of images (resampleWorker.ts), shared by every resize of the
 * process. Started on first use and grown up to the most threads asked for; idle workers are
 * unref'd, so that they never keep the process alive, and ref'd while they hold a band.
 */

interface Job {
  readonly band: ResampleBand;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

class ResampleThread {
  private readonly worker = new Worker(workerScript(import.meta.url, "resampleWorker"));
  private job: Job | undefined;
  private jobId = 0;

  constructor(private readonly onFree: (thread: ResampleThread, failure?: Error) => void) {
    this.worker.unref();
    this.worker.on("message", (reply: ResampleReply) => {
      if (reply.id !== this.jobId) return;
      const job = this.take();
      if ("error" in reply) job?.reject(new Error(reply.error));
      else job?.resolve();
      onFree(this);
    });
    // A thread that fails (it could not start, or ran out of memory) fails its band and leaves the pool.
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => this.fail(new Error(`a resampling thread stopped (exit code ${code})`)));
  }

  get busy(): boolean {
    return this.job !== undefined;
  }

  run(job: Job): void {
    this.job = job;
    this.jobId++;
    this.worker.ref();
    this.worker.postMessage({ ...job.band, id: this.jobId } satisfies ResampleRequest);
  }

  private take(): Job | undefined {
    const job = this.job;
    this.job = undefined;
    this.worker.unref();
    return job;
  }

  private failed = false;
  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.take()?.reject(error);
    this.onFree(this, error);
  }
}

const threads: ResampleThread[] = [];
const queue: Job[] = [];

/**
 * Resamples `band` on a worker thread, with at most `limit` threads in the pool. The band's source
 * and output must be views on SharedArrayBuffers: the worker writes the output in place.
 */
export function resampleOnWorker(band: ResampleBand, limit: number): Promise<void> {
  return new Promise((resolve, reject) => {
    queue.push({ band, resolve, reject });
    if (threads.length < limit && threads.every((t) => t.busy)) threads.push(new ResampleThread(onFree));
    dispatch();
  });
}

function onFree(thread: ResampleThread, failure?: Error): void {
  if (failure !== undefined) {
    const i = threads.indexOf(thread);
    if (i >= 0) threads.splice(i, 1);
    // No thread left to take the queued bands: they fail as this one did.
    if (threads.length === 0) for (const job of queue.splice(0)) job.reject(failure);
  }
  dispatch();
}

function dispatch(): void {
  for (const thread of threads) {
    if (queue.length === 0) return;
    if (!thread.busy) thread.run(queue.shift()!);
  }
}
