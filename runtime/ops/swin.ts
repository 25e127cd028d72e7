import { linear, matmul } from "./linear.js";
import { attentionMask, windowLayout } from "./support/swin.js";
import { tf, type Tensor } from "./tf.js";

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
