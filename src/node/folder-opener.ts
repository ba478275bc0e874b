import { join } from 'node:path';
import type { ShrinkrayError } from '../errors.ts';
import type { ByteSource, DisplayName, OpenModelFile } from '../formats/byte-source.ts';
import { fileSource } from './file-source.ts';

/**
 * A model folder on disk as the loaders see any model: files opened by their '/'-separated
 * paths (absent ones are undefined) and named in messages by their full path.
 */
export function folderOpener(dir: string): { open: OpenModelFile; display: DisplayName } {
  const display = (path: string) => join(dir, ...path.split('/'));
  const open = async (path: string): Promise<ByteSource | undefined> => {
    try {
      return await fileSource(display(path));
    } catch (e) {
      if ((e as ShrinkrayError).code === 'missing_file') return undefined;
      throw e;
    }
  };
  return { open, display };
}
