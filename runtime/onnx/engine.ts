import type * as Ort from "onnxruntime-node";
import { EngineError } from "../engine.js";
import type { TfjsKernels } from "../kernels.js";
import type { HostTensor, Params, PermutationSource } from "../params.js";
import type { Tensor, Tensor4D } from "../ops/tf.js";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { OnnxGraph, OnnxValue } from "./graph.js";
import { transpose } from "./ops/onnx.js";
import { permute } from "../params.js";
import { modelMessage, tensorBytes, type Dimension, type ExternalData, type GraphSpec, type NodeSpec, type TensorData } from "./proto.js";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnxKernels } from "./ops/index.js";
import { keyedRecord } from "../features.js";
import { InternalError } from "../errors.js";

/** What the ONNX engine needs of a compiled module: its forward, which it runs over graph values. */
export type ForwardOver = (input: Tensor4D, params: Params, kernels: TfjsKernels) => unknown;

/** A tensor as plain data: what goes into and comes out of ONNX Runtime. */
export interface HostArray {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** The program's input shapes: one shape, or one per input when forward takes several (an array of tensors). */
export type InputShapes = readonly number[] | readonly (readonly number[])[];

/** Whether shapes are one per input of a program taking several (a rank-0 single input is `[]`). */
const isSeveral = <D>(shapes: readonly D[] | readonly (readonly D[])[]): shapes is readonly (readonly D[])[] => shapes.length > 0 && Array.isArray(shapes[0]);

/** Each input's shape. */
const shapeList = (shapes: InputShapes): readonly (readonly number[])[] => (isSeveral(shapes) ? shapes : [shapes as readonly number[]]);

/** The graph input's name: `input` for a program of one input, `input0`, `input1`... for several. */
const inputName = (several: boolean, i: number): string => (several ? `input${i}` : "input");

/** The shapes with a batch put first in each. */
const withBatch = (items: InputShapes, batch: number): InputShapes => (isSeveral(items) ? items.map((s) => [batch, ...s]) : [batch, ...(items as readonly number[])]);

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
 * A parameter as the graph builder needs it: its shape always, its values until ONNX Runtime holds
 * them. Where they are another array's permuted (HostTensor.permutationOf), the graph takes that
 * array: reading `values` would make the permuted copy.
 */
type GraphParam = { readonly shape: readonly number[]; readonly values?: Float32Array; readonly permutationOf?: PermutationSource };
type GraphParams = Readonly<Record<string, GraphParam>>;

/** Whether a parameter still has its values (not only its shape), without making a permuted copy of them. */
const holdsValues = (p: GraphParam): boolean => p.permutationOf !== undefined || p.values !== undefined;

/**
 * A returned value as the engine holds it: tensors are graph outputs (by name), and the plain
 * values torchvision also returns (ints, shapes, bools, None, tuples of them) are computed
 * outside the graph while it is built, since every shape is static within one graph.
 */
export type OutputTemplate = { readonly output: string } | number | boolean | null | readonly OutputTemplate[];

/** A returned value after a run: tensors as host arrays, plain values as they are. */
export type HostValue = HostArray | number | boolean | null | readonly HostValue[];

interface BuiltGraph {
  readonly graph: OnnxGraph;
  /** The first input (the only one of most programs). */
  readonly input: OnnxValue;
  /** Every input, in forward's order. */
  readonly inputs: readonly OnnxValue[];
  /** The graph's outputs, in order: every tensor the result holds. */
  readonly tensors: readonly OnnxValue[];
  /** Each key's value, with tensors standing for graph outputs. */
  readonly templates: Record<string, OutputTemplate>;
}

/**
 * The module's forward run over ONNX graph values: the same kernel calls that run on tfjs,
 * each adding its nodes. Returns the graph, its tensor outputs in order, and each key's value
 * with tensors standing for those outputs. Kernels that ONNX cannot run faithfully (train mode)
 * throw an EngineError here. Parameters without values (a check) give a graph without
 * initializer data, never serialized.
 */
export function buildGraph(forward: ForwardOver, params: GraphParams, inputShape: InputShapes): BuiltGraph {
  const graph = new OnnxGraph();
  const several = isSeveral(inputShape);
  const inputs = shapeList(inputShape).map((shape, i) => new OnnxValue(graph, inputName(several, i), shape));
  const values: Record<string, OnnxValue> = {};
  for (const [id, p] of Object.entries(params)) {
    const source = p.permutationOf;
    if (source === undefined) {
      graph.initializers.set(`param.${id}`, { dtype: "float", dims: p.shape, data: p.values ?? EMPTY });
      values[id] = new OnnxValue(graph, `param.${id}`, p.shape);
    } else {
      // The array as read (a filter in torch's OIHW), moved to the kernels' layout by a Transpose that foldWeightTransposes composes with the kernel's own (back to OIHW: no copy at all).
      graph.initializers.set(`param.${id}`, { dtype: "float", dims: source.shape, data: source.values });
      values[id] = transpose(new OnnxValue(graph, `param.${id}`, source.shape), source.perm);
    }
  }
  // The module's forward is typed over tfjs tensors; the ONNX kernels take the same calls over
  // graph values (their table satisfies KernelTable<OnnxValue>), so this is the one place they meet.
  const result = forward((several ? inputs : inputs[0]) as unknown as Tensor4D, values as unknown as Params, onnxKernels as unknown as TfjsKernels) as Record<string, unknown>;
  const named = new Set<string>([...inputs.map((input) => input.name), ...graph.initializers.keys()]);
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
    throw new InternalError(`output '${key}' holds a ${typeof v} on the onnxruntime engine`);
  };
  const templates = keyedRecord<OutputTemplate>(Object.entries(result).map(([key, v]) => [key, template(key, v)] as const)); // keyed by the user's keys
  return { graph, input: inputs[0]!, inputs, tensors, templates };
}

