/** "Did you mean" suggestions for unknown model and node names. */

/** Names nearest to `query` by edit distance, best first; prefix matches count as close. */
function closestNames(query: string, names: readonly string[], limit = 5): string[] {
  const scored = names.map((n) => ({ n, d: n.startsWith(query) || query.startsWith(n) ? Math.abs(n.length - query.length) / 4 : editDistance(query, n) }));
  const cutoff = Math.max(2, Math.floor(query.length / 3));
  return scored
    .filter((s) => s.d <= cutoff)
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, limit)
    .map((s) => s.n);
}

/** `; did you mean 'a', 'b'?` for the names nearest to `query`, or "" when none is near. */
export function didYouMean(query: string, names: readonly string[]): string {
  const close = closestNames(query, names);
  return close.length ? `; did you mean ${close.map((c) => `'${c}'`).join(", ")}?` : "";
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}
