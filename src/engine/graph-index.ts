import { ShrinkrayError } from '../errors.ts';
import { nodeName } from '../formats/onnx/decoder-names.ts';
import type { OnnxGraphView, OnnxNodeView, OnnxTensorView } from '../formats/onnx/onnx-graph.ts';
import type { HeapTensor } from './model-weights.ts';

/**
 * A decoder graph's nodes and initializers, indexed for graph-weights.ts and graph-check.ts:
 * nodes by the name the builder gave them, values by producer and consumers, initializers
 * by name with their heap address.
 */

/** A graph form the CPU engine does not run: the caller falls back to onnxruntime-web and says why. */
export class Unsupported extends Error {}

/** DataType values of onnx.proto the engine reads. */
export const FLOAT = 1;
export const UINT8 = 2;
export const FLOAT16 = 10;

export interface GraphBytes {
  graph: OnnxGraphView;
  name: string; // how messages name the graph file
  at: number; // heap address of the graph file's first byte
  external: ReadonlyMap<string, { at: number; length: number }>; // data files by location
  memory: () => ArrayBufferLike; // the heap's current buffer, to read small initializers
}

export class GraphIndex {
  readonly byName = new Map<string, OnnxNodeView>();
  readonly producer = new Map<string, OnnxNodeView>();
  readonly consumers = new Map<string, OnnxNodeView[]>();

  constructor(readonly g: GraphBytes) {
    for (const n of g.graph.nodes) {
      this.byName.set(n.name, n);
      for (const o of n.outputs) this.producer.set(o, n);
      for (const i of n.inputs) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
    }
  }

  /** The node the builder named `base` (decoder-names.ts), if the graph has it. */
  find(base: string): OnnxNodeView | undefined {
    return this.byName.get(nodeName(base));
  }

  /** The node the builder named `base`; a graph without it is one the engine does not know, and the reason names it. */
  node(base: string, ops: readonly string[]): OnnxNodeView {
    const n = this.find(base);
    if (!n) throw new Unsupported(`${this.g.name} has no node '${nodeName(base)}': it is not a decoder graph the CPU engine knows`);
    if (!ops.includes(n.opType)) throw new Unsupported(`${this.g.name}: node '${n.name}' is ${n.opType}, expected ${ops.join(' or ')}`);
    return n;
  }

  /** Heap address of an initializer's bytes, after checking its type and byte length. */
  address(t: OnnxTensorView, bytesPerElement: number): number {
    const length = t.dims.reduce((a, b) => a * b, 1) * bytesPerElement;
    if (t.raw) {
      if (t.raw.length !== length)
        throw bad(this.g.name, `initializer '${t.name}' holds ${t.raw.length} bytes; its shape [${t.dims.join(', ')}] needs ${length}`);
      return this.g.at + t.raw.offset;
    }
    if (t.external) {
      const file = this.g.external.get(t.external.location);
      if (!file) throw new Unsupported(`${this.g.name}: initializer '${t.name}' lives in '${t.external.location}', which was not read`);
      if (t.external.length !== length || t.external.offset + length > file.length) {
        throw bad(
          this.g.name,
          `initializer '${t.name}' takes bytes [${t.external.offset}, +${t.external.length}) of '${t.external.location}'; its shape needs ${length}`,
        );
      }
      return file.at + t.external.offset;
    }
    throw new Unsupported(`${this.g.name}: initializer '${t.name}' stores its values in typed fields, not raw_data`);
  }

  initializer(name: string): OnnxTensorView | undefined {
    return this.g.graph.initializers.get(name);
  }

  /**
   * The float tensor behind graph value `value`: an FLOAT initializer, or a FLOAT16 one
   * through Cast (the builder's fp16 storage).
   */
  floatTensor(value: string, what: string): { tensor: OnnxTensorView; dtype: 'f32' | 'f16' } {
    const direct = this.initializer(value);
    if (direct) {
      if (direct.dataType !== FLOAT)
        throw new Unsupported(`${this.g.name}: ${what} '${value}' has data type ${direct.dataType}, expected FLOAT`);
      return { tensor: direct, dtype: 'f32' };
    }
    const cast = this.producer.get(value);
    const half = cast?.opType === 'Cast' ? this.initializer(cast.inputs[0] ?? '') : undefined;
    if (!half || half.dataType !== FLOAT16)
      throw new Unsupported(`${this.g.name}: ${what} '${value}' is neither an fp32 initializer nor a Cast of an fp16 one`);
    return { tensor: half, dtype: 'f16' };
  }

  heapTensor(value: string, what: string, shape: readonly number[]): HeapTensor {
    const { tensor, dtype } = this.floatTensor(value, what);
    expectShape(this.g.name, tensor, shape);
    return { name: tensor.name, dtype, at: this.address(tensor, dtype === 'f32' ? 4 : 2), length: shape.reduce((a, b) => a * b, 1) };
  }
}

export function bad(graph: string, why: string): ShrinkrayError {
  return new ShrinkrayError('bad_file', `${graph}: ${why}`);
}

export function expectShape(graph: string, t: OnnxTensorView, shape: readonly number[]): void {
  if (t.dims.length !== shape.length || t.dims.some((d, i) => d !== shape[i])) {
    throw bad(graph, `tensor '${t.name}' has shape [${t.dims.join(', ')}], but config.json implies [${shape.join(', ')}]`);
  }
}

export const intAttr = (n: OnnxNodeView, name: string): number | undefined => {
  const a = n.attributes.get(name);
  return a?.kind === 'int' ? a.value : undefined;
};
