import { tf, type Tensor } from "./tf.js";
import { linear } from "./linear.js";
import { matmul } from "./shape.js";

/**
 * Kernels for the functions torchvision's swin_transformer.py wraps with torch.fx.wrap, with
 * their torch semantics. Tensors are torch-ordered: [B, H, W, C].
 */

/** torch.roll along one axis: `out[i] = x[(i - shift) mod n]`. */
function roll(x: Tensor, shift: number, axis: number): Tensor {
  const n = x.shape[axis]!;
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  const [head, tail] = tf.split(x, [n - s, s], axis);
  return tf.concat([tail!, head!], axis);
}

/**
 * `_patch_merging_pad`: [..., H, W, C] padded with zeros to even H and W, then each 2×2
 * neighbourhood's four vectors concatenated in torchvision's order (x[0::2, 0::2],
 * x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]): [..., H/2, W/2, 4C].
 */
export function patchMergingPad(x: Tensor): Tensor {
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -3);
    const [h, w, c] = x.shape.slice(-3) as [number, number, number];
    const padded = h % 2 || w % 2 ? tf.pad(x, [...lead.map(() => [0, 0] as [number, number]), [0, h % 2], [0, w % 2], [0, 0]]) : x;
    const [h2, w2] = [(h + (h % 2)) / 2, (w + (w % 2)) / 2];
    const rows = lead.reduce((a, b) => a * b, 1);
    // [rows, H/2, dh, W/2, dw, C] to [rows, H/2, W/2, dw, dh, C]: the four come dw-major.
    const grouped = tf.transpose(tf.reshape(padded, [rows, h2, 2, w2, 2, c]), [0, 1, 3, 4, 2, 5]);
    return tf.reshape(grouped, [...lead, h2, w2, 4 * c]);
  });
}

/**
 * `_get_relative_position_bias`: the table's rows picked by the index table (read as float32
 * and cast back to ints), as [1, heads, N, N] for N = window positions.
 */
export function relativePositionBias(table: Tensor, index: Tensor, attrs: { readonly size: number }): Tensor {
  return tf.tidy(() => {
    const rows = tf.gather(table, tf.cast(tf.reshape(index, [-1]), "int32"));
    return tf.expandDims(tf.transpose(tf.reshape(rows, [attrs.size, attrs.size, -1]), [2, 0, 1]), 0);
  });
}

/** Python's `a[start:stop]` bounds over n items. */
export function sliceBounds(start: number, stop: number | null, n: number): [number, number] {
  const resolve = (i: number): number => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  return [resolve(start), stop === null ? n : resolve(stop)];
}

/**
 * Where shifted windows fall on an [B, H, W, C] map, as both engines lay them out: the padding
 * to whole windows (bottom, right), the padded size, the shift (none along a dim one window
 * covers), and the windows' grid and size.
 */
export function windowLayout(height: number, width: number, window: readonly [number, number], shiftSize: readonly number[]) {
  const [wh, ww] = window;
  const [padB, padR] = [(wh - (height % wh)) % wh, (ww - (width % ww)) % ww];
  const [ph, pw] = [height + padB, width + padR];
  // A window that covers the whole dim needs no shift along it.
  const shift: [number, number] = [wh >= ph ? 0 : shiftSize[0]!, ww >= pw ? 0 : shiftSize[1]!];
  return { padB, padR, ph, pw, shift, shifted: shift[0] + shift[1] > 0, nh: ph / wh, nw: pw / ww, n: wh * ww };
}

const masks = new Map<string, Float32Array>();

/**
 * The shifted windows' attention mask, [windows, N, N]: -100 between positions that came
 * from different regions of the rolled map, 0 within one, as torchvision builds it.
 */
export function attentionMask(height: number, width: number, window: readonly [number, number], shift: readonly [number, number]): Float32Array {
  const key = [height, width, ...window, ...shift].join(",");
  const cached = masks.get(key);
  if (cached !== undefined) return cached;
  const [wh, ww] = window;
  const [sh, sw] = shift;
  const region = new Int32Array(height * width);
  const hSlices: [number, number | null][] = [
    [0, -wh],
    [-wh, -sh],
    [-sh, null],
  ];
  const wSlices: [number, number | null][] = [
    [0, -ww],
    [-ww, -sw],
    [-sw, null],
  ];
  let count = 0;
  for (const [h0, h1] of hSlices) {
    for (const [w0, w1] of wSlices) {
      const [r0, r1] = sliceBounds(h0, h1, height);
      const [c0, c1] = sliceBounds(w0, w1, width);
      for (let r = r0; r < r1; r++) region.fill(count, r * width + c0, r * width + Math.max(c0, c1));
      count++;
    }
  }
  const [nh, nw, n] = [height / wh, width / ww, wh * ww];
  const out = new Float32Array(nh * nw * n * n);
  for (let wr = 0; wr < nh; wr++) {
    for (let wc = 0; wc < nw; wc++) {
      const base = (wr * nw + wc) * n * n;
      const at = (i: number): number => region[(wr * wh + Math.floor(i / ww)) * width + wc * ww + (i % ww)]!;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[base + i * n + j] = at(i) === at(j) ? 0 : -100;
    }
  }
  masks.set(key, out);
  return out;
}

