/**
 * Joins byte parts into one ArrayBuffer-backed array: how the tests turn what the writers
 * return in parts (writeSafetensors' header and tensors, protobuf fields) into one file.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
