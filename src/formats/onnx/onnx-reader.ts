import { ShrinkrayError } from '../../errors.ts';
import { printable, quoted } from '../printable.ts';
import { externalTensorBytes } from './onnx-data-types.ts';

/**
 * A minimal ONNX reader: it walks the protobuf structure (never copying tensor data) to
 * check that a file is a complete model and to list what a session will need, so a
 * truncated or corrupt file gets an error that names it instead of an onnxruntime stack.
 * It also checks what the runtime would otherwise trust: each external initializer's
 * location is a plain file name beside the graph, and its offset and length are byte counts
 * that agree with the tensor's type and shape.
 * (Hand-written rather than a protobuf library: see protobuf-writer.ts for the figures.)
 */
export interface OnnxSummary {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: string[];
  outputs: string[];
  /** The graph's inputs and outputs with their element type and shape, in order. */
  inputInfo: OnnxValueInfo[];
  outputInfo: OnnxValueInfo[];
  initializers: number;
  /** External data files the initializers refer to, with the bytes each must hold at least. */
  externalFiles: Map<string, number>;
  /** Every externally stored initializer's byte range, by file. */
  externalRanges: Map<string, ExternalRange[]>;
}

/** A dimension: dim_value, or dim_param ('' when the file gives neither). */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  elemType: number; // TensorProto.DataType; 0 when not a tensor
  dims: OnnxDim[] | null; // null when the file gives no shape
}

export interface ExternalRange {
  tensor: string;
  offset: number;
  length: number;
}

export interface Field {
  field: number;
  wire: number;
  value: number; // varint value, or start offset for length-delimited fields
  end: number; // end offset for length-delimited fields
}

type Fail = (why: string) => never;

function readVarint(buf: Uint8Array, at: { pos: number }, end: number, fail: Fail): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at.pos >= end) fail(`a varint runs past the end of its message at byte ${at.pos}`);
    const b = buf[at.pos++]!;
    result += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) return result;
  }
  return fail(`a varint at byte ${at.pos} is longer than 10 bytes`);
}

export function fields(buf: Uint8Array, start: number, end: number, fail: Fail): Field[] {
  const out: Field[] = [];
  const at = { pos: start };
  const varint = () => readVarint(buf, at, end, fail);
  while (at.pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) fail(`field number 0 at byte ${at.pos}`);
    if (wire === 0) out.push({ field, wire, value: varint(), end: at.pos });
    else if (wire === 2) {
      const len = varint();
      if (at.pos + len > end) fail(`field ${field} at byte ${at.pos} needs ${len} bytes but only ${end - at.pos} remain (truncated?)`);
      out.push({ field, wire, value: at.pos, end: at.pos + len });
      at.pos += len;
    } else if (wire === 5 || wire === 1) {
      const size = wire === 5 ? 4 : 8;
      if (at.pos + size > end) fail(`a fixed-size field runs past the end at byte ${at.pos}`);
      out.push({ field, wire, value: at.pos, end: at.pos + size });
      at.pos += size;
    } else fail(`unsupported wire type ${wire} at byte ${at.pos}`);
  }
  return out;
}

/** A repeated integer field's values, packed (wire 2) or not (wire 0). */
function ints(buf: Uint8Array, fs: Field[], field: number, fail: Fail): number[] {
  const out: number[] = [];
  for (const f of fs) {
    if (f.field !== field) continue;
    if (f.wire === 0) out.push(f.value);
    else if (f.wire === 2) for (const at = { pos: f.value }; at.pos < f.end;) out.push(readVarint(buf, at, f.end, fail));
  }
  return out;
}

// A copy (slice), not a view: TextDecoder refuses views of shared memory, where the CPU engine reads graphs.
export const text = (buf: Uint8Array, f: Field) => new TextDecoder().decode(buf.slice(f.value, f.end));
const first = (fs: Field[], field: number, wire: number) => fs.find((g) => g.field === field && g.wire === wire);

/** Parses the structure of an ONNX model; `fileName` appears in every error. */
export function inspectOnnx(buf: Uint8Array, fileName: string): OnnxSummary {
  const fail: Fail = (why) => {
    throw new ShrinkrayError('bad_file', `${fileName} is not a valid ONNX model: ${why}`);
  };
  if (buf.byteLength === 0) fail('the file is empty');
  const top = fields(buf, 0, buf.byteLength, fail);
  const summary: OnnxSummary = {
    irVersion: 0,
    opsets: [],
    inputs: [],
    outputs: [],
    inputInfo: [],
    outputInfo: [],
    initializers: 0,
    externalFiles: new Map(),
    externalRanges: new Map(),
  };
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
  for (const f of fields(buf, graph.value, graph.end, fail)) {
    if (f.wire !== 2) continue;
    if (f.field === 11) summary.inputInfo.push(valueInfo(buf, f, fail));
    else if (f.field === 12) summary.outputInfo.push(valueInfo(buf, f, fail));
    else if (f.field === 5) {
      summary.initializers++;
      noteExternal(buf, f, summary, fail);
    }
  }
  summary.inputs = summary.inputInfo.map((v) => v.name);
  summary.outputs = summary.outputInfo.map((v) => v.name);
  if (summary.outputs.length === 0) fail('its graph has no outputs');
  return summary;
}

