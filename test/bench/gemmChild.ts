/**
 * The machine's ceiling for fp32 matrix products on ONNX Runtime, in a process of its own (bench.ts
 * starts it): an [M, K] input by a [K, N] weight, then by an [N, K] one (an MLP block without its
 * activation; the small result keeps copying it out of the timing), ONNX Runtime's CPU execution
 * provider at its default threads (one per core), as fxc's engine runs it. One run as warm-up,
 * then the timed ones. Prints a Timing as JSON.
 */
import { onnxRuntime } from "../../runtime/onnx/engine.js";
import { OnnxGraph, OnnxValue } from "../../runtime/onnx/graph.js";
import type { GemmJob } from "./gemm.js";
import type { Timing } from "./targets.js";

/** Values in [-1, 1) from a fixed seed. */
function seeded(count: number, seed: number): Float32Array {
  const data = new Float32Array(count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return data;
}

async function main({ m, k, n, runs }: GemmJob): Promise<Timing> {
  const ort = await onnxRuntime();
  const graph = new OnnxGraph();
  const up = graph.constant({ dtype: "float", dims: [k, n], data: seeded(k * n, 2) }, "up");
  const down = graph.constant({ dtype: "float", dims: [n, k], data: seeded(n * k, 3) }, "down");
  const x = new OnnxValue(graph, "x", [m, k]);
  const y = graph.node("MatMul", [graph.node("MatMul", [x, up], {}, [m, n]), down], {}, [m, k]);
  const session = await ort.InferenceSession.create(graph.serialize([x], [y], "bench"), { graphOptimizationLevel: "all", executionProviders: ["cpu"] });
  const feeds = { x: new ort.Tensor("float32", seeded(m * k, 1), [m, k]) };
  await session.run(feeds);
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await session.run(feeds);
    seconds.push((performance.now() - started) / 1000);
  }
  await session.release();
  return { seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 };
}

main(JSON.parse(process.argv[2]!) as GemmJob).then(
  (result) => console.log(JSON.stringify(result)),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