function isOutputRef(t: OutputTemplate): t is { readonly output: string } {
  return t !== null && typeof t === "object" && !Array.isArray(t);
}

/** Whether a template holds a plain value (a shape, an int from one: it may depend on the batch size). */
function holdsPlainValues(t: OutputTemplate): boolean {
  if (Array.isArray(t)) return t.some(holdsPlainValues);
  return !isOutputRef(t);
}

const EMPTY = new Float32Array(0);

/** The name of the batch dimension in a graph that runs every batch size. */
const BATCH = "batch";

/**
 * Batch sizes the program is built at to find what depends on the batch. Not 1: a kernel may
 * skip a reshape that changes nothing at 1, and the graphs would differ for no reason. Three
 * sizes, so that a value linear in the batch (k * batch + c) is told from one that is not.
 */
const PROBE_BATCHES = [2, 3, 5] as const;

/** A graph that runs every batch size, with the batch a named dimension of its inputs and outputs. */
interface BatchFreeGraph extends BuiltGraph {
  /** Each tensor output's shape, in the order of `tensors`. */
  readonly outputShapes: readonly (readonly Dimension[])[];
}

/**
 * The program for inputs [batch, ...item] whatever the batch, as one graph: built at a few batch
 * sizes, the graphs must be the same but for int64 constants (shapes) linear in the batch. A
 * reshape's target with one such entry gets -1 there (ONNX infers it); any other such constant is
 * computed from the input's batch (Shape, Mul, Add), which constant folding cannot remove but
 * which costs nothing beside the model. Undefined when the graphs differ otherwise (a float
 * constant or an attribute that depends on the batch), or when a plain value is returned (a shape
 * holds the batch): then the program runs one session per shape.
 */
