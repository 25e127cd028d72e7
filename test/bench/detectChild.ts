/**
 * fxc's detector on one task, in a process of its own (bench.ts starts it): build the model, then
 * the first call (compile, load the weights from their file, one detect: the warm-up), then the
 * timed runs on the same seeded image torchvision_bench.py `detect` makes. Prints a DetectResult.
 */
import { createDetector } from "../../compiler/detection/index.js";
import { fasterrcnn_resnet50_fpn, maskrcnn_resnet50_fpn } from "../../models/index.js";
import type { LoadOptions } from "../../runtime/index.js";
import { seededInput } from "../support/seeded.js";
import type { EngineResult } from "./engines.js";

/** What detectChild.ts is given. */
export interface DetectJob {
  readonly model: "maskrcnn_resnet50_fpn" | "fasterrcnn_resnet50_fpn";
  readonly weights: string;
  readonly options: LoadOptions;
  readonly height: number;
  readonly width: number;
  readonly runs: number;
}

export interface DetectResult extends EngineResult {
  readonly detections: number;
}

async function main(job: DetectJob): Promise<DetectResult> {
  const started = performance.now();
  const model = (job.model === "maskrcnn_resnet50_fpn" ? maskrcnn_resnet50_fpn : fasterrcnn_resnet50_fpn)({ onWarning: () => {} });
  const detector = await createDetector(model).load(job.weights, job.options);
  const resolved = detector.engine === "tfjs" ? detector.backend : detector.engine;
  if (job.options.engine !== undefined && detector.engine !== job.options.engine) throw new Error(`load ran engine ${detector.engine} where the row asked for ${job.options.engine}`);
  const image = { data: seededInput([3, job.height, job.width], 1).map((v) => (v + 1) / 2), channels: 3, height: job.height, width: job.width };
  try {
    const [first] = await detector.detect([image]);
    const firstCallSeconds = (performance.now() - started) / 1000;
    const seconds: number[] = [];
    for (let i = 0; i < job.runs; i++) {
      const start = performance.now();
      await detector.detect([image]);
      seconds.push((performance.now() - start) / 1000);
    }
    return { resolved, seconds, firstCallSeconds, maxRssMB: process.resourceUsage().maxRSS / 1024, detections: first!.scores.length };
  } finally {
    detector.dispose();
  }
}

try {
  console.log(JSON.stringify(await main(JSON.parse(process.argv[2]!) as DetectJob)));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
