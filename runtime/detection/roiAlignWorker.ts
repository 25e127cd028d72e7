import { parentPort } from "node:worker_threads";
import { threadFailure } from "../errors.js";
import { alignJobs, type Job } from "./roiAlign.js";
import type { RoIAlignReply, RoIAlignRequest } from "./roiAlignThreads.js";

/** One RoIAlign thread of roiAlignThreads: pools the boxes it is sent from the shared levels into the shared output. */

const port = parentPort!;
port.on("message", (request: RoIAlignRequest) => {
  let reply: RoIAlignReply;
  try {
    const inputs = request.levels.map((l) => new Float32Array(l.buffer));
    const jobs: Job[] = request.jobs.map((j) => ({ ...j, input: inputs[j.level]!, shape: request.levels[j.level]!.shape }));
    alignJobs(jobs, request.channels, request.params, new Float32Array(request.out));
    reply = { id: request.id };
  } catch (e) {
    reply = { id: request.id, error: threadFailure(e) };
  }
  port.postMessage(reply);
});
