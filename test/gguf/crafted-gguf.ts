import { concatBytes } from '../concat-bytes.ts';

/**
 * GGUF files built byte by byte for the hostile-input tests and the tensor-table fuzzer:
 * any metadata value type, any tensor info (offsets, shapes and types taken as given, never
 * fixed up), any alignment. Layout as in src/formats/gguf-header.ts (version 3).
 */
export const GGUF_TYPE = Object.freeze({ u8: 0, u32: 4, f32: 6, string: 8, array: 9, u64: 10 });

const enc = new TextEncoder();

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function u64(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

export function ggufString(s: string): Uint8Array {
  const bytes = enc.encode(s);
  return concatBytes([u64(bytes.byteLength), bytes]);
}

/** One metadata entry: key, u32 type, then the value's bytes as given. */
export function ggufKv(key: string, type: number, value: Uint8Array): Uint8Array {
  return concatBytes([ggufString(key), u32(type), value]);
}

export const kvU32 = (key: string, v: number) => ggufKv(key, GGUF_TYPE.u32, u32(v));
export const kvU64 = (key: string, v: number | bigint) => ggufKv(key, GGUF_TYPE.u64, u64(v));
export const kvString = (key: string, v: string) => ggufKv(key, GGUF_TYPE.string, ggufString(v));

/** An array value's bytes: u32 element type, u64 count, then `elements` (already encoded). */
export function ggufArray(elementType: number, count: number, elements: Uint8Array): Uint8Array {
  return concatBytes([u32(elementType), u64(count), elements]);
}

export interface CraftedTensor {
  name: string;
  type: number; // ggml type id: 0 F32, 1 F16
  ne: number[]; // fastest dimension first
  offset: number | bigint; // relative to the data section, taken as given (a bigint for offsets past 2^53)
}

/**
 * The file: header, tensor infos, zero padding to `pad` (the alignment the data section is
 * placed at; by default the file's own alignment or 32), then `data`.
 */
export function craftGguf(o: { kvs: Uint8Array[]; tensors: CraftedTensor[]; data: Uint8Array; pad?: number }): Uint8Array {
  const infos = o.tensors.map((t) => concatBytes([ggufString(t.name), u32(t.ne.length), ...t.ne.map(u64), u32(t.type), u64(t.offset)]));
  const head = concatBytes([enc.encode('GGUF'), u32(3), u64(o.tensors.length), u64(o.kvs.length), ...o.kvs, ...infos]);
  const pad = o.pad ?? 32;
  const start = Math.ceil(head.byteLength / pad) * pad;
  return concatBytes([head, new Uint8Array(start - head.byteLength), o.data]);
}

/** F32 values as bytes. */
export const f32Bytes = (values: readonly number[]) => new Uint8Array(Float32Array.from(values).buffer);