export function batchFreeGraph(forward: ForwardOver, params: GraphParams, item: InputShapes): BatchFreeGraph | undefined {
  // Several inputs are probed at one batch size together: their batch is one (torch's stack of samples).
  const builds = PROBE_BATCHES.map((b) => buildGraph(forward, params, withBatch(item, b)));
  const [base, ...others] = builds as [BuiltGraph, ...BuiltGraph[]];
  if (Object.values(base.templates).some(holdsPlainValues)) return undefined;
  const { graph } = base;
  if (!others.every((o) => sameNodes(graph.nodes, o.graph.nodes))) return undefined;
  const varying = new Map<string, { readonly slope: BigInt64Array; readonly offset: BigInt64Array }>();
  for (const [name, t] of graph.initializers) {
    const alike = others.map((o) => o.graph.initializers.get(name));
    if (alike.some((a) => a === undefined || a.dtype !== t.dtype || a.dims.join() !== t.dims.join())) return undefined;
    if (alike.every((a) => a!.data === t.data || sameValues(a!.data, t.data))) continue;
    if (t.dtype !== "int64") return undefined;
    const linear = linearInBatch(builds.map((b) => b.graph.initializers.get(name)!.data as BigInt64Array));
    if (linear === undefined) return undefined;
    varying.set(name, linear);
  }
  const outputShapes = base.tensors.map((out, k) => {
    const shapes = builds.map((b) => b.tensors[k]!.shape);
    return out.shape.map((d, i): Dimension => {
      if (shapes.every((s) => s[i] === d)) return d;
      return shapes.every((s, j) => s[i] === PROBE_BATCHES[j]) ? BATCH : null;
    });
  });
  let batchSize: string | undefined;
  const computed: NodeSpec[] = [];
  for (const [name, { slope, offset }] of varying) {
    const users = graph.nodes.flatMap((n) => n.inputs.map((input, i) => ({ op: n.op, i, input }))).filter((u) => u.input === name);
    const at = [...slope.keys()].filter((i) => slope[i] !== 0n);
    const data = graph.initializers.get(name)!.data as BigInt64Array;
    // Reshape reads -1 as "what is left"; 0 would mean "as the input" there, so a target holding either is computed instead.
    if (users.every((u) => u.op === "Reshape" && u.i === 1) && at.length === 1 && !data.some((v) => v === -1n || v === 0n)) {
      const target = data.slice();
      target[at[0]!] = -1n;
      graph.initializers.set(name, { dtype: "int64", dims: [target.length], data: target });
      continue;
    }
    graph.initializers.delete(name);
    if (batchSize === undefined) {
      batchSize = graph.fresh("batch");
      computed.push({ op: "Shape", inputs: [base.input.name], outputs: [batchSize], attributes: { start: 0, end: 1 } });
    }
    const slopeName = graph.constant({ dtype: "int64", dims: [slope.length], data: slope }, "slope").name;
    const offsetName = graph.constant({ dtype: "int64", dims: [offset.length], data: offset }, "offset").name;
    const scaled = graph.fresh("scaled");
    computed.push({ op: "Mul", inputs: [batchSize, slopeName], outputs: [scaled] }, { op: "Add", inputs: [scaled, offsetName], outputs: [name] });
  }
  // Before every node, as they read only the input and constants.
  graph.nodes.unshift(...computed);
  return { ...base, outputShapes };
}

/** The names of a free height and width in a graph that runs every input size. */
const SPATIAL = ["height", "width"] as const;

/**
 * Height and width offsets from the compiled size of the other sizes a free-size program is built
 * at: odd and coprime, so that a constant depending on the size's parity or remainder varies too.
 */
const PROBE_SPATIAL_OFFSETS = [
  [37, 19],
  [67, 101],
] as const;

/**
 * The program for inputs [batch, ...item] with a free batch and, where `item` holds nulls (a free
 * height and width, built at `compiled` and at two other sizes), free sizes too: one graph when the
 * batch-free graphs at those sizes are the same (no constant depends on the size: every kernel
 * reads its sizes from its input), with the free dims named. Where they differ (a kernel's
 * constants follow the size: adaptive pooling windows, Swin's masks), the batch-free graph at the
 * compiled size, for inputs of that size (`item` says which it serves); undefined without one.
 */
