import type { MetadataValue } from '@huggingface/gguf';
import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from './byte-source.ts';
import { quoted } from './printable.ts';

/**
 * A GGUF file's header, read in one forward pass over its bytes (memory grows with what was
 * read, never with retries: @huggingface/gguf re-parses a metadata value from its start after
 * each 2 MB it fetches, quadratic in a large value). Every count is bounded before anything
 * is allocated for it, so a hostile header costs at most the bounds below.
 * Layout (version 2/3; version 1 has u32 where u64 is written):
 *   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
 *   kv_count × (string key, u32 type, value), tensor_count × (string name, u32 n_dims,
 *   u64 ne[n_dims], u32 ggml type, u64 offset), zero padding to the alignment, tensor data.
 * A string is u64 length + UTF-8 bytes; an array is u32 element type + u64 count + elements.
 */
export interface GgufTensorInfo {
  name: string;
  ne: number[]; // ggml order: fastest dimension first
  type: number; // ggml type id
  offset: number; // relative to the data section (Infinity past 2^53)
}

export interface GgufHeader {
  metadata: Record<string, MetadataValue>;
  tensorInfos: GgufTensorInfo[];
  /** Where the tensor infos end (the data section starts at the next multiple of the alignment). */
  headerEnd: number;
}

/** Each far above any published model (a 256 K vocabulary takes about 1 M values and 10 MB). */
export const GGUF_LIMITS = Object.freeze({
  keys: 100_000,
  tensors: 1_000_000,
  stringBytes: 16 * 1024 * 1024, // a chat template is tens of KB
  headerBytes: 256 * 1024 * 1024, // metadata and tensor infos together
  metadataValues: 8 * 1024 * 1024, // array elements, all arrays together
  arrayDepth: 2, // an array may hold arrays, which hold no further arrays
  dims: 4, // GGML_MAX_DIMS
});

const CHUNK = 2 * 1024 * 1024;
const SCALAR_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

function bad(name: string, problem: string): ShrinkrayError {
  return new ShrinkrayError('bad_file', `${name}: not a readable GGUF file: ${problem}`);
}

/** A forward-only cursor over a ByteSource that keeps at most one chunk plus the value being read. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  constructor(private readonly src: ByteSource) {}

  /** Makes [pos, pos + n) readable; past the end of the file is a truncated header. */
  async need(n: number, what: string): Promise<void> {
    if (this.pos + n <= this.bufStart + this.buf.byteLength) return;
    if (this.pos + n > GGUF_LIMITS.headerBytes) {
      throw bad(this.src.name, `${what} runs past byte ${GGUF_LIMITS.headerBytes}; a GGUF header is read up to that size`);
    }
    if (this.pos + n > this.src.size) {
      throw bad(this.src.name, `truncated: ${what} runs to byte ${this.pos + n} but the file has ${this.src.size} bytes`);
    }
    const length = Math.min(Math.max(n, CHUNK), this.src.size - this.pos);
    this.buf = await this.src.read(this.pos, length);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
  }
  private at(n: number): number {
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }
  u32 = () => this.view.getUint32(this.at(4), true);
  /** A u64 as a safe integer, or `Infinity` beyond 2^53 (every caller bounds it). */
  u64 = () => {
    const at = this.at(8);
    const v = this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * 2 ** 32;
    return Number.isSafeInteger(v) ? v : Infinity;
  };
  bytes = (n: number) => this.buf.subarray(this.at(n), this.pos - this.bufStart);
  /** Bytes left in the window from `pos`: reading within them needs no await (a million vocabulary strings). */
  get ready(): number {
    return this.bufStart + this.buf.byteLength - this.pos;
  }
  scalar(type: number): MetadataValue {
    const v = this.view;
    const at = this.at(SCALAR_BYTES[type]!);
    switch (type) {
      case 0: return v.getUint8(at); // prettier-ignore
      case 1: return v.getInt8(at); // prettier-ignore
      case 2: return v.getUint16(at, true); // prettier-ignore
      case 3: return v.getInt16(at, true); // prettier-ignore
      case 4: return v.getUint32(at, true); // prettier-ignore
      case 5: return v.getInt32(at, true); // prettier-ignore
      case 6: return v.getFloat32(at, true); // prettier-ignore
      case 7: return v.getUint8(at) !== 0; // prettier-ignore
      case 10: return v.getBigUint64(at, true); // prettier-ignore
      case 11: return v.getBigInt64(at, true); // prettier-ignore
      default:
        return v.getFloat64(at, true);
    }
  }
}

