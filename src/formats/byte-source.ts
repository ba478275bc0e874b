import { ShrinkrayError } from '../errors.ts';

/**
 * Random access to the bytes of one file, wherever it lives (memory, a Blob from a file
 * picker or IndexedDB, a Node file handle). Readers pull only the ranges they need, so a
 * multi-gigabyte model is never held whole in memory.
 */
export interface ByteSource {
  /** The file name, used in every error message about this source. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; a range past the end throws 'bad_file'. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Throws 'bad_file' unless [offset, offset+length) lies inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ShrinkrayError('bad_file', `${name}: invalid read of ${length} bytes at offset ${offset}`);
  }
  if (offset + length > size) {
    throw new ShrinkrayError(
      'bad_file',
      `${name}: truncated: needed bytes ${offset}..${offset + length} but the file has only ${size} bytes`,
    );
  }
}

/** A source over bytes already in memory; reads are views, not copies. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A source over a Blob (a File from a picker, or a blob stored in IndexedDB). */
export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

/** Opens one file of a model by its path in the folder ('/'-separated); undefined when the model has no such file. */
export type OpenModelFile = (path: string) => Promise<ByteSource | undefined>;

/** How messages name a file of the model (a full path in Node, the path in the folder elsewhere). */
export type DisplayName = (path: string) => string;
