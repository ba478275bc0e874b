import { open } from 'node:fs/promises';
import { ShrinkrayError, isShrinkrayError, type ShrinkrayErrorCode } from '../errors.ts';

/**
 * File-system failures as ShrinkrayErrors naming the path and what it was for, so the CLI
 * prints one line (never a stack) for a folder where a file belongs, a missing file, a
 * full disk or a permission. `wrongKind` is the code for a path that exists but is not
 * what it should be: 'bad_argument' for what a user named, 'bad_file' for a model's files.
 */
export function fsError(e: unknown, path: string, what: string, wrongKind: ShrinkrayErrorCode = 'bad_argument'): ShrinkrayError {
  if (isShrinkrayError(e)) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const why: Record<string, [ShrinkrayErrorCode, string]> = {
    ENOENT: ['missing_file', 'does not exist'],
    EISDIR: [wrongKind, 'is a folder, not a file'],
    ENOTDIR: [wrongKind, 'has a file where a folder belongs on its path'],
    EACCES: [wrongKind, 'is not readable or writable here (permission denied)'],
    EPERM: [wrongKind, 'may not be changed here (operation not permitted)'],
    ELOOP: [wrongKind, 'is a loop of symbolic links'],
    ENAMETOOLONG: [wrongKind, 'is too long a name'],
    ENOSPC: ['quota_exceeded', 'cannot be written: the disk is full'],
    EROFS: [wrongKind, 'is on a read-only file system'],
    EEXIST: [wrongKind, 'already exists'],
  };
  const [kind, text] = why[code ?? ''] ?? ['runtime_error', `failed (${code ?? (e instanceof Error ? e.message : String(e))})`];
  return new ShrinkrayError(kind, `${what} ${path} ${text}`, { cause: e });
}

/**
 * A whole file a user named (--tokenizer, --text), read only when it is a regular file of at
 * most `maxBytes`: /dev/zero or a folder would otherwise be read without end or fail with a
 * raw stack.
 */
export async function readUserFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    if (!info.isFile())
      throw new ShrinkrayError('bad_argument', `${what} ${path} is ${info.isDirectory() ? 'a folder' : 'not a regular file'}, not a file`);
    if (info.size > maxBytes)
      throw new ShrinkrayError('bad_argument', `${what} ${path} has ${info.size} bytes, above the ${maxBytes} it may have`);
    return await handle.readFile();
  } catch (e) {
    throw fsError(e, path, what);
  } finally {
    await handle?.close();
  }
}
