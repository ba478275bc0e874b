/**
 * JSON.parse keeps the last of two equal keys without a word, so a safetensors header (or a
 * shard index) naming one tensor twice would silently mean the second entry. This finds the
 * first key repeated within one object of a text that JSON.parse has already accepted.
 * Hand-written rather than a JSON AST library: one pass with no tree, for headers up to the
 * format's 100 MB, and only the keys of the open objects are kept.
 */
export function firstDuplicateKey(json: string): string | undefined {
  const open: (Set<string> | null)[] = []; // per open container: its keys so far, null for an array
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // A string: find its end (escapes skip a character), then, when it is a key, record it.
      const start = i;
      let escaped = false;
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const raw = json.slice(start, i + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
    } else if (c === 0x7b) {
      open.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      open.push(null);
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = open[open.length - 1] !== null && open.length > 0;
    }
  }
  return undefined;
}
