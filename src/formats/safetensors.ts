import { ShrinkrayError } from '../errors.ts';
import type { StoredDType, TensorHandle } from '../model/ir.ts';
import { checkRange, type ByteSource } from './byte-source.ts';
import { bf16BytesToFloat32, floatToBf16, floatToHalf, halfBytesToFloat32 } from '../kernels/half.ts';
import { firstDuplicateKey } from './json-duplicate-keys.ts';
import { printable, quoted } from './printable.ts';

/**
 * safetensors, read lazily: the 8-byte little-endian header length, the JSON header, then
 * one byte range per tensor, fetched only when that tensor is read.
 * Layout: [u64 N][N bytes of JSON, space padded][data region; offsets are relative to it].
 */
export const DTYPE_BYTES: Readonly<Record<StoredDType, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  I8: 1,
  U8: 1,
  I32: 4,
  I64: 8,
});

// The format's own limit; also keeps a garbage length from allocating gigabytes.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A tensor inside a safetensors file: a TensorHandle that can also hand back its raw bytes. */
export interface SafetensorsTensor extends TensorHandle {
  /** Absolute offset of the tensor's first byte in the file. */
  readonly fileOffset: number;
  /** The stored bytes, unconverted (little-endian). */
  readBytes(): Promise<Uint8Array>;
}

export interface SafetensorsFile {
  readonly source: ByteSource;
  readonly metadata: Readonly<Record<string, string>>;
  /** In header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  /** Where the data region starts (8 + header length). */
  readonly dataStart: number;
}

function bad(src: ByteSource, problem: string): ShrinkrayError {
  return new ShrinkrayError('bad_file', `${src.name}: not a valid safetensors file: ${problem}`);
}

