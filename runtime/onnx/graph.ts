import { modelProto, type AttributeValue, type DataTypeName, type Dimension, type GraphSpec, type NodeSpec, type TensorData } from "./proto.js";

/**
 * An ONNX graph under construction. The ONNX kernels (runtime/onnx/ops) mirror the tfjs kernels
 * (runtime/ops) one for one: they take and return `OnnxValue`s where those take tensors, and add
 * nodes instead of computing. Values are stored exactly as the tfjs kernels store them
 * (image-like values channels-last), so that each ONNX kernel is the tfjs kernel transliterated;
 * ONNX Runtime's transpose optimizer removes the layout moves between neighbouring convolutions.
 * Shapes are concrete (the graph is built for one input shape), which lets kernels compute
 * sizes as the tfjs kernels do.
 */
export class OnnxGraph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers = new Map<string, TensorData>();
  private count = 0;

  fresh(prefix: string): string {
    return `${prefix}_${this.count++}`;
  }

  /** Adds a node with one output of the given shape. */
  node(op: string, inputs: readonly (OnnxValue | string)[], attributes: Readonly<Record<string, AttributeValue>>, shape: readonly number[], dtype: DataTypeName = "float"): OnnxValue {
    const out = new OnnxValue(this, this.fresh(op), shape, dtype);
    this.nodes.push({ op, inputs: inputs.map(nameOf), outputs: [out.name], attributes });
    return out;
  }

  /** Adds a node with several outputs. */
  nodeN(op: string, inputs: readonly (OnnxValue | string)[], attributes: Readonly<Record<string, AttributeValue>>, shapes: readonly (readonly number[])[]): OnnxValue[] {
    const outs = shapes.map((s) => new OnnxValue(this, this.fresh(op), s, "float"));
    this.nodes.push({ op, inputs: inputs.map(nameOf), outputs: outs.map((o) => o.name), attributes });
    return outs;
  }

  /** A constant tensor (an initializer). */
  constant(data: TensorData, prefix = "const"): OnnxValue {
    const name = this.fresh(prefix);
    this.initializers.set(name, data);
    return new OnnxValue(this, name, data.dims, data.dtype);
  }

  /** An int64 vector constant (shapes, axes, pads). */
  int64s(values: readonly number[]): OnnxValue {
    return this.constant({ dtype: "int64", dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) }, "ints");
  }

  /** A float scalar constant. */
  scalar(value: number): OnnxValue {
    return this.constant({ dtype: "float", dims: [], data: Float32Array.of(value) }, "scalar");
  }

  /** The model's bytes with these inputs and outputs. */
  serialize(inputs: readonly OnnxValue[], outputs: readonly OnnxValue[], producerVersion: string): Uint8Array {
    return modelProto(this.spec(inputs, outputs), producerVersion);
  }

  /**
   * The graph with these inputs and outputs, as the serializer takes it: at their shapes, or at
   * `shapes` where some dimensions are left free (the batch, a height and width) for every run.
   */
  spec(inputs: readonly OnnxValue[], outputs: readonly OnnxValue[], shapes?: { readonly inputs: readonly (readonly Dimension[])[]; readonly outputs: readonly (readonly Dimension[])[] }): GraphSpec {
    return {
      name: "fxc",
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: inputs.map((i, k) => ({ name: i.name, shape: shapes?.inputs[k] ?? i.shape })),
      outputs: outputs.map((o, k) => ({ name: o.name, dtype: o.dtype, shape: shapes?.outputs[k] ?? o.shape })),
    };
  }
}

const nameOf = (v: OnnxValue | string): string => (typeof v === "string" ? v : v.name);

/** A value of the graph: its name and its concrete shape, as the tfjs kernel would store it. */
export class OnnxValue {
  constructor(
    readonly graph: OnnxGraph,
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: DataTypeName = "float",
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}
