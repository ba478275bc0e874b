import { ShrinkrayError } from '../../errors.ts';

/**
 * A minimal ONNX reader: it walks the protobuf structure (never copying tensor data) to
 * check that a file is a complete model and to list what a session will need, so a
 * truncated or corrupt file gets an error that names it instead of an onnxruntime stack.
 * (Hand-written rather than a protobuf library: see protobuf-writer.ts for the figures.)
 */
export interface OnnxSummary {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: string[];
  outputs: string[];
  initializers: number;
  /** External data files the initializers refer to, with the bytes each must hold at least. */
  externalFiles: Map<string, number>;
}

export interface Field {
  field: number;
  wire: number;
  value: number; // varint value, or start offset for length-delimited fields
  end: number; // end offset for length-delimited fields
}

export function fields(buf: Uint8Array, start: number, end: number, fail: (why: string) => never): Field[] {
  const out: Field[] = [];
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) fail(`a varint runs past the end of its message at byte ${pos}`);
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return result;
    }
    return fail(`a varint at byte ${pos} is longer than 10 bytes`);
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) fail(`field number 0 at byte ${pos}`);
    if (wire === 0) out.push({ field, wire, value: varint(), end: pos });
    else if (wire === 2) {
      const len = varint();
      if (pos + len > end) fail(`field ${field} at byte ${pos} needs ${len} bytes but only ${end - pos} remain (truncated?)`);
      out.push({ field, wire, value: pos, end: pos + len });
      pos += len;
    } else if (wire === 5 || wire === 1) {
      const size = wire === 5 ? 4 : 8;
      if (pos + size > end) fail(`a fixed-size field runs past the end at byte ${pos}`);
      out.push({ field, wire, value: pos, end: pos + size });
      pos += size;
    } else fail(`unsupported wire type ${wire} at byte ${pos}`);
  }
  return out;
}

// A copy (slice), not a view: TextDecoder refuses views of shared memory, where the CPU engine reads graphs.
export const text = (buf: Uint8Array, f: Field) => new TextDecoder().decode(buf.slice(f.value, f.end));

/** Parses the structure of an ONNX model; `fileName` appears in every error. */
export function inspectOnnx(buf: Uint8Array, fileName: string): OnnxSummary {
  const fail = (why: string): never => {
    throw new ShrinkrayError('bad_file', `${fileName} is not a valid ONNX model: ${why}`);
  };
  if (buf.byteLength === 0) fail('the file is empty');
  const top = fields(buf, 0, buf.byteLength, fail);
  const summary: OnnxSummary = { irVersion: 0, opsets: [], inputs: [], outputs: [], initializers: 0, externalFiles: new Map() };
  let graph: Field | undefined;
  for (const f of top) {
    if (f.field === 1 && f.wire === 0) summary.irVersion = f.value;
    else if (f.field === 7 && f.wire === 2) graph = f;
    else if (f.field === 8 && f.wire === 2) {
      const op = { domain: '', version: 0 };
      for (const g of fields(buf, f.value, f.end, fail)) {
        if (g.field === 1 && g.wire === 2) op.domain = text(buf, g);
        else if (g.field === 2 && g.wire === 0) op.version = g.value;
      }
      summary.opsets.push(op);
    }
  }
  if (summary.irVersion < 3 || summary.irVersion > 20) fail(`ir_version ${summary.irVersion} is outside [3, 20]`);
  if (!graph) return fail('it has no graph');
  const valueName = (f: Field) => {
    const name = fields(buf, f.value, f.end, fail).find((g) => g.field === 1 && g.wire === 2);
    return name ? text(buf, name) : '';
  };
  for (const f of fields(buf, graph.value, graph.end, fail)) {
    if (f.wire !== 2) continue;
    if (f.field === 11) summary.inputs.push(valueName(f));
    else if (f.field === 12) summary.outputs.push(valueName(f));
    else if (f.field === 5) {
      summary.initializers++;
      noteExternal(buf, f, summary.externalFiles, fail);
    }
  }
  if (summary.outputs.length === 0) fail('its graph has no outputs');
  return summary;
}

/** Records where an externally stored initializer's bytes end. */
function noteExternal(buf: Uint8Array, tensor: Field, files: Map<string, number>, fail: (why: string) => never): void {
  const tf = fields(buf, tensor.value, tensor.end, fail);
  if (!tf.some((f) => f.field === 14 && f.wire === 0 && f.value === 1)) return;
  const entry: Record<string, string> = {};
  for (const e of tf.filter((f) => f.field === 13 && f.wire === 2)) {
    const kv = fields(buf, e.value, e.end, fail);
    const k = kv.find((f) => f.field === 1 && f.wire === 2);
    const v = kv.find((f) => f.field === 2 && f.wire === 2);
    if (k && v) entry[text(buf, k)] = text(buf, v);
  }
  if (!entry.location) fail('an external initializer has no location');
  const end = Number(entry.offset ?? 0) + Number(entry.length ?? 0);
  files.set(entry.location!, Math.max(files.get(entry.location!) ?? 0, end));
}
