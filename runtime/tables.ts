/**
 * Constant tables that models compute at construction and register as buffers (Swin's
 * relative position index, Swin v2's log-spaced coordinates). A buffer names its table and
 * the table's arguments, so that compiled code recomputes the values when a checkpoint does
 * not carry them, and the model library and the runtime share one definition of each.
 */
export type TableRecipe = {
  /** A key of TABLES. */
  readonly table: string;
  readonly args: readonly number[];
};

/** The values of a table in row-major order, as float32 (integer tables are exact below 2^24). */
export function tableValues(recipe: TableRecipe): Float32Array {
  const make = TABLES[recipe.table];
  if (make === undefined) throw new Error(`internal: no constant table named '${recipe.table}'`);
  return make(recipe.args);
}

const TABLES: Readonly<Record<string, (args: readonly number[]) => Float32Array>> = {
  /**
   * For each pair (i, j) of positions in an h×w window, row-major, the row of the pair's
   * relative offset in a (2h-1)×(2w-1) bias table: torchvision's `relative_position_index`
   * (Swin's `define_relative_position_index`, MaxViT's `_get_relative_position_index`).
   */
  relativePositionIndex([h, w]) {
    const [rows, cols] = [h!, w!];
    const n = rows * cols;
    const out = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      const [ih, iw] = [Math.floor(i / cols), i % cols];
      for (let j = 0; j < n; j++) {
        const [jh, jw] = [Math.floor(j / cols), j % cols];
        out[i * n + j] = (ih - jh + rows - 1) * (2 * cols - 1) + (iw - jw + cols - 1);
      }
    }
    return out;
  },

  /**
   * Swin v2's `relative_coords_table` [1, 2h-1, 2w-1, 2]: each relative offset (dh, dw)
   * scaled to [-8, 8] by the window size, then sign(t) * log2(|t| + 1) / 3, in float32 steps
   * as torch computes it.
   */
  swinV2RelativeCoordsTable([h, w]) {
    const [rows, cols] = [h!, w!];
    const f = Math.fround;
    const logSpaced = (offset: number, size: number): number => {
      const t = f(f(offset / (size - 1)) * 8);
      return f(f(Math.sign(t) * f(Math.log2(f(Math.abs(t) + 1)))) / 3);
    };
    const out = new Float32Array((2 * rows - 1) * (2 * cols - 1) * 2);
    let k = 0;
    for (let a = 0; a < 2 * rows - 1; a++) {
      for (let b = 0; b < 2 * cols - 1; b++) {
        out[k++] = logSpaced(a - (rows - 1), rows);
        out[k++] = logSpaced(b - (cols - 1), cols);
      }
    }
    return out;
  },
};
