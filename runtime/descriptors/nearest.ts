/** A ranked neighbour: the row in the index and its cosine similarity to the query. */
export interface Match {
  readonly row: number;
  readonly score: number;
}

/**
 * Rows to search by cosine similarity. Rows are normalized once here, so that each search is one
 * dot product per row; a zero row scores 0 against everything.
 */
export class CosineIndex {
  private readonly unit: Float32Array;

  constructor(
    data: Float32Array,
    readonly dim: number,
  ) {
    if (!(Number.isSafeInteger(dim) && dim > 0) || data.length % dim !== 0) {
      throw new RangeError(`index of ${data.length} values cannot hold rows of ${dim}`);
    }
    this.unit = new Float32Array(data.length);
    for (let r = 0; r < this.rows; r++) unitRow(data, r * dim, dim, this.unit, r * dim);
  }

  get rows(): number {
    return this.unit.length / this.dim;
  }

  /** The `top` rows most similar to `query`, best first; ties keep index order. */
  search(query: Float32Array, top: number): Match[] {
    if (query.length !== this.dim) throw new RangeError(`query has ${query.length} values, the index rows ${this.dim}`);
    const q = new Float32Array(this.dim);
    unitRow(query, 0, this.dim, q, 0);
    const scores: Match[] = [];
    for (let r = 0; r < this.rows; r++) {
      let dot = 0;
      const base = r * this.dim;
      for (let i = 0; i < this.dim; i++) dot += q[i]! * this.unit[base + i]!;
      scores.push({ row: r, score: dot });
    }
    return scores.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, Math.max(0, top));
  }
}

function unitRow(src: Float32Array, from: number, dim: number, out: Float32Array, to: number): void {
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += src[from + i]! ** 2;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dim; i++) out[to + i] = src[from + i]! * scale;
}
