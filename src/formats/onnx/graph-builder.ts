import { ShrinkrayError } from '../../errors.ts';
import {
  bytesPerElement,
  encodeModel,
  OnnxDataType,
  type AttributeValue,
  type ExternalRef,
  type NodeSpec,
  type TensorSpec,
  type ValueInfoSpec,
} from './onnx-proto.ts';

/** Protobuf messages cannot exceed 2 GiB; weights past this go to an external data file. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface NodeOptions {
  domain?: string; // '' (default ONNX) or 'com.microsoft'
  attrs?: Readonly<Record<string, AttributeValue>>;
  outputs?: number | readonly string[]; // how many outputs (auto-named), or their names
  name?: string; // name prefix for the node and its outputs
}

export interface BuildOptions {
  opsets: readonly { domain: string; version: number }[];
  irVersion?: number;
  producerVersion?: string;
  metadata?: Readonly<Record<string, string>>;
  /** Initializers go to an external file when their total size exceeds this (bytes). */
  externalDataThreshold?: number;
  externalDataLocation?: string; // file name next to the .onnx, e.g. 'model.onnx_data'
}

export interface BuiltModel {
  model: Uint8Array; // the .onnx file
  /** The external data file as chunks (written in order), or null when all weights are inline. */
  externalData: { location: string; chunks: Uint8Array[]; byteLength: number } | null;
}

// Tensors this small stay inline even in external-data mode, like onnx's own converter does.
/** The name a node asked to be called `base` gets (a unique suffix follows when `base` repeats). */
export const nodeName = (base: string): string => `${base}_node`;

const EXTERNAL_MIN_BYTES = 1024;
const EXTERNAL_ALIGN = 64;

/** Collects inputs, outputs, initializers and nodes, naming values uniquely, then encodes. */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorSpec[] = [];
  private readonly inputs: ValueInfoSpec[] = [];
  private readonly outputs: ValueInfoSpec[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly int64Constants = new Map<string, string>(); // "dims:values" (or "f32:value") -> name

  constructor(readonly name = 'main_graph') {}

  /** A value name not used yet, derived from `base`. */
  uniqueName(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let n = this.counters.get(base) ?? 1;
    while (this.used.has(`${base}_${n}`)) n++;
    this.counters.set(base, n + 1);
    const name = `${base}_${n}`;
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new ShrinkrayError('bad_argument', `ONNX graph value '${name}' is defined twice`);
    this.used.add(name);
    return name;
  }

  addInput(name: string, dataType: OnnxDataType, dims: readonly (number | string)[]): string {
    this.inputs.push({ name: this.claim(name), dataType, dims });
    return name;
  }

  /** Declares `name` (already produced by a node) as a graph output. */
  addOutput(name: string, dataType: OnnxDataType, dims: readonly (number | string)[]): void {
    this.outputs.push({ name, dataType, dims });
  }

  /** An initializer named after `name` (made unique); returns the name it got. */
  addInitializer(name: string, dataType: OnnxDataType, dims: readonly number[], raw: Uint8Array): string {
    return this.pushInitializer(this.uniqueName(name), dataType, dims, raw);
  }

  private pushInitializer(name: string, dataType: OnnxDataType, dims: readonly number[], raw: Uint8Array): string {
    const expected = dims.reduce((a, b) => a * b, 1) * bytesPerElement[dataType];
    if (raw.byteLength !== expected) {
      throw new ShrinkrayError(
        'bad_argument',
        `initializer '${name}' of shape [${dims.join(', ')}] needs ${expected} bytes, got ${raw.byteLength}`,
      );
    }
    this.initializers.push({ name, dataType, dims, raw });
    return name;
  }

  /** An fp32 initializer named after `name` (made unique). */
  float32(name: string, data: Float32Array, dims: readonly number[]): string {
    return this.pushInitializer(this.uniqueName(name), OnnxDataType.FLOAT, dims, bytesOf(data));
  }

  /** An fp32 scalar constant (shape []); equal scalars are shared. */
  scalar(name: string, value: number): string {
    const key = `f32:${Math.fround(value)}`;
    const known = this.int64Constants.get(key);
    if (known) return known;
    const made = this.pushInitializer(this.uniqueName(name), OnnxDataType.FLOAT, [], bytesOf(new Float32Array([value])));
    this.int64Constants.set(key, made);
    return made;
  }

  /** A small int64 constant, e.g. a Reshape target or Slice bounds; equal constants are shared. */
  int64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `${dims.join(',')}:${values.join(',')}`;
    const known = this.int64Constants.get(key);
    if (known) return known;
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    const made = this.pushInitializer(this.uniqueName(name), OnnxDataType.INT64, dims, bytesOf(data));
    this.int64Constants.set(key, made);
    return made;
  }

  /** Adds a node (named nodeName(opts.name), or after its op); returns its output names. */
  node(opType: string, inputs: readonly string[], opts: NodeOptions = {}): string[] {
    const base = opts.name ?? opType.toLowerCase();
    const outputs =
      typeof opts.outputs === 'object'
        ? opts.outputs.map((o) => this.claim(o))
        : Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.uniqueName(`${base}_out${i}`));
    this.nodes.push({
      opType,
      domain: opts.domain ?? '',
      name: this.uniqueName(nodeName(base)),
      inputs,
      outputs,
      attributes: opts.attrs ?? {},
    });
    return outputs;
  }

  /** A single-output node. */
  op(opType: string, inputs: readonly string[], opts: Omit<NodeOptions, 'outputs'> & { output?: string } = {}): string {
    const { output, ...rest } = opts;
    return this.node(opType, inputs, { ...rest, outputs: output ? [output] : 1 })[0]!;
  }

  get initializerBytes(): number {
    return this.initializers.reduce((s, t) => s + t.raw.byteLength, 0);
  }

  build(opts: BuildOptions): BuiltModel {
    const threshold = opts.externalDataThreshold ?? PROTOBUF_LIMIT - 64 * 1024 * 1024;
    const location = opts.externalDataLocation ?? 'model.onnx_data';
    const useExternal = this.initializerBytes > threshold;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const initializers = this.initializers.map((tensor) => {
      if (!useExternal || tensor.raw.byteLength < EXTERNAL_MIN_BYTES) return { tensor };
      const pad = (EXTERNAL_ALIGN - (offset % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
      if (pad) chunks.push(new Uint8Array(pad));
      offset += pad;
      const external: ExternalRef = { location, offset, length: tensor.raw.byteLength };
      chunks.push(tensor.raw);
      offset += tensor.raw.byteLength;
      return { tensor, external };
    });
    const writer = encodeModel({
      irVersion: opts.irVersion ?? 8,
      opsets: opts.opsets,
      producerName: 'shrinkray',
      producerVersion: opts.producerVersion ?? '0.1.0',
      metadata: opts.metadata,
      graph: { name: this.name, nodes: this.nodes, initializers, inputs: this.inputs, outputs: this.outputs },
    });
    if (writer.byteLength > PROTOBUF_LIMIT) {
      throw new ShrinkrayError(
        'bad_argument',
        `ONNX model is ${writer.byteLength} bytes, over protobuf's 2 GiB limit: lower externalDataThreshold`,
      );
    }
    return {
      model: writer.finish(),
      externalData: useExternal ? { location, chunks, byteLength: offset } : null,
    };
  }
}

/** The bytes of a typed array, without copying. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
