/**
 * fxc's engines as the bench measures them: one row each, measured in a child process of its own
 * (engineChild.ts) so that its peak RSS is its own. Adding an engine is adding a row.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { availableBackends, type BackendName, type LoadOptions } from "../../runtime/index.js";
import { failure, lastJson, NODE_WITH_SOURCES, ROOT, runProcess } from "./child.js";
import type { Timing } from "./targets.js";
import type { DetectJob, DetectResult } from "./detectChild.js";

export interface EngineRow {
  /** What `--backends` names it by. */
  readonly id: string;
  readonly label: string;
  /** tfjs rows name the engine too: by default `load` picks onnxruntime where it is installed. */
  readonly options: LoadOptions;
  /** A pool of worker threads, each with its own engine and weights, sharing each batch. */
  readonly workers?: number;
  /** Measured when `--backends` is not given. */
  readonly byDefault: boolean;
  /** Why it cannot run here, or undefined when it can. */
  unavailable(): Promise<string | undefined>;
}

async function tfjsBackend(name: BackendName): Promise<string | undefined> {
  return (await availableBackends([name])).includes(name) ? undefined : `tfjs backend ${name} is not installed`;
}

function installed(pkg: string): string | undefined {
  try {
    import.meta.resolve(pkg);
    return undefined;
  } catch {
    return `${pkg} is not installed`;
  }
}

const cores = availableParallelism();

/** Every engine the bench knows, the default first: the rows that follow skip the one it resolves to. */
export const ENGINES: readonly EngineRow[] = [
  { id: "default", label: "fxc default", options: {}, byDefault: true, unavailable: async () => undefined },
  { id: "onnxruntime", label: "fxc onnxruntime", options: { engine: "onnxruntime" }, byDefault: true, unavailable: async () => installed("onnxruntime-node") },
  { id: "tensorflow", label: "fxc tfjs tensorflow", options: { engine: "tfjs", backend: "tensorflow" }, byDefault: true, unavailable: () => tfjsBackend("tensorflow") },
  { id: "wasm", label: "fxc tfjs wasm", options: { engine: "tfjs", backend: "wasm" }, byDefault: true, unavailable: () => tfjsBackend("wasm") },
  {
    id: "wasm-workers",
    label: `fxc tfjs wasm, ${cores} workers`,
    options: { engine: "tfjs", backend: "wasm" },
    workers: cores,
    byDefault: true,
    unavailable: async () => (cores < 2 ? "one core: a pool of one worker is the wasm row" : tfjsBackend("wasm")),
  },
  // Plain JavaScript: minutes per batch, only when asked for.
  { id: "cpu", label: "fxc tfjs cpu", options: { engine: "tfjs", backend: "cpu" }, byDefault: false, unavailable: () => tfjsBackend("cpu") },
];

/** What engineChild.ts is given. */
export interface EngineJob {
  /** A compiled module's runnable form (compiler/cli/cache.ts). */
  readonly moduleUrl: string;
  readonly weights: string;
  readonly options: LoadOptions;
  readonly workers?: number;
  readonly batch: number;
  readonly size: number;
  readonly runs: number;
}

/** What engineChild.ts prints. */
export interface EngineResult extends Timing {
  /** Load and first run at the full batch (the warm-up), in seconds. */
  readonly firstCallSeconds: number;
  /** The engine load picked: "wasm", "onnxruntime", ...; a pool's is its workers'. */
  readonly resolved: string;
}

/** Measures one engine on one task in a process of its own; a string says why it could not. */
export async function measureEngine(job: EngineJob): Promise<EngineResult | string> {
  const done = await runProcess(NODE_WITH_SOURCES[0]!, [...NODE_WITH_SOURCES.slice(1), join(ROOT, "test/bench/engineChild.ts"), JSON.stringify(job)]);
  return done.code === 0 ? lastJson<EngineResult>(done) : failure(done);
}

/** Measures the detector on one engine in a process of its own (detectChild.ts); a string says why it could not. */
export async function measureDetector(job: DetectJob): Promise<DetectResult | string> {
  const done = await runProcess(NODE_WITH_SOURCES[0]!, [...NODE_WITH_SOURCES.slice(1), join(ROOT, "test/bench/detectChild.ts"), JSON.stringify(job)]);
  return done.code === 0 ? lastJson<DetectResult>(done) : failure(done);
}
