import { parentPort } from "node:worker_threads";
import { resampleRows, type ResampleBand } from "./resample.js";

/**
 * One resampling thread: computes bands of output rows into shared memory. The source and the
 * output are views on SharedArrayBuffers, so nothing is copied either way.
 */

export type ResampleRequest = ResampleBand & { readonly id: number };
export type ResampleReply = { readonly id: number } | { readonly id: number; readonly error: string };

const port = parentPort!;
port.on("message", (band: ResampleRequest) => {
  try {
    resampleRows(band);
    port.postMessage({ id: band.id } satisfies ResampleReply);
  } catch (error) {
    port.postMessage({ id: band.id, error: error instanceof Error ? error.message : String(error) } satisfies ResampleReply);
  }
});
