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
 * A returned value as the engine holds it: tensors are graph outputs (by name), and the plain
 * values torchvision also returns (ints, shapes, bools, None, tuples of them) are computed
 * outside the graph while it is built, since every shape is static within one session.
 */
export type OutputTemplate = { readonly output: string } | number | boolean | null | readonly OutputTemplate[];

/** A returned value after a run: tensors as host arrays, plain values as they are. */
export type HostValue = HostArray | number | boolean | null | readonly HostValue[];

/**
 * The module's forward run over ONNX graph values: the same kernel calls that run on tfjs,
 * each adding its nodes. Returns the graph, its tensor outputs in order, and each key's
 * value with tensors standing for those outputs. Kernels that ONNX cannot run faithfully
 * (train mode) throw an EngineError here.
 */
export function buildGraph(forward: ForwardOver, params: Readonly<Record<string, HostTensor>>, inputShape: readonly number[]): { graph: OnnxGraph; input: OnnxValue; tensors: OnnxValue[]; templates: Record<string, OutputTemplate> } {
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
  const named = new Set<string>([input.name, ...graph.initializers.keys()]);
  const tensors: OnnxValue[] = [];
  const template = (key: string, v: unknown): OutputTemplate => {
    if (v instanceof OnnxValue) {
      // Every output its own node's result: ONNX names outputs, and one value may be returned twice.
      const out = named.has(v.name) ? graph.node("Identity", [v], {}, v.shape, v.dtype) : v;
      named.add(out.name);
      tensors.push(out);
      return { output: out.name };
    }
    if (Array.isArray(v)) return v.map((item) => template(key, item));
    if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
    throw new Error(`internal: output '${key}' holds a ${typeof v} on the onnxruntime engine`);
  };
  const templates = keyedRecord<OutputTemplate>(Object.entries(result).map(([key, v]) => [key, template(key, v)] as const)); // keyed by the user's keys
  return { graph, input, tensors, templates };
}

function isOutputRef(t: OutputTemplate): t is { readonly output: string } {
  return t !== null && typeof t === "object" && !Array.isArray(t);
}

/** Whether a template holds a plain value that depends on the batch size (a shape, an int from one). */
function holdsPlainValues(t: OutputTemplate): boolean {
  if (Array.isArray(t)) return t.some(holdsPlainValues);
  return !isOutputRef(t);
}

/** A module's program on ONNX Runtime: one session per input shape, built on first use. */
export class OnnxProgram {
  private readonly sessions = new Map<string, Promise<{ session: Ort.InferenceSession | undefined; templates: Record<string, OutputTemplate> }>>();

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
      const { graph, input, tensors, templates } = buildGraph(this.forward, this.params, shape);
      const bytes = graph.serialize([input], tensors, "runtime");
      // Only plain values returned (a shape, an int): nothing for ONNX Runtime to run, which refuses a graph without outputs.
      const session = tensors.length === 0 ? Promise.resolve(undefined) : this.ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", executionProviders: ["cpu"] });
      entry = session.then((created) => ({ session: created, templates }));
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
  async run(x: HostArray): Promise<Record<string, HostValue>> {
    const [rows, ...item] = x.shape as [number, ...number[]];
    const larger = [...this.sessions.entries()]
      .map(([k, entry]) => ({ shape: k.split(",").map(Number), entry }))
      .find(({ shape: [n, ...rest] }) => n! > rows && rest.join() === item.join());
    // Plain values (a shape, its batch size) were computed for the session's batch: a padded run would report the padding.
    const padded = larger !== undefined && !Object.values((await larger.entry).templates).some(holdsPlainValues) ? larger.shape : undefined;
    const shape = padded ?? x.shape;
    const { session, templates } = await this.session(shape);
    const data = padded === undefined ? x.data : padRows(x.data, (x.data.length / rows) * padded[0]!);
    const results = session === undefined ? {} : await session.run({ input: new this.ort.Tensor("float32", data, [...shape]) });
    const fill = (t: OutputTemplate): HostValue => {
      if (Array.isArray(t)) return t.map(fill);
      if (!isOutputRef(t)) return t as number | boolean | null;
      const r = (results as Record<string, Ort.Tensor>)[t.output]!;
      const dims = r.dims.map(Number);
      if (padded === undefined) return { data: r.data as Float32Array, shape: dims };
      // Every tensor output has the batch first.
      const perRow = (r.data as Float32Array).length / dims[0]!;
      return { data: (r.data as Float32Array).slice(0, rows * perRow), shape: [rows, ...dims.slice(1)] };
    };
    return keyedRecord(Object.entries(templates).map(([key, t]) => [key, fill(t)] as const));
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).session?.release();
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
