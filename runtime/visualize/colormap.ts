/**
 * Viridis, the perceptually uniform colormap of matplotlib (van der Walt, Smith and Firing; CC0), as
 * a degree-8 polynomial per channel fitted to its 256-entry table: within 2/255 of every entry.
 */
const COEFFS: readonly (readonly number[])[] = [
  [0.2627361675, 0.6895058483, -6.346675703, 13.80584874, 18.49009935, -164.4752078, 335.7658305, -285.0861959, 87.89644019],
  [0.002958102148, 1.58064897, -2.632161812, 12.65972091, -46.95217678, 99.08509804, -112.5832787, 64.07225642, -14.32733817],
  [0.3333531157, 1.156815782, 6.594889591, -81.72139944, 336.5070001, -727.3618191, 878.0451539, -563.3113509, 149.9045593],
];

/** 256 RGB entries, dark purple (0) to yellow (255). */
export const VIRIDIS: Uint8Array = (() => {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    COEFFS.forEach((c, ch) => {
      let v = 0;
      for (let k = c.length - 1; k >= 0; k--) v = v * t + c[k]!;
      table[i * 3 + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    });
  }
  return table;
})();

/** The colour of `t` in [0, 1] (clamped; NaN counts as 0). */
export function viridis(t: number): [number, number, number] {
  const i = Number.isNaN(t) ? 0 : Math.round(Math.min(1, Math.max(0, t)) * 255);
  return [VIRIDIS[i * 3]!, VIRIDIS[i * 3 + 1]!, VIRIDIS[i * 3 + 2]!];
}
