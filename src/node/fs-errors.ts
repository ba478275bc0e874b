import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
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
    EDQUOT: ['quota_exceeded', 'cannot be written: the disk quota is used up'],
    EROFS: [wrongKind, 'is on a read-only file system'],
    EEXIST: [wrongKind, 'already exists'],
  };
  const [kind, text] = why[code ?? ''] ?? ['runtime_error', `failed (${code ?? (e instanceof Error ? e.message : String(e))})`];
  return new ShrinkrayError(kind, `${what} ${path} ${text}`, { cause: e });
}

/**
 * What a path that is not a regular file is, for a message; undefined for a regular file. The
 * one check before any file we read is opened: opening a named pipe blocks until a writer comes,
 * and a device such as /dev/zero never ends.
 */
export function notAFile(info: Stats): string | undefined {
  if (info.isFile()) return undefined;
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a named pipe';
  if (info.isSocket()) return 'a socket';
  return 'a device';
}

// Opening never waits on a pipe swapped in after the check (O_NONBLOCK is a no-op for regular files; absent on Windows).
export const OPEN_NO_WAIT = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Opens a file a user named once it is a regular file of at most `maxBytes`: checked before it is opened, and again on the handle. */
export async function openUserFile(path: string, what: string, maxBytes: number): Promise<FileHandle> {
  const check = (info: Stats) => {
    const kind = notAFile(info);
    if (kind) throw new ShrinkrayError('bad_argument', `${what} ${path} is ${kind}, not a file`);
    if (info.size > maxBytes)
      throw new ShrinkrayError('bad_argument', `${what} ${path} has ${info.size} bytes, above the ${maxBytes} it may have`);
  };
  check(await stat(path));
  const handle = await open(path, OPEN_NO_WAIT);
  try {
    check(await handle.stat());
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

/**
 * A whole file a user named (--tokenizer, --text, --calib), read only when it is a regular file
 * of at most `maxBytes`: checked before it is opened, and again on the open handle.
 */
export async function readUserFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await openUserFile(path, what, maxBytes);
    return await handle.readFile();
  } catch (e) {
    throw fsError(e, path, what);
  } finally {
    await handle?.close();
  }
}
