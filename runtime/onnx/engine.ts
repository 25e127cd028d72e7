import type * as Ort from "onnxruntime-node";
import { EngineError } from "../engine.js";
import type { TfjsKernels } from "../kernels.js";
import type { HostTensor } from "../params.js";
import type { Params } from "../params.js";
import type { Tensor, Tensor4D } from "../ops/tf.js";
import { OnnxGraph, OnnxValue } from "./graph.js";
import { onnxKernels } from "./ops/index.js";
import { keyedRecord } from "../features.js";

/** What the ONNX engine needs of a compiled module: its forward, which it runs over graph values. */
export type ForwardOver = (input: Tensor4D, params: Params, kernels: TfjsKernels) => unknown;

/** A tensor as plain data: what goes into and comes out of ONNX Runtime. */
export interface HostArray {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

let runtime: Promise<typeof Ort> | undefined;

/** onnxruntime-node, imported once; an EngineError naming the fix when it is missing or broken. */
export function onnxRuntime(): Promise<typeof Ort> {
  runtime ??= import("onnxruntime-node").then(
    (m) => ((m as unknown as { default?: typeof Ort }).default ?? m) as typeof Ort,
    (e: unknown) => {
      runtime = undefined;
      const why = e instanceof Error ? e.message.split("\n")[0]! : String(e);
      // Installed as fxc's optional dependency, it is dropped when its postinstall fails: offline, the CUDA download it tries by default.
      throw new EngineError("onnxruntime", `is not available (${why})`, "install it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30 (skip: no CUDA download), or pass --engine tfjs (options.engine 'tfjs')");
    },
  );
  return runtime;
}

/**
 * The module's forward run over ONNX graph values: the same kernel calls that run on tfjs,
 * each adding its nodes. Returns the graph and its outputs by key. Kernels that ONNX cannot
 * run faithfully (train mode) throw an EngineError here.
 */
export function buildGraph(forward: ForwardOver, params: Readonly<Record<string, HostTensor>>, inputShape: readonly number[]): { graph: OnnxGraph; input: OnnxValue; outputs: Record<string, OnnxValue> } {
  const graph = new OnnxGraph();
  const input = new OnnxValue(graph, "input", inputShape);
  const values: Record<string, OnnxValue> = {};
  for (const [id, p] of Object.entries(params)) {
    graph.initializers.set(`param.${id}`, { dtype: "float", dims: p.shape, data: p.values });
    values[id] = new OnnxValue(graph, `param.${id}`, p.shape);
  }
  // The module's forward is typed over tfjs tensors; the ONNX kernels take the same calls over
  // graph values (their table satisfies KernelTable<OnnxValue>), so this is the one place they meet.
  const result = forward(input as unknown as Tensor4D, values as unknown as Params, onnxKernels as unknown as TfjsKernels) as Record<string, unknown>;
  const outputs = keyedRecord<OnnxValue>([]); // keyed by the user's keys
  const named = new Set<string>([input.name, ...graph.initializers.keys()]);
  for (const [key, v] of Object.entries(result)) {
    if (!(v instanceof OnnxValue)) throw new Error(`internal: output '${key}' is not a tensor on the onnxruntime engine`);
    // Every output its own node's result: ONNX names outputs, and one value may be returned twice.
    const out = named.has(v.name) ? graph.node("Identity", [v], {}, v.shape, v.dtype) : v;
    named.add(out.name);
    outputs[key] = out;
  }
  return { graph, input, outputs };
}

/** A module's program on ONNX Runtime: one session per input shape, built on first use. */
export class OnnxProgram {
  private readonly sessions = new Map<string, Promise<{ session: Ort.InferenceSession; outputs: Record<string, string> }>>();

  constructor(
    private readonly ort: typeof Ort,
    private readonly forward: ForwardOver,
    private readonly params: Readonly<Record<string, HostTensor>>,
  ) {}

  /** Builds the graph for `shape` without a session: refuses what the engine cannot run, cheaply. */
  check(shape: readonly number[]): void {
    buildGraph(this.forward, this.params, shape);
  }

  private session(shape: readonly number[]) {
    const key = shape.join(",");
    let entry = this.sessions.get(key);
    if (entry === undefined) {
      const { graph, input, outputs } = buildGraph(this.forward, this.params, shape);
      const bytes = graph.serialize([input], Object.values(outputs), "runtime");
      entry = this.ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", executionProviders: ["cpu"] }).then((session) => ({
        session,
        outputs: keyedRecord(Object.entries(outputs).map(([k, v]) => [k, v.name] as const)),
      }));
      entry.catch(() => this.sessions.delete(key));
      this.sessions.set(key, entry);
    }
    return entry;
  }

  /**
   * Runs a batch. A batch smaller than one a session was already made for runs on that session,
   * padded with zero rows that are cut from the results (rows are independent in eval mode), so
   * that the last, short batch of a folder costs no second session and no second copy of the weights.
   */
  async run(x: HostArray): Promise<Record<string, HostArray>> {
    const [rows, ...item] = x.shape as [number, ...number[]];
    const larger = [...this.sessions.keys()].map((k) => k.split(",").map(Number)).find(([n, ...rest]) => n! > rows && rest.join() === item.join());
    const shape = larger ?? x.shape;
    const { session, outputs } = await this.session(shape);
    const data = larger === undefined ? x.data : padRows(x.data, (x.data.length / rows) * larger[0]!);
    const results = await session.run({ input: new this.ort.Tensor("float32", data, [...shape]) });
    return keyedRecord(
      Object.entries(outputs).map(([key, name]): readonly [string, HostArray] => {
        const t = results[name]!;
        const dims = t.dims.map(Number);
        if (larger === undefined) return [key, { data: t.data as Float32Array, shape: dims }];
        // Every output has the batch first.
        const perRow = (t.data as Float32Array).length / dims[0]!;
        return [key, { data: (t.data as Float32Array).slice(0, rows * perRow), shape: [rows, ...dims.slice(1)] }];
      }),
    );
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).session.release();
  }
}

function padRows(data: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(data);
  return out;
}

/** A tfjs tensor's data as a host array. */
export async function hostArray(t: Tensor): Promise<HostArray> {
  return { data: (await t.data()) as Float32Array, shape: [...t.shape] };
}
