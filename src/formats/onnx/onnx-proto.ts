import { ProtoWriter } from './protobuf-writer.ts';

/**
 * Encoders for the ONNX messages a decoder graph needs. Field numbers are those of
 * onnx/onnx.proto (IR version 8); only the fields we write are listed.
 */

/** TensorProto.DataType values. */
export const OnnxDataType = Object.freeze({
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const);
export type OnnxDataType = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** Bytes per element of each data type we write. */
export const bytesPerElement: Readonly<Record<OnnxDataType, number>> = Object.freeze({
  1: 4,
  2: 1,
  3: 1,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
});

/** A tensor whose bytes are either inline (`raw_data`) or in the external data file. */
export interface TensorSpec {
  name: string;
  dataType: OnnxDataType;
  dims: readonly number[];
  raw: Uint8Array; // little-endian element bytes, row-major
}

export interface ExternalRef {
  location: string; // file name relative to the .onnx file
  offset: number;
  length: number;
}

export function encodeTensor(t: TensorSpec, external?: ExternalRef): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d); // dims: unpacked is accepted everywhere; packed too, but keep it simple
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (external) {
    w.message(13, entry('location', external.location));
    w.message(13, entry('offset', String(external.offset)));
    w.message(13, entry('length', String(external.length)));
    w.int(14, 1); // data_location = EXTERNAL
  } else {
    w.bytes(9, t.raw);
  }
  return w;
}

function entry(key: string, value: string): ProtoWriter {
  return new ProtoWriter().string(1, key).string(2, value);
}

/** A tensor type with concrete (number) or symbolic (string) dimensions. */
export interface ValueInfoSpec {
  name: string;
  dataType: OnnxDataType;
  dims: readonly (number | string)[];
}

export function encodeValueInfo(v: ValueInfoSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) {
    const dim = new ProtoWriter();
    if (typeof d === 'number')
      dim.int(1, d); // dim_value
    else dim.string(2, d); // dim_param
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, v.dataType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Node attributes, tagged so that ints and floats cannot be confused. */
export type AttributeValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'tensor'; value: TensorSpec };

/** Shorthands: `attr.int(1)`, `attr.ints([0, 2, 1, 3])`, ... */
export const attr = Object.freeze({
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  float: (value: number): AttributeValue => ({ type: 'float', value }),
  string: (value: string): AttributeValue => ({ type: 'string', value }),
  ints: (value: readonly number[]): AttributeValue => ({ type: 'ints', value }),
  floats: (value: readonly number[]): AttributeValue => ({ type: 'floats', value }),
  tensor: (value: TensorSpec): AttributeValue => ({ type: 'tensor', value }),
});

// AttributeProto.AttributeType values.
const attributeTypeCode = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

export function encodeAttribute(name: string, a: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name).int(20, attributeTypeCode[a.type]);
  switch (a.type) {
    case 'float':
      return w.float(2, a.value);
    case 'int':
      return w.int(3, a.value);
    case 'string':
      return w.string(4, a.value);
    case 'tensor':
      return w.message(5, encodeTensor(a.value));
    case 'floats':
      return w.packedFloats(7, a.value);
    case 'ints':
      return w.packedInts(8, a.value);
  }
}

export interface NodeSpec {
  opType: string;
  domain: string; // '' for the default ONNX domain, 'com.microsoft' for contrib ops
  name: string;
  inputs: readonly string[]; // '' marks an omitted optional input
  outputs: readonly string[];
  attributes: Readonly<Record<string, AttributeValue>>;
}

export function encodeNode(n: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) w.message(5, encodeAttribute(name, a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  initializers: readonly { tensor: TensorSpec; external?: ExternalRef }[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
}

export function encodeGraph(g: GraphSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const i of g.initializers) w.message(5, encodeTensor(i.tensor, i.external));
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  return w;
}

export interface ModelSpec {
  irVersion: number;
  opsets: readonly { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphSpec;
  metadata?: Readonly<Record<string, string>>;
}

export function encodeModel(m: ModelSpec): ProtoWriter {
  const w = new ProtoWriter().int(1, m.irVersion);
  w.string(2, m.producerName).string(3, m.producerVersion);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsets) {
    const op = new ProtoWriter();
    if (o.domain) op.string(1, o.domain);
    op.int(2, o.version);
    w.message(8, op);
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) w.message(14, entry(k, v));
  return w;
}
