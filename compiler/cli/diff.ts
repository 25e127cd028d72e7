/**
 * A line-based unified diff (`diff -u`'s format), for `--check` to show what a compile would
 * change. Myers' O(ND) algorithm on the lines between the common prefix and suffix; past
 * MAX_EDITS differing lines it stops looking for the shortest script and reports the rest of the
 * middle as replaced (still a correct diff, only longer), so that a file rewritten whole costs no
 * more than printing it.
 */

export interface DiffOptions {
  /** Names of the two sides in the `---`/`+++` lines. */
  readonly oldLabel: string;
  readonly newLabel: string;
  /** Unchanged lines shown around each change (3, as diff -u). */
  readonly context?: number;
  /** At most this many lines of hunks are printed, then a line saying how many more there are. */
  readonly maxLines?: number;
}

/** Lines of hunks printed by default: enough for any spec change of a small extractor, bounded for a rewritten large one. */
export const DEFAULT_DIFF_LINES = 400;

const MAX_EDITS = 2000;

type Op = { readonly kind: " " | "-" | "+"; readonly text: string };

/** The unified diff from `before` to `after`, or "" when they are equal. */
export function unifiedDiff(before: string, after: string, options: DiffOptions): string {
  if (before === after) return "";
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const hunks = toHunks(ops, options.context ?? 3);
  const out = [`--- ${options.oldLabel}`, `+++ ${options.newLabel}`];
  const body = hunks.flat();
  const max = options.maxLines ?? DEFAULT_DIFF_LINES;
  out.push(...body.slice(0, max));
  if (body.length > max) out.push(`... ${body.length - max} more lines of diff`);
  return out.join("\n") + "\n";
}

/** Lines without their terminators; a missing final newline is marked as diff does. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  else lines[lines.length - 1] += "\n\\ No newline at end of file";
  return lines;
}

/** The edit script: every line of both sides in order, kept, removed or added. */
export function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const keep = (lines: readonly string[]): Op[] => lines.map((text) => ({ kind: " ", text }));
  return [...keep(a.slice(0, start)), ...myers(a.slice(start, endA), b.slice(start, endB)), ...keep(a.slice(endA))];
}

/** Myers' shortest edit script; past MAX_EDITS edits, everything is removed then added. */
function myers(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const replaced = (): Op[] => [...a.map((text) => ({ kind: "-" as const, text })), ...b.map((text) => ({ kind: "+" as const, text }))];
  if (n === 0 || m === 0) return replaced();
  const max = Math.min(n + m, MAX_EDITS);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  // v before each round d, to walk the path back.
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
      let x = down ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, offset, d);
    }
    v = next;
  }
  return replaced();
}

function backtrack(trace: readonly Int32Array[], a: readonly string[], b: readonly string[], offset: number, last: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = last; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    for (; x > prevX && y > prevY; x--, y--) ops.push({ kind: " ", text: a[x - 1]! });
    if (down) ops.push({ kind: "+", text: b[--y]! });
    else ops.push({ kind: "-", text: a[--x]! });
  }
  for (; x > 0 && y > 0; x--, y--) ops.push({ kind: " ", text: a[x - 1]! });
  return ops.reverse();
}

/** Groups the script into hunks with `context` lines around changes, each headed `@@ -l,s +l,s @@`. */
function toHunks(ops: readonly Op[], context: number): string[][] {
  const changed = ops.map((op, i) => (op.kind === " " ? -1 : i)).filter((i) => i >= 0);
  // The line numbers, on each side, of every op.
  const oldLines: number[] = [];
  const newLines: number[] = [];
  let oldLine = 1;
  let newLine = 1;
  for (const op of ops) {
    oldLines.push(oldLine);
    newLines.push(newLine);
    if (op.kind !== "+") oldLine++;
    if (op.kind !== "-") newLine++;
  }
  const hunks: string[][] = [];
  let i = 0;
  while (i < changed.length) {
    const from = Math.max(0, changed[i]! - context);
    let to = Math.min(ops.length, changed[i]! + context + 1);
    while (i + 1 < changed.length && changed[i + 1]! - context <= to) to = Math.min(ops.length, changed[++i]! + context + 1);
    i++;
    const slice = ops.slice(from, to);
    const oldCount = slice.filter((op) => op.kind !== "+").length;
    const newCount = slice.filter((op) => op.kind !== "-").length;
    // diff -u numbers an empty side by the line before it.
    const range = (line: number, count: number): string => `${count === 0 ? line - 1 : line},${count}`;
    hunks.push([`@@ -${range(oldLines[from]!, oldCount)} +${range(newLines[from]!, newCount)} @@`, ...slice.map((op) => op.kind + op.text)]);
  }
  return hunks;
}
