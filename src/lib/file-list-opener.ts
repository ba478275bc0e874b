import { blobSource, type OpenModelFile } from '../formats/byte-source.ts';
import { normalisePaths } from '../worker/local-import.ts';
import type { LocalFile } from '../worker/protocol.ts';
import type { FolderOpener } from './url-folder-opener.ts';

/**
 * A model folder the user picked (an <input webkitdirectory>, a drop): its files by their paths
 * in the folder, read in slices where they lie (a File is never read whole up front).
 */

export function fileListOpener(files: LocalFile[]): FolderOpener {
  const { files: clean, folder } = normalisePaths(files);
  const byPath = new Map(clean.map((f) => [f.path, f.file]));
  const where = folder ? `the picked folder '${folder}'` : `the picked files (${clean.map((f) => f.path).join(', ')})`;
  const display = (path: string) => (folder ? `${folder}/${path}` : path);
  const open: OpenModelFile = async (path) => {
    const file = byPath.get(path);
    return file ? blobSource(file, display(path)) : undefined;
  };
  return { open, display, where };
}
