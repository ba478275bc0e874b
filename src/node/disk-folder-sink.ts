import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ByteSource } from '../formats/byte-source.ts';
import type { CompressedFolderSink } from '../jobs/write-compressed-folder.ts';
import { fsError } from './fs-errors.ts';

// Copies read this much of a source file at a time, so a large carried file is never held whole.
const COPY_PIECE = 8 * 1024 * 1024;

/**
 * The disk side of writeCompressedFolder: each file written under `dir` (the CLI's temporary
 * output folder, output-folder.ts), creating its subfolders; failures name the file.
 */
export function diskFolderSink(dir: string): CompressedFolderSink {
  const withFile = async (path: string, body: (file: FileHandle) => Promise<void>): Promise<void> => {
    const full = join(dir, ...path.split('/'));
    try {
      await mkdir(dirname(full), { recursive: true });
      const file = await open(full, 'w');
      try {
        await body(file);
      } finally {
        await file.close();
      }
    } catch (e) {
      throw fsError(e, full, 'writing');
    }
  };
  return {
    write: (path, content) =>
      withFile(path, async (file) => {
        for (const chunk of content instanceof Uint8Array ? [content] : content) await file.write(chunk);
      }),
    copy: (path, src: ByteSource) =>
      withFile(path, async (file) => {
        for (let at = 0; at < src.size; at += COPY_PIECE) await file.write(await src.read(at, Math.min(COPY_PIECE, src.size - at)));
      }),
  };
}
