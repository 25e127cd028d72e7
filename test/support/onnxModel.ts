/**
 * Reading an ONNX model's nodes back, for tests and the bench: a minimal protobuf walk of
 * ModelProto.graph (field 7) -> GraphProto.node (1) -> NodeProto.op_type (4) and domain (7).
 */

interface Field {
  readonly field: number;
  readonly wire: number;
  /** For length-delimited fields, the payload's bounds. */
  readonly from: number;
  readonly to: number;
}

function* fields(buf: Uint8Array, start = 0, end = buf.length): Generator<Field> {
  let i = start;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  };
  while (i < end) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key & 7];
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const n = varint();
      i += n;
      yield { field, wire, from: i - n, to: i };
      continue;
    } else throw new Error(`protobuf wire type ${wire} at byte ${i}`);
    yield { field, wire, from: i, to: i };
  }
}

/** The model's node op types in order ("domain:Op" outside the default domain). */
export function opTypes(model: Uint8Array): string[] {
  const text = new TextDecoder();
  const ops: string[] = [];
  for (const g of fields(model)) {
    if (g.field !== 7 || g.wire !== 2) continue;
    for (const n of fields(model, g.from, g.to)) {
      if (n.field !== 1 || n.wire !== 2) continue;
      let op = "";
      let domain = "";
      for (const f of fields(model, n.from, n.to)) {
        if (f.field === 4 && f.wire === 2) op = text.decode(model.subarray(f.from, f.to));
        if (f.field === 7 && f.wire === 2) domain = text.decode(model.subarray(f.from, f.to));
      }
      ops.push(domain && domain !== "ai.onnx" ? `${domain}:${op}` : op);
    }
  }
  return ops;
}

/** Node counts by op type. */
export function opCounts(model: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const op of opTypes(model)) counts.set(op, (counts.get(op) ?? 0) + 1);
  return counts;
}