export function sizeFreeGraph(
  forward: ForwardOver,
  params: GraphParams,
  item: readonly (number | null)[],
  compiled?: readonly number[],
): (BatchFreeGraph & { readonly item: readonly (number | null)[] }) | undefined {
  const at = (offsets: readonly number[]): number[] => {
    let k = 0;
    return item.map((d) => (d !== null ? d : compiled![k]! + offsets[k++]!));
  };
  const free = item.some((d) => d === null);
  if (free && compiled?.length !== item.filter((d) => d === null).length) return undefined;
  const atCompiled = at([0, 0]);
  const base = batchFreeGraph(forward, params, atCompiled);
  if (base === undefined) return undefined;
  if (!free) return { ...base, item };
  const others = PROBE_SPATIAL_OFFSETS.map((offsets) => batchFreeGraph(forward, params, at(offsets)));
  const same = (o: BatchFreeGraph | undefined): boolean =>
    o !== undefined && sameNodes(o.graph.nodes, base.graph.nodes) && o.graph.initializers.size === base.graph.initializers.size && [...base.graph.initializers].every(([name, t]) => sameTensor(o.graph.initializers.get(name), t));
  if (!others.every(same)) return { ...base, item: atCompiled };
  const outputShapes = base.outputShapes.map((shape, k) => shape.map((d, i): Dimension => (others.every((o) => o!.outputShapes[k]![i] === d) ? d : null)));
  return { ...base, outputShapes, item };
}

function sameTensor(a: TensorData | undefined, b: TensorData): boolean {
  return a !== undefined && a.dtype === b.dtype && a.dims.join() === b.dims.join() && (a.data === b.data || sameValues(a.data, b.data));
}

/** A model as ONNX Runtime will read it: its graph (whose initializers are the host weights), and each key's value. */
interface PendingModel {
  /** Dropped once ONNX Runtime has the model, so that the host weights it holds can go. */
  spec: GraphSpec | undefined;
  readonly templates: Record<string, OutputTemplate>;
}

/**
 * The size-free graph as a model, and its output names by key; nothing else of the graph (which
 * references the host weights) outlives the call. Undefined when there is no such graph.
 */
function sizeFreeModel(
  forward: ForwardOver,
  params: GraphParams,
  item: readonly (number | null)[],
  compiled?: readonly number[],
): (PendingModel & { readonly item: readonly (number | null)[] }) | undefined {
  const built = sizeFreeGraph(forward, params, item, compiled);
  // Nothing for ONNX Runtime to run (only plain values returned, which it refuses as a graph without outputs).
  if (built === undefined || built.tensors.length === 0) return undefined;
  let k = 0;
  foldWeightTransposes(built.graph, built.tensors);
  const spec = built.graph.spec([built.input], built.tensors, { inputs: [[BATCH, ...built.item.map((d): Dimension => d ?? SPATIAL[k++]!)]], outputs: built.outputShapes });
  return { spec, templates: built.templates, item: built.item };
}

/** The batch-free graph of a program taking several inputs, serialized like sizeFreeModel's (their sizes stay fixed). */
function severalInputsModel(forward: ForwardOver, params: GraphParams, item: readonly (readonly number[])[]): PendingModel | undefined {
  const built = batchFreeGraph(forward, params, item);
  if (built === undefined || built.tensors.length === 0) return undefined;
  foldWeightTransposes(built.graph, built.tensors);
  const spec = built.graph.spec(built.inputs, built.tensors, { inputs: item.map((shape) => [BATCH, ...shape]), outputs: built.outputShapes });
  return { spec, templates: built.templates };
}

/**
 * Transposes of weights done here, once, instead of by ONNX Runtime's constant folding: the kernels
 * take filters in tfjs's layout (HWIO) and transpose them to ONNX's, and ONNX Runtime folding each
 * one allocates the transposed copy and frees the original while it builds the session, holes in
 * its heap that outlive the session's creation (resnet50: ~50 MB less peak RSS folded here). A
 * chain of transposes is one permutation of the weight: a filter given in torch's OIHW
 * (HostTensor.permutationOf), taken in HWIO by the kernel and moved back to OIHW for ONNX's Conv is
 * the host's array itself, not copied at all. The weight's arrays are the host's until the model
 * is written; a weight read by other nodes too is kept, and a transpose the program returns stays
 * a node (its output is not made an initializer).
 */
