import { gguf, GGMLQuantizationType, type MetadataValue } from '@huggingface/gguf';
import { ShrinkrayError } from '../errors.ts';
import { dequantizeGgml, GGML_BLOCKS, ggmlByteLength, ggmlTypeName, type GgmlTypeName } from '../kernels/gguf-dequantize.ts';
import type { ByteSource } from './byte-source.ts';

/**
 * A GGUF file (llama.cpp's single-file model format): metadata and tensor infos parsed by
 * @huggingface/gguf, checked against the file's real size, and lazy tensors decoded by the
 * ggml kernels one at a time. The parser reads by HTTP ranges; here its fetch is served from
 * a ByteSource (a Node file, a File from the picker), so one code path covers Node and the page.
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

export const SUPPORTED_GGML_TYPES: readonly GgmlTypeName[] = Object.freeze(Object.keys(GGML_BLOCKS) as GgmlTypeName[]);

/** A fetch over a ByteSource that answers the parser's `Range: bytes=a-b` requests; the URL is a placeholder. */
function rangeFetch(src: ByteSource): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('range') ?? '';
    const m = /^bytes=(\d+)-(\d+)$/.exec(range);
    if (!m) throw new ShrinkrayError('bad_argument', `${src.name}: the GGUF parser asked for an unexpected range '${range}'`);
    const start = Math.min(Number(m[1]), src.size);
    const end = Math.min(Number(m[2]) + 1, src.size); // a range past the end returns what is there, as a server does
    const bytes = await src.read(start, end - start);
    return new Response(bytes as BlobPart, {
      status: 206,
      headers: { 'content-range': `bytes ${start}-${Math.max(start, end - 1)}/${src.size}` },
    });
  }) as typeof fetch;
}

function bad(name: string, problem: string): ShrinkrayError {
  return new ShrinkrayError('bad_file', `${name}: not a readable GGUF file: ${problem}`);
}

function typeLabel(id: number): string {
  const known = (GGMLQuantizationType as unknown as Record<number, string>)[id];
  return known !== undefined ? `${known} (ggml type ${id})` : `ggml type ${id}`;
}

/** Parses the header and checks every tensor's type, shape and byte range; reads no tensor data. */
export async function readGguf(src: ByteSource): Promise<GgufFile> {
  if (src.size < 24) throw bad(src.name, `the file has ${src.size} bytes, fewer than GGUF's 24-byte header`);
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    // A placeholder https URL: in Node the parser reads local paths itself; here every byte comes from `src`.
    parsed = await gguf(`https://gguf.invalid/${encodeURIComponent(src.name)}`, { fetch: rangeFetch(src) });
  } catch (e) {
    if (e instanceof ShrinkrayError) throw e;
    throw bad(src.name, e instanceof Error ? e.message : String(e));
  }
  // The parser reads past the end as zeros; the header must end inside the file.
  const headerEnd = parsed.tensorInfoByteRange[1];
  if (headerEnd > src.size) throw bad(src.name, `truncated: the header runs to byte ${headerEnd} but the file has ${src.size} bytes`);
  if (!parsed.littleEndian) throw bad(src.name, 'it is big-endian; only little-endian GGUF files are supported');
  const dataStart = Number(parsed.tensorDataOffset);
  const tensors = new Map<string, GgufTensor>();
  for (const info of parsed.tensorInfos) {
    const where = `${src.name}: tensor '${info.name}'`;
    const type = ggmlTypeName(info.dtype);
    if (type === undefined) {
      throw new ShrinkrayError(
        'bad_file',
        `${where} is stored as ${typeLabel(info.dtype)}, which Shrinkray cannot read; supported: ${SUPPORTED_GGML_TYPES.join(', ')}`,
      );
    }
    if (tensors.has(info.name)) throw bad(src.name, `tensor '${info.name}' appears twice`);
    const ne = info.shape.map(Number);
    const count = ne.reduce((a, b) => a * b, 1);
    if (ne.length === 0 || !Number.isSafeInteger(count) || ne.some((d) => d <= 0)) {
      throw bad(src.name, `tensor '${info.name}' has shape [${ne.join(', ')}]`);
    }
    if (ne[0]! % GGML_BLOCKS[type].values !== 0) {
      throw bad(
        src.name,
        `tensor '${info.name}' (${type}) has rows of ${ne[0]}, not a multiple of its block of ${GGML_BLOCKS[type].values}`,
      );
    }
    const byteLength = ggmlByteLength(type, count);
    const fileOffset = dataStart + Number(info.offset);
    if (!Number.isSafeInteger(fileOffset) || fileOffset + byteLength > src.size) {
      throw bad(
        src.name,
        `tensor '${info.name}' (${type}, ${byteLength} bytes) lies at bytes ${fileOffset}..${fileOffset + byteLength}, ` +
          `past the end of the file (${src.size} bytes): truncated or corrupt`,
      );
    }
    tensors.set(info.name, {
      name: info.name,
      type,
      shape: Object.freeze([...ne].reverse()),
      fileOffset,
      byteLength,
      read: async () => dequantizeGgml(type, await src.read(fileOffset, byteLength), count, where),
    });
  }
  return { name: src.name, metadata: parsed.metadata as Record<string, MetadataValue>, tensors };
}
