import { GGMLQuantizationType, type MetadataValue } from '@huggingface/gguf';
import { ShrinkrayError } from '../errors.ts';
import { dequantizeGgml, GGML_BLOCKS, ggmlByteLength, ggmlTypeName, type GgmlTypeName } from '../kernels/gguf-dequantize.ts';
import type { ByteSource } from './byte-source.ts';
import { readGgufHeader } from './gguf-header.ts';
import { printable, quoted } from './printable.ts';

/**
 * A GGUF file (llama.cpp's single-file model format): metadata and tensor infos read by our
 * own bounded parser (gguf-header.ts) from a ByteSource (a Node file, a File from the picker,
 * HTTP ranges), so one code path covers Node and the page; then every tensor is checked to lie
 * aligned inside the file, apart from the others, and is decoded lazily by the ggml kernels.
 */
export interface GgufTensor {
  readonly name: string; // GGUF name, e.g. blk.0.attn_q.weight
  readonly type: GgmlTypeName;
  /** Row-major, slowest dimension first (PyTorch order): GGUF's ne[] reversed. */
  readonly shape: readonly number[];
  readonly fileOffset: number;
  readonly byteLength: number;
  /** Reads and dequantizes the whole tensor to fp32. */
  read(): Promise<Float32Array>;
}

export interface GgufFile {
  readonly name: string;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly tensors: ReadonlyMap<string, GgufTensor>;
}

/** Far above the 32 every writer uses; keeps the padding before the data section small. */
const MAX_ALIGNMENT = 1024 * 1024;

export const SUPPORTED_GGML_TYPES: readonly GgmlTypeName[] = Object.freeze(Object.keys(GGML_BLOCKS) as GgmlTypeName[]);

function bad(name: string, problem: string): ShrinkrayError {
  return new ShrinkrayError('bad_file', `${name}: not a readable GGUF file: ${problem}`);
}

function typeLabel(id: number): string {
  const known = (GGMLQuantizationType as unknown as Record<number, string>)[id];
  return known !== undefined ? `${known} (ggml type ${id})` : `ggml type ${id}`;
}

/** The alignment the file asks for: the GGUF spec wants a power of two that is a multiple of 8 (32 when unset). */
function alignmentOf(name: string, metadata: Readonly<Record<string, MetadataValue>>): number {
  const raw = metadata['general.alignment'] ?? 32;
  const a = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 8 || a > MAX_ALIGNMENT || (a & (a - 1)) !== 0) {
    throw bad(
      name,
      `general.alignment is ${printable(String(raw), 40)}; GGUF asks for a power of two that is a multiple of 8 (at most ${MAX_ALIGNMENT})`,
    );
  }
  return a;
}

/** Parses the header and checks every tensor's type, shape and byte range; reads no tensor data. */
export async function readGguf(src: ByteSource): Promise<GgufFile> {
  if (src.size < 24) throw bad(src.name, `the file has ${src.size} bytes, fewer than GGUF's 24-byte header`);
  const { metadata, tensorInfos, headerEnd } = await readGgufHeader(src);
  const alignment = alignmentOf(src.name, metadata);
  const dataStart = Math.ceil(headerEnd / alignment) * alignment;
  const tensors = new Map<string, GgufTensor>();
  const spans: [number, number, string][] = [];
  for (const info of tensorInfos) {
    const where = `${src.name}: tensor ${quoted(info.name)}`;
    const type = ggmlTypeName(info.type);
    if (type === undefined) {
      throw new ShrinkrayError(
        'bad_file',
        `${where} is stored as ${typeLabel(info.type)}, which Shrinkray cannot read; supported: ${SUPPORTED_GGML_TYPES.join(', ')}`,
      );
    }
    if (tensors.has(info.name)) throw bad(src.name, `tensor ${quoted(info.name)} appears twice`);
    const ne = info.ne;
    const count = ne.reduce((a, b) => a * b, 1);
    if (ne.length === 0 || !Number.isSafeInteger(count) || ne.some((d) => d <= 0)) {
      throw bad(src.name, `tensor ${quoted(info.name)} has shape [${ne.join(', ')}]`);
    }
    if (ne[0]! % GGML_BLOCKS[type].values !== 0) {
      throw bad(
        src.name,
        `tensor ${quoted(info.name)} (${type}) has rows of ${ne[0]}, not a multiple of its block of ${GGML_BLOCKS[type].values}`,
      );
    }
    const byteLength = ggmlByteLength(type, count);
    if (!Number.isSafeInteger(info.offset)) {
      throw bad(src.name, `tensor ${quoted(info.name)} starts at a data offset beyond 2^53 bytes, past the end of any file`);
    }
    if (info.offset % alignment !== 0) {
      throw bad(src.name, `tensor ${quoted(info.name)} starts at data offset ${info.offset}, not a multiple of the alignment ${alignment}`);
    }
    const fileOffset = dataStart + info.offset;
    if (!Number.isSafeInteger(fileOffset) || fileOffset + byteLength > src.size) {
      throw bad(
        src.name,
        `tensor ${quoted(info.name)} (${type}, ${byteLength} bytes) lies at bytes ${fileOffset}..${fileOffset + byteLength}, ` +
          `past the end of the file (${src.size} bytes): truncated or corrupt`,
      );
    }
    spans.push([fileOffset, fileOffset + byteLength, info.name]);
    tensors.set(info.name, {
      name: info.name,
      type,
      shape: Object.freeze([...ne].reverse()),
      fileOffset,
      byteLength,
      read: async () => dequantizeGgml(type, await src.read(fileOffset, byteLength), count, where),
    });
  }
  // Two tensors over the same bytes read each other's values: sorted by start, none may begin before the last one ends.
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] < spans[i - 1]![1]) throw bad(src.name, `tensors ${quoted(spans[i - 1]![2])} and ${quoted(spans[i]![2])} overlap`);
  }
  return { name: src.name, metadata, tensors };
}