export function foldWeightTransposes(graph: OnnxGraph, outputs: readonly OnnxValue[]): void {
  const returned = new Set(outputs.map((o) => o.name));
  // Each folded transpose's result: the weight its chain starts from, and the chain's permutation of it.
  const folded = new Map<string, { readonly weight: string; readonly perm: readonly number[] }>();
  const kept = graph.nodes.filter((node) => {
    if (node.op !== "Transpose" || returned.has(node.outputs[0]!)) return true;
    const input = node.inputs[0]!;
    const weight = graph.initializers.get(input);
    // Weights without values (a graph built to check shapes) stay as they are.
    const from = folded.get(input) ?? (weight !== undefined && weight.dtype === "float" && weight.data.length > 0 ? { weight: input, perm: weight.dims.map((_, i) => i) } : undefined);
    if (from === undefined) return true;
    const perm = node.attributes!["perm"] as readonly number[];
    folded.set(node.outputs[0]!, { weight: from.weight, perm: perm.map((p) => from.perm[p]!) });
    return false;
  });
  const read = new Set(kept.flatMap((node) => node.inputs));
  // Only the results other nodes read are made (a result read only by the next transpose of its chain is not).
  for (const [name, { weight, perm }] of folded) {
    if (!read.has(name)) continue;
    const source = graph.initializers.get(weight)!;
    const unmoved = perm.every((p, i) => p === i);
    graph.initializers.set(name, { dtype: "float", dims: perm.map((p) => source.dims[p]!), data: unmoved ? source.data : permute(source.data as Float32Array, source.dims, perm) });
  }
  for (const { weight } of folded.values()) if (!read.has(weight)) graph.initializers.delete(weight);
  graph.nodes.splice(0, graph.nodes.length, ...kept);
}

function sameNodes(a: readonly NodeSpec[], b: readonly NodeSpec[]): boolean {
  // Attributes may hold int64 tensors: BigInts as text.
  const text = (n: NodeSpec): string => JSON.stringify(n, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));
  return a.length === b.length && a.every((n, i) => text(n) === text(b[i]!));
}