function isDType(x: unknown): x is StoredDType {
  return typeof x === 'string' && Object.hasOwn(DTYPE_BYTES, x);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export async function readSafetensors(src: ByteSource): Promise<SafetensorsFile> {
  if (src.size < 8) throw bad(src, `the file has ${src.size} bytes, fewer than the 8-byte header length`);
  const lenBytes = await src.read(0, 8);
  const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > src.size - 8 || headerLen > MAX_HEADER_BYTES) {
    throw bad(src, `header length ${headerLen} does not fit (file size ${src.size} bytes, limit ${MAX_HEADER_BYTES})`);
  }
  // The format pads with spaces; some writers pad with NULs, which JSON.parse would refuse.
  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(await src.read(8, headerLen)).replace(/\0+$/, '');
  } catch {
    throw bad(src, 'the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    // V8's message quotes the text around the error: raw file bytes, so made printable.
    throw bad(src, `the header is not JSON (${printable((e as Error).message, 160)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(src, 'the header is not a JSON object');
  const twice = firstDuplicateKey(headerText);
  if (twice !== undefined) throw bad(src, `the header names ${quoted(twice)} twice (JSON would silently keep the second)`);

  const dataStart = 8 + headerLen;
  const dataSize = src.size - dataStart;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(src, '__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const tensor = `tensor ${quoted(name)}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(src, `${tensor} has no description`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isDType(dtype))
      throw bad(
        src,
        `${tensor} has unsupported dtype ${printable(String(JSON.stringify(dtype)), 40)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    if (!Array.isArray(shape) || !shape.every(isCount))
      throw bad(src, `${tensor} has an invalid shape ${printable(String(JSON.stringify(shape)), 80)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw bad(src, `${tensor} has invalid data_offsets ${printable(String(JSON.stringify(offsets)), 80)}`);
    }
    const [begin, end] = offsets as [number, number];
    const elements = shape.reduce((a: number, b: number) => a * b, 1);
    const byteLength = elements * DTYPE_BYTES[dtype];
    if (end - begin !== byteLength) {
      throw bad(src, `${tensor} (${dtype} [${shape.join(', ')}]) needs ${byteLength} bytes but its data_offsets span ${end - begin}`);
    }
    if (end > dataSize) {
      throw bad(
        src,
        `${tensor} data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes; the file may be truncated)`,
      );
    }
    spans.push([begin, end, name]);
    tensors.set(name, makeTensor(src, name, dtype, shape, dataStart + begin, byteLength));
  }
  // Sorted by start, each non-empty span must begin at or after every earlier one's end.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let reach = 0;
  let reachName = '';
  for (const [begin, end, name] of spans) {
    if (end === begin) continue;
    if (begin < reach) throw bad(src, `tensors ${quoted(reachName)} and ${quoted(name)} overlap`);
    reach = end;
    reachName = name;
  }
  return { source: src, metadata, tensors, dataStart };
}

/** A tensor at `fileOffset` of `src` (also a run of another tensor's rows: src/model/fused-tensors.ts). */
export function makeTensor(
  src: ByteSource,
  name: string,
  dtype: StoredDType,
  shape: readonly number[],
  fileOffset: number,
  byteLength: number,
): SafetensorsTensor {
  const readBytes = () => src.read(fileOffset, byteLength);
  return {
    name,
    dtype,
    shape: Object.freeze([...shape]),
    byteLength,
    fileOffset,
    readBytes,
    async readRange(offset, length) {
      checkRange(`tensor '${name}'`, byteLength, offset, length);
      return src.read(fileOffset + offset, length);
    },
    async read() {
      return decodeToFloat32(dtype, await readBytes());
    },
  };
}

/** Decodes little-endian stored elements to fp32 (a fresh array: never a view of the source). */
export function decodeToFloat32(dtype: StoredDType, bytes: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(bytes.byteLength / 4);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F16':
      return halfBytesToFloat32(bytes);
    case 'BF16':
      return bf16BytesToFloat32(bytes);
    case 'U8':
      return Float32Array.from(bytes);
    case 'I8':
      return Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    case 'I32': {
      const copy = new Int32Array(bytes.byteLength / 4);
      new Uint8Array(copy.buffer).set(bytes);
      return Float32Array.from(copy);
    }
    case 'I64': {
      const copy = new BigInt64Array(bytes.byteLength / 8);
      new Uint8Array(copy.buffer).set(bytes);
      return Float32Array.from(copy, (v) => Number(v));
    }
  }
}

/** One tensor to write. Float32Array data is narrowed when dtype is F16 or BF16. */
export interface SafetensorsEntry {
  name: string;
  dtype: StoredDType;
  shape: readonly number[];
  data: Float32Array | Uint16Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;
}

/** The element bytes of an entry as they will be stored (narrowed when asked). */
export function encodeTensorData(e: SafetensorsEntry): Uint8Array {
  let bytes: Uint8Array;
  if ((e.dtype === 'F16' || e.dtype === 'BF16') && e.data instanceof Float32Array) {
    const narrow = e.dtype === 'F16' ? floatToHalf : floatToBf16;
    const out = new Uint16Array(e.data.length);
    for (let i = 0; i < out.length; i++) out[i] = narrow(e.data[i]!);
    bytes = new Uint8Array(out.buffer);
  } else {
    bytes = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  }
  const expected = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
  if (bytes.byteLength !== expected) {
    throw new ShrinkrayError(
      'bad_argument',
      `safetensors writer: tensor '${e.name}' (${e.dtype} [${e.shape.join(', ')}]) needs ${expected} bytes, got ${bytes.byteLength}`,
    );
  }
  return bytes;
}

/** What the header needs to know about a tensor. */
export type SafetensorsDescriptor = Pick<SafetensorsEntry, 'name' | 'dtype' | 'shape'>;

/**
 * The first bytes of a safetensors file: the u64 length plus the JSON header, padded with
 * spaces so the data region starts 8-byte aligned. Tensors follow contiguously, in order,
 * so a writer can stream them one at a time after this.
 */
export function safetensorsHeader(tensors: readonly SafetensorsDescriptor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) {
      throw new ShrinkrayError('bad_argument', `safetensors writer: duplicate or reserved tensor name '${t.name}'`);
    }
    const byteLength = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8);
  const view = new DataView(head.buffer);
  view.setUint32(0, padded % 2 ** 32, true);
  view.setUint32(4, Math.floor(padded / 2 ** 32), true);
  head.set(json, 8);
  return head;
}

/** Serialises tensors as safetensors: the header, then one part per tensor, in order. */
export function writeSafetensors(entries: readonly SafetensorsEntry[], metadata?: Record<string, string>): Uint8Array[] {
  const parts = entries.map(encodeTensorData);
  return [safetensorsHeader(entries, metadata), ...parts];
}
