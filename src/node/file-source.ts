import { open, stat } from 'node:fs/promises';
import { ShrinkrayError } from '../errors.ts';
import { checkRange, type ByteSource } from '../formats/byte-source.ts';
import { fsError, notAFile } from './fs-errors.ts';

/**
 * A ByteSource over a file on disk. Each read opens the file, reads its range and closes
 * it again, so a lazily read model holds no file descriptors between reads and the whole
 * file is never loaded.
 */
export async function fileSource(path: string): Promise<ByteSource> {
  let size: number;
  try {
    const info = await stat(path);
    // A device (/dev/zero), pipe or socket never ends or cannot be read at an offset; a folder is not a file.
    const kind = notAFile(info);
    if (kind)
      throw new ShrinkrayError(
        'bad_file',
        `${path}: ${kind === 'a folder' ? 'is a folder' : `not a regular file (${kind})`}, where a model file belongs`,
      );
    size = info.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ShrinkrayError('missing_file', `${path}: no such file`, { cause: e });
    throw fsError(e, path, 'the model file', 'bad_file');
  }
  return {
    name: path,
    size,
    async read(offset, length) {
      checkRange(path, size, offset, length);
      const out = new Uint8Array(length);
      const handle = await open(path, 'r').catch((e: unknown) => {
        throw fsError(e, path, 'the model file', 'bad_file');
      });
      try {
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, done, length - done, offset + done);
          if (bytesRead === 0)
            throw new ShrinkrayError('bad_file', `${path}: file shrank while reading (wanted ${length} bytes at ${offset})`);
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
      return out;
    },
  };
}