function sameValues(a: ArrayLike<unknown>, b: ArrayLike<unknown>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Each entry as slope * batch + offset over the probe batches, or undefined when one is not linear. */
function linearInBatch(values: readonly BigInt64Array[]): { slope: BigInt64Array; offset: BigInt64Array } | undefined {
  const [b0, b1] = PROBE_BATCHES.map(BigInt) as [bigint, bigint];
  const first = values[0]!;
  const slope = new BigInt64Array(first.length);
  const offset = new BigInt64Array(first.length);
  for (let i = 0; i < first.length; i++) {
    const rise = values[1]![i]! - first[i]!;
    if (rise % (b1 - b0) !== 0n) return undefined;
    slope[i] = rise / (b1 - b0);
    offset[i] = first[i]! - slope[i]! * b0;
    if (!values.every((v, j) => v[i] === slope[i]! * BigInt(PROBE_BATCHES[j]!) + offset[i]!)) return undefined;
  }
  return { slope, offset };
}

interface Session {
  /** Undefined when only plain values are returned: nothing for ONNX Runtime to run. */
  readonly session: Ort.InferenceSession | undefined;
  /** Each key's value, with tensors standing for the session's outputs. */
  readonly templates: Record<string, OutputTemplate>;
}

/**
 * A module's program on ONNX Runtime. `prepare` makes one session for every batch size (and every
 * height and width where the module's are free and the graph does not follow them) and hands it
 * the weights: the host copy is dropped (ONNX Runtime holds the only one). A free-size program
 * whose graph follows the size gets one session per height and width, each for every batch. A program whose
 * graph depends on the batch beyond its shapes, or an input of another height or width (a module
 * without a compiled input shape), gets a session per input shape, built on first use while the
 * host weights are kept.
 */
export class OnnxProgram {
  private params: GraphParams;
  /** The session for every batch, and which inputs (shapes without their batch) it serves. */
  private shared: { readonly serves: (item: InputShapes) => boolean; readonly session: Session } | undefined;
  private readonly sessions = new Map<string, Promise<Session>>();
  /** Shapes checked already (the graph built, the kernels' refusals passed). */
  private readonly checked = new Set<string>();
  /**
   * A program that takes any size whose ONNX graph follows the size (adaptive pooling windows,
   * Swin's masks as constants): one session per height and width, each for every batch, the host
   * weights kept to build them.
   */
  private sessionPerSize = false;

  constructor(
    private readonly ort: typeof Ort,
    private readonly forward: ForwardOver,
    params: Readonly<Record<string, HostTensor>>,
    private readonly options: OnnxSessionOptions = {},
  ) {
    this.params = params;
  }

  /** Builds the graph for `shape` without a session: refuses what the engine cannot run (InputShapeError, EngineError), cheaply. */
  check(shape: InputShapes): void {
    const key = JSON.stringify(shape);
    if (this.checked.has(key)) return;
    buildGraph(this.forward, shapesOnly(this.params), shape);
    this.checked.add(key);
  }

  /**
   * Makes the session that runs inputs [any batch, ...item] and gives it the weights; false when the
   * program cannot run every batch (and every size, where item's height and width are null and
   * `size` says at what the program was compiled) on one graph: sessions per shape then, on first use.
   * Throws what ONNX Runtime says when it cannot make the session: the host weights are gone then, read them again.
   */
  async prepare(item: readonly (number | null)[] | readonly (readonly number[])[], size?: { readonly compiled: readonly number[] }): Promise<boolean> {
    if (isSeveral(item)) {
      // Several inputs: one graph for every batch, their other sizes fixed.
      this.check(withBatch(item, PROBE_BATCHES[0]));
      const model = severalInputsModel(this.forward, this.params, item);
      if (model === undefined) return false;
      const key = JSON.stringify(item);
      await this.share(model, (shapes) => JSON.stringify(shapes) === key);
      return true;
    }
    const single = item as readonly (number | null)[];
    let k = 0;
    this.check([PROBE_BATCHES[0], ...single.map((d) => d ?? size?.compiled[k++] ?? 1)]);
    const model = sizeFreeModel(this.forward, this.params, single, size?.compiled);
    if (model === undefined) return false;
    if (model.item.some((d, i) => d !== single[i])) {
      this.sessionPerSize = true;
      return false;
    }
    const served = model.item;
    await this.share(model, (shapes) => !isSeveral(shapes) && served.length === shapes.length && served.every((d, i) => d === null || d === shapes[i]));
    return true;
  }

  /** Makes the session for every batch from the model and hands it the weights: the host copy is gone before ONNX Runtime reads them. */
  private async share(model: PendingModel, serves: (item: InputShapes) => boolean): Promise<void> {
    this.params = shapesOnly(this.params);
    const session = await createSession(this.ort, model, this.options);
    this.shared = { serves, session: { session, templates: model.templates } };
  }

  /** The host weights, while the program holds them (before `prepare` hands them to ONNX Runtime). */
  heldParams(): Record<string, HostTensor> | undefined {
    const held: Record<string, HostTensor> = {};
    for (const [id, p] of Object.entries(this.params)) {
      if (!holdsValues(p)) return undefined;
      held[id] = { shape: p.shape, values: p.values! };
    }
    return held;
  }

  private session(shape: InputShapes): Promise<Session> {
    const single = isSeveral(shape) ? undefined : (shape as readonly number[]);
    const perSize = this.sessionPerSize && single !== undefined ? `size:${single.slice(1).join(",")}` : undefined;
    const made = (perSize === undefined ? undefined : this.sessions.get(perSize)) ?? this.sessions.get(JSON.stringify(shape));
    if (made !== undefined) return made;
    // One session for every batch of this height and width where the graph allows it.
    const model = perSize === undefined ? undefined : sizeFreeModel(this.forward, this.params, single!.slice(1));
    const key = model === undefined ? JSON.stringify(shape) : perSize!;
    let entry: Promise<Session>;
    if (model !== undefined) {
      entry = createSession(this.ort, model, this.options).then((session) => ({ session, templates: model.templates }));
    } else {
      const { graph, inputs, tensors, templates } = buildGraph(this.forward, this.params, shape);
      if (tensors.length === 0) {
        entry = Promise.resolve({ session: undefined, templates });
      } else {
        if (!Object.values(this.params).every(holdsValues)) {
          throw new InternalError("a session for another input shape after the weights were handed to ONNX Runtime");
        }
        foldWeightTransposes(graph, tensors);
        const pending = { spec: graph.spec([...inputs], [...tensors]), templates };
        entry = createSession(this.ort, pending, this.options).then((session) => ({ session, templates }));
      }
    }
    entry.catch(() => this.sessions.delete(key));
    this.sessions.set(key, entry);
    return entry;
  }

  /**
   * Runs a batch (one array per input when the program takes several): on the shared session when
   * the shapes but the batch are the prepared ones (or free there).
   */
  async run(x: HostArray | readonly HostArray[]): Promise<Record<string, HostValue>> {
    const several = Array.isArray(x);
    const arrays: readonly HostArray[] = several ? x : [x as HostArray];
    const shape: InputShapes = several ? arrays.map((a) => a.shape) : arrays[0]!.shape;
    this.check(shape);
    const item: InputShapes = several ? arrays.map((a) => a.shape.slice(1)) : arrays[0]!.shape.slice(1);
    const { session, templates } = this.shared?.serves(item) === true ? this.shared.session : await this.session(shape);
    const feeds = Object.fromEntries(arrays.map((a, i) => [inputName(several, i), new this.ort.Tensor("float32", a.data, [...a.shape])]));
    const results: Record<string, Ort.Tensor> = session === undefined ? {} : await session.run(feeds);
    const fill = (t: OutputTemplate): HostValue => {
      if (Array.isArray(t)) return t.map(fill);
      if (!isOutputRef(t)) return t as number | boolean | null;
      const r = results[t.output]!;
      return { data: r.data as Float32Array, shape: r.dims.map(Number) };
    };
    return keyedRecord(Object.entries(templates).map(([key, t]) => [key, fill(t)] as const));
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    const shared = this.shared;
    this.shared = undefined;
    if (shared !== undefined) await shared.session.session?.release();
    for (const s of all) await (await s).session?.release();
  }
}

/** How ONNX Runtime runs: threads for one operator (intra-op); ONNX Runtime's default is one per core. */
export interface OnnxSessionOptions {
  readonly intraOpThreads?: number;
}

function sessionOptions(options: OnnxSessionOptions): Ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
    // A memory pattern allocates one block per input shape for every activation of a run, beside
    // the arena's own chunks from the first run: resnet50 layer1..4 at batch 8 peaked ~100 MB
    // higher with it, at the same speed (test/bench/rssTimeline.ts measures it).
    enableMemPattern: false,
    ...(options.intraOpThreads === undefined ? {} : { intraOpNumThreads: options.intraOpThreads }),
  };
}

