/**
 * Characters that must not reach a terminal as they are: C0 and C1 controls (ESC starts ANSI
 * sequences that move the cursor, retitle the window or hide text; U+009B is a one-character CSI),
 * DEL, line and paragraph separators, and the bidirectional overrides and isolates that reorder
 * what is shown ("Trojan Source").
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a file or a folder listing (a path, a name from an index's metadata), made safe to
 * print: each character above becomes `\xNN` or `\uNNNN`, so that a crafted name shows as what it
 * is instead of acting on the terminal. Everything else is left as it is.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/**
 * `JSON.stringify(value, null, 2)` safe to print: JSON already escapes C0 controls; the other
 * characters `printable` escapes become `\uNNNN` escapes too, which parse back to the same strings.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNPRINTABLE_AFTER_JSON, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);
}

/** `UNPRINTABLE` less the C0 controls, which JSON escapes itself (and the layout's own newlines). */
const UNPRINTABLE_AFTER_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, "0");
}
