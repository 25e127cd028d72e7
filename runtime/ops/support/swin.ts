/** Helpers that the Swin kernels of every engine share; outside the kernel barrel (runtime/ops/index.ts), so not kernels of the contract. */

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