/** Reads and bounds-checks the header; tensor data is not touched. */
export async function readGgufHeader(src: ByteSource): Promise<GgufHeader> {
  const c = new Cursor(src);
  const name = src.name;
  await c.need(8, 'the magic and version');
  if (new TextDecoder().decode(c.bytes(4)) !== 'GGUF') throw bad(name, 'it does not start with the magic "GGUF"');
  const version = c.u32();
  if ((version & 0xffff) === 0 && version !== 0) throw bad(name, 'it is big-endian; only little-endian GGUF files are supported');
  if (version < 1 || version > 3) throw bad(name, `unsupported version ${version} (1, 2 and 3 are read)`);
  const sizeBytes = version === 1 ? 4 : 8;
  const size = () => (version === 1 ? c.u32() : c.u64());
  await c.need(2 * sizeBytes, 'the counts');
  const tensorCount = size();
  const kvCount = size();
  if (kvCount > GGUF_LIMITS.keys) throw bad(name, `it claims ${kvCount} metadata keys; at most ${GGUF_LIMITS.keys} are read`);
  if (tensorCount > GGUF_LIMITS.tensors) throw bad(name, `it claims ${tensorCount} tensors; at most ${GGUF_LIMITS.tensors} are read`);

  // ignoreBOM keeps a leading U+FEFF: Gemma's vocabulary has '\ufeff//' beside '//', which the default decoder would make one.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const string = async (what: () => string): Promise<string> => {
    if (c.ready < sizeBytes) await c.need(sizeBytes, what());
    const n = size();
    if (n > GGUF_LIMITS.stringBytes) throw bad(name, `${what()} is a string of ${n} bytes; at most ${GGUF_LIMITS.stringBytes} are read`);
    if (c.ready < n) await c.need(n, what());
    return decoder.decode(c.bytes(n));
  };
  /** A string read without awaiting when the window holds it all, else undefined with nothing consumed. */
  const stringNow = (): string | undefined => {
    if (c.ready < sizeBytes) return undefined;
    const at = c.pos;
    const n = size();
    if (n > GGUF_LIMITS.stringBytes || c.ready < n) {
      c.pos = at;
      return undefined;
    }
    return decoder.decode(c.bytes(n));
  };
  const scalarBytes = (type: number, what: () => string): number => {
    const n = SCALAR_BYTES[type];
    if (n === undefined) throw bad(name, `${what()} has value type ${type}, which GGUF does not define`);
    return n;
  };
  let values = 0;
  const value = async (type: number, depth: number, what: () => string): Promise<MetadataValue> => {
    if (type === STRING) return string(what);
    if (type !== ARRAY) {
      await c.need(scalarBytes(type, what), what());
      return c.scalar(type);
    }
    if (depth >= GGUF_LIMITS.arrayDepth) throw bad(name, `${what()} nests arrays deeper than ${GGUF_LIMITS.arrayDepth} levels`);
    await c.need(4 + sizeBytes, what());
    const elementType = c.u32();
    const count = size();
    values += count;
    if (values > GGUF_LIMITS.metadataValues) {
      throw bad(
        name,
        `${what()} brings the metadata's array elements past ${GGUF_LIMITS.metadataValues}; a real model has about a million`,
      );
    }
    const out: MetadataValue[] = [];
    if (elementType === STRING) {
      for (let i = 0; i < count; i++) out.push(stringNow() ?? (await string(what)));
    } else if (elementType === ARRAY) {
      for (let i = 0; i < count; i++) out.push(await value(elementType, depth + 1, what));
    } else {
      // Numbers: the whole run at once (bounded by the header's size before any is read).
      await c.need(count * scalarBytes(elementType, what), what());
      for (let i = 0; i < count; i++) out.push(c.scalar(elementType));
    }
    return out as MetadataValue;
  };

  // No prototype: a key named __proto__ is a key like any other.
  const metadata: Record<string, MetadataValue> = Object.assign(Object.create(null) as Record<string, MetadataValue>, {
    version,
    tensor_count: BigInt(tensorCount),
    kv_count: BigInt(kvCount),
  });
  for (let i = 0; i < kvCount; i++) {
    const key = await string(() => `metadata key ${i}`);
    if (Object.hasOwn(metadata, key)) throw bad(name, `metadata key ${quoted(key)} appears twice`);
    await c.need(4, `metadata key ${quoted(key)}`);
    const type = c.u32();
    metadata[key] = await value(type, 0, () => `metadata key ${quoted(key)}`);
  }

  const tensorInfos: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const tensor = await string(() => `the name of tensor ${i}`);
    const what = `tensor ${quoted(tensor)}`;
    await c.need(4, what);
    const nDims = c.u32();
    if (nDims > GGUF_LIMITS.dims) throw bad(name, `${what} has ${nDims} dimensions; ggml has at most ${GGUF_LIMITS.dims}`);
    await c.need(nDims * sizeBytes + 12, what);
    const ne = Array.from({ length: nDims }, size);
    const type = c.u32();
    const offset = c.u64();
    tensorInfos.push({ name: tensor, ne, type, offset });
  }
  return { metadata, tensorInfos, headerEnd: c.pos };
}
