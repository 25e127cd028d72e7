import { EngineError } from "../../engine.js";
import { attentionMask, windowLayout } from "../../ops/support/swin.js";
import { linear } from "./linear.js";
import * as o from "./onnx.js";
import { OnnxValue } from "./onnx.js";

/** runtime/ops/swin.ts over ONNX: torchvision's swin_transformer.py wrapped functions. */

function roll(x: OnnxValue, shift: number, axis: number): OnnxValue {
  const n = x.shape[axis]!;
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  const [head, tail] = o.split(x, [n - s, s], axis);
  return o.concat([tail!, head!], axis);
}

export function patchMergingPad(x: OnnxValue): OnnxValue {
  const lead = x.shape.slice(0, -3);
  const [h, w, c] = x.shape.slice(-3) as [number, number, number];
  const padded = h % 2 || w % 2 ? o.pad(x, [...lead.map(() => [0, 0] as const), [0, h % 2], [0, w % 2], [0, 0]]) : x;
  const [h2, w2] = [(h + (h % 2)) / 2, (w + (w % 2)) / 2];
  const rows = lead.reduce((a, b) => a * b, 1);
  const grouped = o.transpose(o.reshape(padded, [rows, h2, 2, w2, 2, c]), [0, 1, 3, 4, 2, 5]);
  return o.reshape(grouped, [...lead, h2, w2, 4 * c]);
}

export function relativePositionBias(table: OnnxValue, index: OnnxValue, attrs: { readonly size: number }): OnnxValue {
  const rows = o.gather(table, o.reshape(index, [-1]), 0);
  return o.reshape(o.transpose(o.reshape(rows, [attrs.size, attrs.size, -1]), [2, 0, 1]), [1, -1, attrs.size, attrs.size]);
}

const normalize = (x: OnnxValue): OnnxValue => o.div(x, o.maximum(o.sqrt(o.reduce("ReduceSum", o.mul(x, x), [-1], true)), 1e-12));

export function shiftedWindowAttention(
  x: OnnxValue,
  qkvWeight: OnnxValue,
  projWeight: OnnxValue,
  relativePositionBias: OnnxValue,
  qkvBias: OnnxValue | null,
  projBias: OnnxValue | null,
  logitScale: OnnxValue | null,
  attrs: { readonly windowSize: readonly number[]; readonly numHeads: number; readonly shiftSize: readonly number[]; readonly attentionDropout: number; readonly dropout: number },
): OnnxValue {
  if (attrs.attentionDropout > 0 || attrs.dropout > 0) throw new EngineError("onnxruntime", "has no dropout (torchvision applies this attention's dropout in eval mode too)", "use --engine tfjs");
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const [wh, ww] = attrs.windowSize as [number, number];
  const heads = attrs.numHeads;
  const { padB, padR, ph, pw, shift, shifted, nh, nw, n } = windowLayout(h, w, [wh, ww], attrs.shiftSize);
  let t = o.pad(x, [[0, 0], [0, padB], [0, padR], [0, 0]]);
  if (shifted) t = roll(roll(t, -shift[0], 1), -shift[1], 2);

  const windows = nh * nw;
  t = o.reshape(o.transpose(o.reshape(t, [b, nh, wh, nw, ww, c]), [0, 1, 3, 2, 4, 5]), [b * windows, n, c]);

  let bias = qkvBias;
  if (logitScale !== null && qkvBias !== null) {
    const [qb, , vb] = o.split(qkvBias, 3, 0);
    bias = o.concat([qb!, o.mul(qb!, 0), vb!], 0);
  }
  const qkv = o.transpose(o.reshape(linear(t, qkvWeight, bias), [b * windows, n, 3 * heads, c / heads]), [0, 2, 1, 3]);
  const [q, k, v] = o.split(qkv, 3, 1) as [OnnxValue, OnnxValue, OnnxValue];
  const keysT = (keys: OnnxValue): OnnxValue => o.transpose(keys, [0, 1, 3, 2]);
  let attn: OnnxValue;
  if (logitScale !== null) {
    attn = o.matmul(normalize(q), keysT(normalize(k)));
    attn = o.mul(attn, o.exp(o.minimum(logitScale, Math.log(100))));
  } else {
    attn = o.matmul(o.mul(q, (c / heads) ** -0.5), keysT(k));
  }
  attn = o.add(attn, relativePositionBias);
  if (shifted) {
    const mask = x.graph.constant({ dtype: "float", dims: [1, windows, 1, n, n], data: attentionMask(ph, pw, [wh, ww], shift) });
    attn = o.reshape(o.add(o.reshape(attn, [b, windows, heads, n, n]), mask), [b * windows, heads, n, n]);
  }
  attn = o.softmax(attn, -1);

  let out = o.reshape(o.transpose(o.matmul(attn, v), [0, 2, 1, 3]), [b * windows, n, c]);
  out = linear(out, projWeight, projBias);
  out = o.reshape(o.transpose(o.reshape(out, [b, nh, nw, wh, ww, c]), [0, 1, 3, 2, 4, 5]), [b, ph, pw, c]);
  if (shifted) out = roll(roll(out, shift[0], 1), shift[1], 2);
  return padB || padR ? o.slice(out, [0, 0, 0, 0], [b, h, w, c]) : out;
}
