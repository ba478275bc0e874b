import { Inflate } from 'fflate';
import { ShrinkrayError } from '../errors.ts';

/**
 * Reads a zip from a Blob without loading it: the central directory at the end gives each
 * entry's offset and sizes, and an entry streams out slice by slice (Blob.slice), inflated
 * by fflate when it is deflated. fflate's own unzip wants the whole archive in memory and
 * its streaming Unzip cannot find the end of a stored entry written with a data descriptor
 * (which streaming writers, fflate's Zip included, produce), so the directory is read here.
 * No zip64: entries and archives stay under 4 GiB.
 */
export interface ZipEntry {
  path: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  headerOffset: number;
}

const EOCD_SIG = 0x06054b50; // end of central directory
const CDH_SIG = 0x02014b50; // central directory file header
const LFH_SIG = 0x04034b50; // local file header
const SLICE = 8 * 1024 * 1024;

async function bytesAt(blob: Blob, offset: number, length: number): Promise<DataView> {
  return new DataView(await blob.slice(offset, offset + length).arrayBuffer());
}

/** The entries of a zip (directories left out), from its central directory. */
export async function readZipDirectory(blob: Blob, name: string): Promise<ZipEntry[]> {
  const bad = (why: string) => new ShrinkrayError('bad_file', `${name}: not a readable zip (${why})`);
  // The end record is 22 bytes plus a comment of up to 65535.
  const tailLength = Math.min(blob.size, 22 + 65535);
  const tail = await bytesAt(blob, blob.size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tail.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no end-of-directory record');
  const count = tail.getUint16(eocd + 10, true);
  const dirSize = tail.getUint32(eocd + 12, true);
  const dirOffset = tail.getUint32(eocd + 16, true);
  if (count === 0xffff || dirOffset === 0xffffffff) throw bad('zip64 archives are not supported');
  if (dirOffset + dirSize > blob.size) throw bad('the directory lies past the end of the file');
  const dir = await bytesAt(blob, dirOffset, dirSize);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > dirSize || dir.getUint32(at, true) !== CDH_SIG) throw bad(`directory entry ${i + 1} is damaged`);
    const method = dir.getUint16(at + 10, true);
    const compressedSize = dir.getUint32(at + 20, true);
    const size = dir.getUint32(at + 24, true);
    const nameLength = dir.getUint16(at + 28, true);
    const extraLength = dir.getUint16(at + 30, true);
    const commentLength = dir.getUint16(at + 32, true);
    const headerOffset = dir.getUint32(at + 42, true);
    const path = new TextDecoder().decode(new Uint8Array(dir.buffer, at + 46, nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if (path.endsWith('/')) continue;
    if (method !== 0 && method !== 8) throw bad(`${path} uses compression method ${method}; only stored and deflate are read`);
    entries.push({ path, method, compressedSize, size, headerOffset });
  }
  return entries;
}

/** The bytes of one entry, in pieces of at most a few MiB, inflated when needed; checks the size. */
export async function* zipEntryPieces(blob: Blob, entry: ZipEntry, name: string): AsyncGenerator<Uint8Array> {
  const header = await bytesAt(blob, entry.headerOffset, 30);
  if (header.getUint32(0, true) !== LFH_SIG) throw new ShrinkrayError('bad_file', `${name}: ${entry.path}: its local header is damaged`);
  const start = entry.headerOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  if (start + entry.compressedSize > blob.size)
    throw new ShrinkrayError('bad_file', `${name}: ${entry.path}: truncated (the archive ends inside it)`);
  let produced = 0;
  const out: Uint8Array[] = [];
  const inflate = entry.method === 8 ? new Inflate((chunk) => out.push(chunk)) : undefined;
  for (let at = 0; at < entry.compressedSize; at += SLICE) {
    const n = Math.min(SLICE, entry.compressedSize - at);
    const raw = new Uint8Array(await blob.slice(start + at, start + at + n).arrayBuffer());
    if (!inflate) out.push(raw);
    else {
      try {
        inflate.push(raw, at + n >= entry.compressedSize);
      } catch (e) {
        throw new ShrinkrayError('bad_file', `${name}: ${entry.path}: the compressed data is damaged (${(e as Error).message})`);
      }
    }
    while (out.length > 0) {
      const piece = out.shift()!;
      produced += piece.byteLength;
      yield piece;
    }
  }
  if (produced !== entry.size) {
    throw new ShrinkrayError('bad_file', `${name}: ${entry.path}: ${produced} bytes inside, the directory says ${entry.size}`);
  }
}