/**
 * An ONNX Runtime session for `model`. The model goes through a private temporary folder: the
 * graph in model.onnx, the weights in weights.bin beside it (ONNX's external data), written chunk by
 * chunk from the host weights, so that no serialized copy of them lives in JavaScript. ONNX Runtime
 * maps an external tensor whose offset is page-aligned instead of reading it into its heap, and
 * drops the mapping once a kernel has packed the weight its own way: the weights are not parsed out
 * of a protobuf into the heap and then copied again, whose freed blocks glibc kept (resnet50 layer1..4:
 * ~100 MB less glibc heap after loading). The host weights, once the model lets go of them (the
 * caller's copy dropped too), are freed before ONNX Runtime reads them. Where no temporary file can
 * be written, the model's bytes (weights inline) are handed over in memory instead.
 */
async function createSession(ort: typeof Ort, model: PendingModel, options: OnnxSessionOptions): Promise<Ort.InferenceSession> {
  let spec: GraphSpec | undefined = model.spec!;
  model.spec = undefined;
  const files = await writeModelFiles(spec).catch(() => undefined);
  if (files === undefined) return ort.InferenceSession.create(modelMessage(spec, "runtime").toBytes(), sessionOptions(options));
  spec = undefined;
  try {
    await releaseHostMemory();
    return await ort.InferenceSession.create(files.model, sessionOptions(options));
  } finally {
    await files.remove();
  }
}

