import { encodeModel, OnnxDataType, type ValueInfoSpec } from '../src/formats/onnx/onnx-proto.ts';
import type { ModelConfig } from '../src/model/config.ts';

/**
 * Hostile ONNX graphs for the hardening tests (Node and browser): the inputs and outputs of a
 * decoder in transformers.js convention, shaped by a config (or deliberately not), with
 * initializers whose external data entries say whatever the test wants. No nodes: every
 * check under test runs before onnxruntime would look at them.
 */
export interface CraftedInitializer {
  name: string;
  dims: number[];
  /** FLOAT unless given. */
  dataType?: number;
  /** Written as they are: strings, so a test can put '../x', 'abc' or an absolute path in them. */
  external: { location: string; offset?: string; length?: string };
}

export interface CraftOptions {
  /** The graph's own idea of the model; defaults to the config's. */
  layers?: number;
  kvHeads?: number;
  headDim?: number;
  vocab?: number;
  initializers?: CraftedInitializer[];
}

export function craftDecoderGraph(config: ModelConfig, o: CraftOptions = {}): Uint8Array {
  const layers = o.layers ?? config.numLayers;
  const kv = ['batch_size', o.kvHeads ?? config.numKvHeads, 'past_sequence_length', o.headDim ?? config.headDim];
  const inputs: ValueInfoSpec[] = [
    { name: 'input_ids', dataType: OnnxDataType.INT64, dims: ['batch_size', 'sequence_length'] },
    { name: 'attention_mask', dataType: OnnxDataType.INT64, dims: ['batch_size', 'total_sequence_length'] },
    { name: 'position_ids', dataType: OnnxDataType.INT64, dims: ['batch_size', 'sequence_length'] },
  ];
  const outputs: ValueInfoSpec[] = [
    { name: 'logits', dataType: OnnxDataType.FLOAT, dims: ['batch_size', 'sequence_length', o.vocab ?? config.vocabSize] },
  ];
  for (let l = 0; l < layers; l++) {
    for (const part of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${l}.${part}`, dataType: OnnxDataType.FLOAT, dims: kv });
      outputs.push({ name: `present.${l}.${part}`, dataType: OnnxDataType.FLOAT, dims: kv });
    }
  }
  const model = encodeModel({
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'shrinkray-tests',
    producerVersion: '0',
    graph: { name: 'crafted', nodes: [], inputs, outputs, initializers: [] },
  }).finish();
  // The external entries go in by hand: ExternalRef holds numbers, and these tests need any string.
  const extra = (o.initializers ?? []).map((i) => rawInitializer(i));
  return appendInitializers(model, extra);
}

/** A TensorProto with external data: dims (1), data_type (2), name (8), external_data (13), data_location = EXTERNAL (14). */
function rawInitializer(i: CraftedInitializer): Uint8Array {
  const parts: number[] = [];
  const varint = (v: number) => {
    for (; v >= 0x80; v = Math.floor(v / 128)) parts.push((v % 128) | 0x80);
    parts.push(v);
  };
  const bytes = (field: number, b: Uint8Array) => {
    varint(field * 8 + 2);
    varint(b.byteLength);
    parts.push(...b);
  };
  const text = (s: string) => new TextEncoder().encode(s);
  const entry = (k: string, v: string) => {
    const inner: number[] = [];
    for (const [f, s] of [
      [1, k],
      [2, v],
    ] as const) {
      const b = text(s);
      inner.push(f * 8 + 2, b.byteLength, ...b);
    }
    return new Uint8Array(inner);
  };
  for (const d of i.dims) {
    varint(8); // field 1, varint
    varint(d);
  }
  varint(16); // field 2, varint
  varint(i.dataType ?? OnnxDataType.FLOAT);
  bytes(8, text(i.name));
  bytes(13, entry('location', i.external.location));
  if (i.external.offset !== undefined) bytes(13, entry('offset', i.external.offset));
  if (i.external.length !== undefined) bytes(13, entry('length', i.external.length));
  varint(14 * 8);
  varint(1);
  return new Uint8Array(parts);
}

/**
 * Adds initializers (GraphProto field 5) to the model's graph (ModelProto field 7): the graph
 * is the model's one length-delimited field 7, so it is re-encoded with the extra bytes.
 */
function appendInitializers(model: Uint8Array, initializers: Uint8Array[]): Uint8Array {
  if (initializers.length === 0) return model;
  const read = (at: number): [number, number] => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = model[at++]!;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return [v, at];
    }
  };
  const out: number[] = [];
  const writeVarint = (v: number) => {
    for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
    out.push(v);
  };
  for (let at = 0; at < model.byteLength;) {
    const [key, afterKey] = read(at);
    const wire = key % 8;
    if (wire === 0) {
      const [, next] = read(afterKey);
      out.push(...model.subarray(at, next));
      at = next;
      continue;
    }
    const [len, start] = read(afterKey);
    const body = model.subarray(start, start + len);
    if (key >> 3 === 7) {
      const extra: number[] = [];
      for (const i of initializers) {
        const lenBytes: number[] = [];
        let v = i.byteLength;
        for (; v >= 0x80; v = Math.floor(v / 128)) lenBytes.push((v % 128) | 0x80);
        lenBytes.push(v);
        extra.push(5 * 8 + 2, ...lenBytes, ...i);
      }
      writeVarint(key);
      writeVarint(len + extra.length);
      out.push(...body, ...extra);
    } else {
      out.push(...model.subarray(at, start + len));
    }
    at = start + len;
  }
  return new Uint8Array(out);
}
