/**
 * The few protobuf messages of ONNX's `onnx.proto` that fxc writes (ModelProto and what it
 * holds), encoded by hand: field numbers and wire types as onnx.proto declares them. A
 * message is a list of byte chunks, so that a weight's bytes are copied once, into the model.
 */

/** A message's encoding as chunks, concatenated once at the end. */
export class Message {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  private varint(value: bigint | number): this {
    // Negative int64s are ten bytes of two's complement, as protobuf encodes them.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return this.push(Uint8Array.from(out));
  }

  private tag(field: number, wireType: 0 | 1 | 2 | 5): this {
    return this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }

  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.tag(field, 5).push(bytes);
  }

  bytes(field: number, value: Uint8Array): this {
    return this.tag(field, 2).varint(value.length).push(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Message): this {
    this.tag(field, 2).varint(value.length);
    for (const chunk of value.chunks) this.push(chunk);
    return this;
  }

  /** A packed repeated int64 field. */
  ints(field: number, values: readonly number[]): this {
    const packed = new Message();
    for (const v of values) packed.varint(v);
    return this.message(field, packed);
  }

  /** A packed repeated float field. */
  floats(field: number, values: readonly number[]): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  /** The whole message as one buffer. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/** TensorProto.DataType values fxc uses. */
export const DataType = { float: 1, int32: 6, int64: 7, bool: 9 } as const;
export type DataTypeName = keyof typeof DataType;

/** An attribute value: ONNX's AttributeProto holds one of these kinds. */
export type AttributeValue = number | string | readonly number[] | { readonly float: number } | { readonly floats: readonly number[] } | TensorData;

/** A constant tensor's values, in row-major order. */
export interface TensorData {
  readonly dtype: DataTypeName;
  readonly dims: readonly number[];
  readonly data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

const isTensorData = (v: AttributeValue): v is TensorData => typeof v === "object" && "dtype" in v;

/**
 * Where a tensor's bytes are kept outside the model (ONNX's external data): a file beside the
 * model, and their place in it.
 */
export interface ExternalData {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** A tensor's values as bytes (little-endian, as ONNX's raw_data), without copying them. */
export function tensorBytes(tensor: TensorData): Uint8Array {
  const { data } = tensor;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** TensorProto: its values inline (raw_data), or a reference to them in an external file (external_data, data_location EXTERNAL). */
export function tensorProto(name: string, tensor: TensorData, external?: ExternalData): Message {
  const m = new Message();
  for (const d of tensor.dims) m.int(1, d);
  m.int(2, DataType[tensor.dtype]);
  m.string(8, name);
  if (external === undefined) return m.bytes(9, tensorBytes(tensor));
  const entry = (key: string, value: string): Message => new Message().string(1, key).string(2, value);
  m.message(13, entry("location", external.location));
  m.message(13, entry("offset", String(external.offset)));
  m.message(13, entry("length", String(external.length)));
  return m.int(14, 1);
}

/** AttributeProto: integers are INT(S), `{float}` FLOAT(S), strings STRING, tensors TENSOR. */
export function attributeProto(name: string, value: AttributeValue): Message {
  const m = new Message().string(1, name);
  if (typeof value === "number") return m.int(3, value).int(20, 2);
  if (typeof value === "string") return m.string(4, value).int(20, 3);
  if (Array.isArray(value)) return m.ints(8, value as readonly number[]).int(20, 7);
  if (isTensorData(value)) return m.message(5, tensorProto("", value)).int(20, 4);
  if ("float" in value) return m.float(2, value.float).int(20, 1);
  return m.floats(7, (value as { readonly floats: readonly number[] }).floats).int(20, 6);
}

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

export function nodeProto(node: NodeSpec, name: string): Message {
  const m = new Message();
  for (const i of node.inputs) m.string(1, i);
  for (const o of node.outputs) m.string(2, o);
  m.string(3, name).string(4, node.op);
  for (const [key, value] of Object.entries(node.attributes ?? {})) m.message(5, attributeProto(key, value));
  return m;
}

/**
 * A dimension of a graph input or output: a size, a name shared by the dimensions that are equal
 * whatever their size (`dim_param`: the batch), or null for a size known only when run.
 */
export type Dimension = number | string | null;

/** ValueInfoProto of a tensor: TensorShapeProto.Dimension holds dim_value (1) or dim_param (2), or neither. */
export function valueInfoProto(name: string, dtype: DataTypeName, shape: readonly Dimension[]): Message {
  const dims = new Message();
  for (const d of shape) dims.message(1, typeof d === "number" ? new Message().int(1, d) : typeof d === "string" ? new Message().string(2, d) : new Message());
  const tensorType = new Message().int(1, DataType[dtype]).message(2, dims);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

export interface GraphSpec {
  readonly name: string;
  readonly nodes: readonly NodeSpec[];
  readonly initializers: ReadonlyMap<string, TensorData>;
  readonly inputs: readonly { readonly name: string; readonly shape: readonly Dimension[] }[];
  readonly outputs: readonly { readonly name: string; readonly dtype: DataTypeName; readonly shape: readonly Dimension[] }[];
}

/** ONNX IR version 8 (ONNX 1.10+), default-domain opset 17 (LayerNormalization, no Gelu). */
export const IR_VERSION = 8;
export const OPSET = 17;

/** A ModelProto's bytes, as `InferenceSession.create` takes them. */
export function modelProto(graph: GraphSpec, producerVersion: string): Uint8Array {
  return modelMessage(graph, producerVersion).toBytes();
}

/**
 * A ModelProto as chunks: the weights' chunks are views on the initializers' arrays, not copies.
 * `placed` says which initializers are kept in an external file instead, and where.
 */
export function modelMessage(graph: GraphSpec, producerVersion: string, placed?: ReadonlyMap<string, ExternalData>): Message {
  const g = new Message();
  graph.nodes.forEach((node, i) => g.message(1, nodeProto(node, `n${i}_${node.op}`)));
  g.string(2, graph.name);
  for (const [name, tensor] of graph.initializers) g.message(5, tensorProto(name, tensor, placed?.get(name)));
  for (const input of graph.inputs) g.message(11, valueInfoProto(input.name, "float", input.shape));
  for (const output of graph.outputs) g.message(12, valueInfoProto(output.name, output.dtype, output.shape));
  const model = new Message()
    .int(1, IR_VERSION)
    .string(2, "fxc")
    .string(3, producerVersion)
    .message(7, g)
    .message(8, new Message().string(1, "").int(2, OPSET));
  return model;
}