/** ValueInfoProto: name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1), shape (2) -> dim (1) -> dim_value (1) | dim_param (2). */
function valueInfo(buf: Uint8Array, f: Field, fail: Fail): OnnxValueInfo {
  const vf = fields(buf, f.value, f.end, fail);
  const name = first(vf, 1, 2);
  const info: OnnxValueInfo = { name: name ? text(buf, name) : '', elemType: 0, dims: null };
  const type = first(vf, 2, 2);
  const tensorType = type && first(fields(buf, type.value, type.end, fail), 1, 2);
  if (!tensorType) return info;
  const tf = fields(buf, tensorType.value, tensorType.end, fail);
  info.elemType = first(tf, 1, 0)?.value ?? 0;
  const shape = first(tf, 2, 2);
  if (!shape) return info;
  info.dims = fields(buf, shape.value, shape.end, fail)
    .filter((d) => d.field === 1 && d.wire === 2)
    .map((d) => {
      const df = fields(buf, d.value, d.end, fail);
      const value = first(df, 1, 0);
      const param = first(df, 2, 2);
      return value ? value.value : param ? text(buf, param) : '';
    });
  return info;
}

const BYTE_COUNT = /^\d{1,16}$/;
// A location names a file beside the graph: no folder, no '..', nothing hidden, nothing absolute.
const PLAIN_FILE_NAME = /^\w[\w.-]{0,254}$/;

/**
 * An externally stored initializer (TensorProto: dims 1, data_type 2, name 8,
 * external_data 13 as key/value pairs, data_location 14 = 1): checks its location, offset
 * and length, and records its range.
 */
function noteExternal(buf: Uint8Array, tensor: Field, summary: OnnxSummary, fail: Fail): void {
  const tf = fields(buf, tensor.value, tensor.end, fail);
  if (!tf.some((f) => f.field === 14 && f.wire === 0 && f.value === 1)) return;
  const nameField = first(tf, 8, 2);
  const name = nameField ? text(buf, nameField) : '';
  const bad = (why: string) => fail(`external initializer ${quoted(name, 80)} ${why}`);
  const entry: Record<string, string> = {};
  for (const e of tf.filter((f) => f.field === 13 && f.wire === 2)) {
    const kv = fields(buf, e.value, e.end, fail);
    const k = first(kv, 1, 2);
    const v = first(kv, 2, 2);
    if (k && v) entry[text(buf, k)] = text(buf, v);
  }
  const location = entry.location;
  if (location === undefined) return bad('has no location');
  if (!PLAIN_FILE_NAME.test(location)) bad(`has location ${quoted(location, 80)}; it must be a plain file name beside the graph`);
  for (const key of ['offset', 'length'] as const) {
    const v = entry[key];
    if (v !== undefined && !(BYTE_COUNT.test(v) && Number.isSafeInteger(Number(v)))) bad(`has ${key} ${quoted(v, 40)}, not a byte count`);
  }
  const dims = ints(buf, tf, 1, fail);
  if (dims.some((d) => !Number.isSafeInteger(d))) bad(`has a dimension that is negative or too large ([${dims.join(', ')}])`);
  const dataType = first(tf, 2, 0)?.value ?? 0;
  const expected = externalTensorBytes(dataType, dims);
  const offset = Number(entry.offset ?? 0);
  const length = entry.length !== undefined ? Number(entry.length) : expected;
  if (length === undefined) return bad(`has no length and a data type (${dataType}) whose size is not known`);
  if (expected !== undefined && length !== expected) {
    bad(`has length ${length}, but its type ${dataType} and shape [${dims.join(', ')}] take ${expected} bytes`);
  }
  if (!Number.isSafeInteger(offset + length)) bad(`ends past byte ${Number.MAX_SAFE_INTEGER}`);
  const ranges = summary.externalRanges.get(location) ?? [];
  ranges.push({ tensor: printable(name, 80), offset, length });
  summary.externalRanges.set(location, ranges);
  summary.externalFiles.set(location, Math.max(summary.externalFiles.get(location) ?? 0, offset + length));
}
