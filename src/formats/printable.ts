/**
 * Text from a file (a tensor name, a JSON parser's excerpt of a header, a recipe someone
 * pasted) made safe to put in an error message that may reach a terminal or a page: control
 * characters (C0, DEL, C1, which a terminal would obey), bidirectional overrides (which
 * reorder what a reader sees) and lone surrogates are written as escapes, and anything
 * longer than `maxChars` is cut with a note of how much was left out.
 */
// C0 and C1 controls, DEL, the bidi embeddings/overrides/isolates, line and paragraph separators, lone surrogates.
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escapes what a terminal would act on and cuts `text` to at most `maxChars` characters (default 200). */
export function printable(text: string, maxChars = 200): string {
  const cut = text.length > maxChars;
  // Cut first, so a huge text costs no more than its prefix; never split a surrogate pair.
  let head = cut ? text.slice(0, maxChars) : text;
  if (cut && /[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  const safe = head.replace(UNSAFE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut ? `${safe}… (${text.length - head.length} more characters)` : safe;
}

/** `printable` in single quotes, for names inside a sentence. */
export function quoted(text: string, maxChars = 200): string {
  return `'${printable(text, maxChars)}'`;
}