/** `F.normalize(x, dim=-1)`: x / max(‖x‖₂, 1e-12). */
function normalize(x: Tensor): Tensor {
  return tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), 1e-12));
}

/**
 * torchvision's `shifted_window_attention` on [B, H, W, C]: pad to whole windows, roll by
 * -shift, attend within each window (scaled dot product, or v2's cosine attention with a
 * clamped, exponentiated logit scale) with the relative position bias and the shifted
 * windows' mask, project, then undo the windows, the roll and the padding. Weights arrive
 * as [in, out]. As in torchvision, dropout applies whenever its p > 0, in eval mode too.
 */
export function shiftedWindowAttention(
  x: Tensor,
  qkvWeight: Tensor,
  projWeight: Tensor,
  relativePositionBias: Tensor,
  qkvBias: Tensor | null,
  projBias: Tensor | null,
  logitScale: Tensor | null,
  attrs: { readonly windowSize: readonly number[]; readonly numHeads: number; readonly shiftSize: readonly number[]; readonly attentionDropout: number; readonly dropout: number },
): Tensor {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const [wh, ww] = attrs.windowSize as [number, number];
    const heads = attrs.numHeads;
    const { padB, padR, ph, pw, shift, shifted, nh, nw, n } = windowLayout(h, w, [wh, ww], attrs.shiftSize);
    let t = padB || padR ? tf.pad(x, [[0, 0], [0, padB], [0, padR], [0, 0]]) : x;
    if (shifted) t = roll(roll(t, -shift[0], 1), -shift[1], 2);

    // Partition into windows: [B * windows, N, C].
    const windows = nh * nw;
    t = tf.reshape(tf.transpose(tf.reshape(t, [b, nh, wh, nw, ww, c]), [0, 1, 3, 2, 4, 5]), [b * windows, n, c]);

    // v2 leaves the keys unbiased.
    let bias = qkvBias;
    if (logitScale !== null && qkvBias !== null) {
      const [qb, , vb] = tf.split(qkvBias, 3);
      bias = tf.concat([qb!, tf.zerosLike(qb!), vb!]);
    }
    // q, k and v as [B·windows, heads, N, head_dim], moved in 4-D (tfjs-wasm's 5-D transpose is slow).
    const qkv = tf.transpose(tf.reshape(linear(t, qkvWeight, bias), [b * windows, n, 3 * heads, c / heads]), [0, 2, 1, 3]);
    const [q, k, v] = tf.split(qkv, 3, 1) as [Tensor, Tensor, Tensor];
    const keysT = (keys: Tensor): Tensor => tf.transpose(keys, [0, 1, 3, 2]);
    let attn: Tensor;
    if (logitScale !== null) {
      attn = matmul(normalize(q), keysT(normalize(k)));
      attn = tf.mul(attn, tf.exp(tf.minimum(logitScale, Math.log(100))));
    } else {
      attn = matmul(tf.mul(q, (c / heads) ** -0.5), keysT(k));
    }
    attn = tf.add(attn, relativePositionBias);
    if (shifted) {
      const mask = tf.tensor(attentionMask(ph, pw, [wh, ww], shift), [1, windows, 1, n, n]);
      attn = tf.reshape(tf.add(tf.reshape(attn, [b, windows, heads, n, n]), mask), [b * windows, heads, n, n]);
    }
    attn = tf.softmax(attn);
    if (attrs.attentionDropout > 0) attn = tf.dropout(attn, attrs.attentionDropout);

    let out = tf.reshape(tf.transpose(matmul(attn, v), [0, 2, 1, 3]), [b * windows, n, c]);
    out = linear(out, projWeight, projBias);
    if (attrs.dropout > 0) out = tf.dropout(out, attrs.dropout);

    // Windows back to the map, the roll undone, the padding cut.
    out = tf.reshape(tf.transpose(tf.reshape(out, [b, nh, nw, wh, ww, c]), [0, 1, 3, 2, 4, 5]), [b, ph, pw, c]);
    if (shifted) out = roll(roll(out, shift[0], 1), shift[1], 2);
    return padB || padR ? tf.slice(out, [0, 0, 0, 0], [b, h, w, c]) : out;
  });
}
