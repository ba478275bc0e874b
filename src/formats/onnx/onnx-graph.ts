import { ShrinkrayError } from '../../errors.ts';
import { fields, text, type Field } from './onnx-reader.ts';

/**
 * The nodes and initializers of an ONNX graph, for an engine that runs the graph's weights
 * itself (src/engine/). Initializers are byte ranges into the buffer (or into an external
 * data file), never copies, so a caller that read the file into its own memory multiplies
 * the weights where they lie. Field numbers are those of onnx/onnx.proto.
 */
export interface OnnxGraphView {
  nodes: OnnxNodeView[];
  initializers: Map<string, OnnxTensorView>;
}

export interface OnnxNodeView {
  name: string;
  opType: string;
  domain: string; // '' for the default domain
  inputs: string[]; // '' marks an omitted optional input
  outputs: string[];
  attributes: Map<string, OnnxAttributeView>;
}

export type OnnxAttributeView =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'other' };

export interface OnnxTensorView {
  name: string;
  dataType: number; // TensorProto.DataType
  dims: number[];
  /** raw_data inside the buffer; null when the tensor is external or uses typed fields. */
  raw: { offset: number; length: number } | null;
  external: { location: string; offset: number; length: number } | null;
}

/** A varint as a signed 64-bit value (ONNX ints are int64; -1 arrives as ten bytes). */
function signedVarint(buf: Uint8Array, f: Field): number {
  // fields() keeps where a varint ends; its first byte follows the key's last byte (< 0x80).
  let start = f.end - 1;
  while (start > 0 && buf[start - 1]! >= 0x80) start--;
  let v = 0n;
  for (let i = f.end - 1; i >= start; i--) v = (v << 7n) | BigInt(buf[i]! & 0x7f);
  return Number(BigInt.asIntN(64, v));
}

function packedOrRepeated(buf: Uint8Array, fs: Field[], field: number): number[] {
  const out: number[] = [];
  for (const f of fs) {
    if (f.field !== field) continue;
    if (f.wire === 0) out.push(signedVarint(buf, f));
    else if (f.wire === 2) {
      // Packed: a run of varints; decode each by scanning to its last byte.
      let pos = f.value;
      while (pos < f.end) {
        let end = pos;
        while (end < f.end && buf[end]! >= 0x80) end++;
        out.push(signedVarint(buf, { field, wire: 0, value: 0, end: end + 1 }));
        pos = end + 1;
      }
    }
  }
  return out;
}

function attribute(buf: Uint8Array, f: Field, fail: (why: string) => never): [string, OnnxAttributeView] {
  const af = fields(buf, f.value, f.end, fail);
  const nameField = af.find((g) => g.field === 1 && g.wire === 2);
  const name = nameField ? text(buf, nameField) : '';
  const type = af.find((g) => g.field === 20 && g.wire === 0)?.value;
  const float = af.find((g) => g.field === 2 && g.wire === 5);
  const int = af.find((g) => g.field === 3 && g.wire === 0);
  const str = af.find((g) => g.field === 4 && g.wire === 2);
  if (type === 1 && float)
    return [name, { kind: 'float', value: new DataView(buf.buffer, buf.byteOffset + float.value, 4).getFloat32(0, true) }];
  if (type === 2 && int) return [name, { kind: 'int', value: signedVarint(buf, int) }];
  if (type === 3 && str) return [name, { kind: 'string', value: text(buf, str) }];
  if (type === 7) return [name, { kind: 'ints', value: packedOrRepeated(buf, af, 8) }];
  return [name, { kind: 'other' }];
}

function node(buf: Uint8Array, f: Field, fail: (why: string) => never): OnnxNodeView {
  const nf = fields(buf, f.value, f.end, fail);
  const strings = (field: number) => nf.filter((g) => g.field === field && g.wire === 2).map((g) => text(buf, g));
  return {
    inputs: strings(1),
    outputs: strings(2),
    name: strings(3)[0] ?? '',
    opType: strings(4)[0] ?? '',
    domain: strings(7)[0] ?? '',
    attributes: new Map(nf.filter((g) => g.field === 5 && g.wire === 2).map((g) => attribute(buf, g, fail))),
  };
}

function tensor(buf: Uint8Array, f: Field, fail: (why: string) => never): OnnxTensorView {
  const tf = fields(buf, f.value, f.end, fail);
  const nameField = tf.find((g) => g.field === 8 && g.wire === 2);
  const raw = tf.find((g) => g.field === 9 && g.wire === 2);
  const view: OnnxTensorView = {
    name: nameField ? text(buf, nameField) : '',
    dataType: tf.find((g) => g.field === 2 && g.wire === 0)?.value ?? 0,
    dims: packedOrRepeated(buf, tf, 1),
    raw: raw ? { offset: raw.value, length: raw.end - raw.value } : null,
    external: null,
  };
  if (tf.some((g) => g.field === 14 && g.wire === 0 && g.value === 1)) {
    const entry: Record<string, string> = {};
    for (const e of tf.filter((g) => g.field === 13 && g.wire === 2)) {
      const kv = fields(buf, e.value, e.end, fail);
      const k = kv.find((g) => g.field === 1 && g.wire === 2);
      const v = kv.find((g) => g.field === 2 && g.wire === 2);
      if (k && v) entry[text(buf, k)] = text(buf, v);
    }
    view.raw = null;
    view.external = { location: entry.location ?? '', offset: Number(entry.offset ?? 0), length: Number(entry.length ?? -1) };
  }
  return view;
}

/** Nodes and initializers of the model in `buf`; `fileName` names it in errors. */
export function readOnnxGraphView(buf: Uint8Array, fileName: string): OnnxGraphView {
  const fail = (why: string): never => {
    throw new ShrinkrayError('bad_file', `${fileName} is not a valid ONNX model: ${why}`);
  };
  const graph = fields(buf, 0, buf.byteLength, fail).find((f) => f.field === 7 && f.wire === 2);
  if (!graph) return fail('it has no graph');
  const view: OnnxGraphView = { nodes: [], initializers: new Map() };
  for (const f of fields(buf, graph.value, graph.end, fail)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) view.nodes.push(node(buf, f, fail));
    else if (f.field === 5) {
      const t = tensor(buf, f, fail);
      view.initializers.set(t.name, t);
    }
  }
  return view;
}
