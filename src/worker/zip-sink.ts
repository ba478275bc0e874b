import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { ShrinkrayError } from '../errors.ts';
import type { ByteSource } from '../formats/byte-source.ts';
import type { CompressedFolderSink } from '../jobs/write-compressed-folder.ts';

/**
 * A folder written into a zip in memory (a model's zip export, an exported demo site):
 * binary files stored as they are (packed integers and wasm barely deflate, and stored
 * entries import back by slicing), the files `deflate` names deflated. Parts are folded into Blobs every
 * 64 MiB, which the browser may keep on disk rather than in this heap.
 */
const PIECE = 8 * 1024 * 1024;
const FOLD_BYTES = 64 * 1024 * 1024;

// fflate's Zip has no zip64: the local and central headers hold 32-bit sizes.
const MAX_ZIP_BYTES = 2 ** 32 - 1;

/** Refuses a stored model whose files (`bytes` in all) would not fit a zip without zip64. */
export function checkZipSize(modelId: string, bytes: number): void {
  if (bytes > MAX_ZIP_BYTES) {
    throw new ShrinkrayError('bad_argument', `model '${modelId}' is ${bytes} bytes; zips over 4 GiB (zip64) are not supported`);
  }
}

export interface ZipSinkOptions {
  /** Which files are deflated (default: .json only, as a model's zip has always been written). */
  deflate?: (path: string) => boolean;
  /** Called before each piece of a copied file is read: throws to stop (a cancelled export). */
  beforePiece?: () => void;
  /** Each piece of a copied file, once zipped. */
  onBytes?: (n: number, path: string) => void;
}

export interface ZipSink extends CompressedFolderSink {
  /** Ends the zip and returns it; the sink takes no more files. */
  finish(): Blob;
}

export function zipSink(o: ZipSinkOptions = {}): ZipSink {
  const deflate = o.deflate ?? ((path: string) => path.endsWith('.json'));
  const blobs: Blob[] = [];
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  const fold = () => {
    blobs.push(new Blob(parts as BlobPart[]));
    parts = [];
    partBytes = 0;
  };
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) return void (failure = err);
    parts.push(chunk);
    partBytes += chunk.byteLength;
    if (partBytes >= FOLD_BYTES) fold();
  });
  const check = (path: string) => {
    if (failure) throw new ShrinkrayError('runtime_error', `zipping ${path} failed: ${failure.message}`);
  };
  const entry = (path: string) => {
    const e = deflate(path) ? new ZipDeflate(path, { level: 6 }) : new ZipPassThrough(path);
    zip.add(e);
    return e;
  };
  return {
    async write(path, content) {
      const pieces = content instanceof Uint8Array ? [content] : content;
      const e = entry(path);
      if (pieces.length === 0) e.push(new Uint8Array(0), true);
      pieces.forEach((p, i) => e.push(p, i === pieces.length - 1));
      check(path);
    },
    async copy(path, src: ByteSource) {
      const e = entry(path);
      if (src.size === 0) e.push(new Uint8Array(0), true);
      for (let at = 0; at < src.size; at += PIECE) {
        o.beforePiece?.();
        const n = Math.min(PIECE, src.size - at);
        e.push(await src.read(at, n), at + n >= src.size);
        o.onBytes?.(n, path);
      }
      check(path);
    },
    finish() {
      zip.end();
      fold();
      return new Blob(blobs, { type: 'application/zip' });
    },
  };
}