/** The external weights file's name, beside the model. */
const WEIGHTS_FILE = "weights.bin";
/** Where external tensors start: ONNX Runtime maps a tensor into memory only at an offset aligned to the page size (4 kB on Linux). */
const EXTERNAL_ALIGNMENT = 4096;
/** Tensors of at least this many bytes go to the weights file (smaller ones stay inline: their padding would outweigh them). */
const EXTERNAL_LEAST_BYTES = 4096;

/**
 * The model written to a new private folder under the system's temporary folder: model.onnx, and
 * its large tensors in weights.bin, each at an aligned offset; `remove` deletes the folder.
 */
async function writeModelFiles(spec: GraphSpec): Promise<{ readonly model: string; remove(): Promise<void> }> {
  const folder = await mkdtemp(join(tmpdir(), "fxc-onnx-"));
  const remove = (): Promise<void> => rm(folder, { recursive: true, force: true });
  const placed = new Map<string, ExternalData>();
  const weights: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of spec.initializers) {
    const bytes = tensorBytes(tensor);
    if (bytes.byteLength < EXTERNAL_LEAST_BYTES) continue;
    const padding = (EXTERNAL_ALIGNMENT - (offset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
    if (padding > 0) weights.push(ZEROS.subarray(0, padding));
    offset += padding;
    weights.push(bytes);
    placed.set(name, { location: WEIGHTS_FILE, offset, length: bytes.byteLength });
    offset += bytes.byteLength;
  }
  try {
    await writeChunks(join(folder, WEIGHTS_FILE), weights);
    const model = join(folder, "model.onnx");
    await writeChunks(model, modelMessage(spec, "runtime", placed).chunks);
    return { model, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

const ZEROS = new Uint8Array(EXTERNAL_ALIGNMENT);

/** A new file (private to this user) holding `chunks` one after another. */
async function writeChunks(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  try {
    // writev takes at most IOV_MAX (1024 on Linux) buffers per call.
    for (let i = 0; i < chunks.length; i += 1024) await handle.writev(chunks.slice(i, i + 1024));
  } finally {
    await handle.close();
  }
}

function shapesOnly(params: GraphParams): GraphParams {
  return Object.fromEntries(Object.entries(params).map(([id, p]) => [id, { shape: p.shape }]));
}

/**
 * Frees what JavaScript dropped (weights: hundreds of MB in array buffers), which it otherwise does
 * only when it next allocates enough, which it does not while ONNX Runtime builds a session. One
 * full collection does not free the array buffers it finds dead: measured on resnet50, they were
 * freed only after a second one, a task later (V8 releases their memory between tasks). Freed
 * before ONNX Runtime allocates its copies, their memory is reused for those instead of adding to it.
 */
async function releaseHostMemory(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** A full garbage collection, where V8 allows one: `--expose-gc` set at run time, as Node's v8 module permits. */
function collectGarbage(): void {
  collector ??= exposeCollector();
  collector?.();
}

let collector: (() => void) | null | undefined;

function exposeCollector(): (() => void) | null {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/** A tfjs tensor's data as a host array. */
export async function hostArray(t: Tensor): Promise<HostArray> {
  return { data: (await t.data()) as Float32Array, shape: [...t.shape] };
}

