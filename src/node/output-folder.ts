import { existsSync, renameSync, rmSync } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { isShrinkrayError, ShrinkrayError } from '../errors.ts';
import { cleanUpOnSignal } from './exit-cleanup.ts';
import { fsError } from './fs-errors.ts';

/**
 * Where a CLI verb writes its folder (--out), so that nothing is destroyed on the way:
 * - the real path of --out (symlinks resolved) may be neither a source nor a folder that
 *   holds one, so `--out` through a symlink to the model being read is refused;
 * - a non-empty --out is refused unless --force, which replaces it (never merges: a stale
 *   onnx/ graph from an earlier run would otherwise stay beside the new files);
 * - everything is written into a temporary sibling folder, which is renamed into place
 *   only when complete: a failure or an interrupt (a signal too: exit-cleanup.ts) leaves --out
 *   as it was, and nothing beside it.
 */
export interface OutputFolder {
  /** The temporary folder to write into. */
  readonly dir: string;
  /** Moves the finished folder into place (replacing the old one under --force). */
  commit(): Promise<void>;
  /** Removes the temporary folder; --out stays as it was. A no-op after commit. */
  abandon(): Promise<void>;
}

export interface OutputOptions {
  /** Files and folders the verb reads: --out may not be, or contain, any of them. */
  sources: string[];
  force: boolean;
}

export async function openOutputFolder(out: string, o: OutputOptions): Promise<OutputFolder> {
  const target = resolve(out);
  const existing = await lstat(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw fsError(e, out, '--out');
  });
  const info = existing?.isSymbolicLink()
    ? await stat(target).catch((e: NodeJS.ErrnoException) => {
        throw fsError(e, out, '--out');
      })
    : existing;
  if (info && !info.isDirectory()) throw new ShrinkrayError('bad_argument', `--out ${out} is a file, not a folder`);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw fsError(e, parent, '--out');
  });
  // The real path of --out: its own when it exists, else its parent's plus its name.
  const realOut = info ? await realpath(target) : join(await realpath(parent), basename(target));
  for (const source of o.sources) {
    const realSource = await realpath(resolve(source)).catch(() => resolve(source));
    if (isInside(realSource, realOut)) {
      throw new ShrinkrayError(
        'bad_argument',
        realSource === realOut
          ? `--out ${out} is the source ${source} itself${realOut !== target ? ` (through a symlink, to ${realOut})` : ''}`
          : `--out ${out} holds the source ${source}; writing there would destroy it`,
      );
    }
  }
  if (info) {
    const entries = await readdir(target).catch((e: NodeJS.ErrnoException) => {
      throw fsError(e, out, '--out');
    });
    if (entries.length > 0 && !o.force) {
      const shown = entries.slice(0, 4).join(', ') + (entries.length > 4 ? ', ...' : '');
      throw new ShrinkrayError(
        'bad_argument',
        `--out ${out} is not empty (${shown}); choose an empty or new folder, or add --force to replace it`,
      );
    }
  }
  // The temporary name keeps a long --out's name short (a 240-character name plus the suffix would pass NAME_MAX).
  const short = Array.from(basename(target)).slice(0, 48).join('');
  const temp = join(parent, `.${short}.shrinkray-${process.pid}-${Date.now().toString(36)}`);
  const old = `${temp}.old`;
  // Stopped by a signal, the temporary folder goes and an --out that had stepped aside comes back;
  // registered before the folder exists, so no moment is uncovered.
  const withdraw = cleanUpOnSignal(() => {
    rmSync(temp, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(target)) renameSync(old, target);
  });
  await mkdir(temp).catch((e: NodeJS.ErrnoException) => {
    withdraw();
    throw fsError(e, out, '--out');
  });
  let done = false;
  return {
    dir: temp,
    async commit() {
      try {
        if (info) {
          // Renaming onto a non-empty folder fails, so the old one steps aside first, and goes only once the new one is in place.
          await rename(target, old);
          await rename(temp, target);
          await rm(old, { recursive: true, force: true });
        } else {
          await rename(temp, target);
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        // Another run on the same --out got there first (or moved it away): its folder is left as it is.
        if (['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(code)) {
          throw new ShrinkrayError(
            'bad_argument',
            `--out ${out} was written by another run while this one worked; it is left as that run wrote it and this run's result is dropped`,
          );
        }
        throw fsError(e, out, '--out');
      }
      done = true;
      withdraw();
    },
    async abandon() {
      if (!done) await rm(temp, { recursive: true, force: true });
      done = true;
      withdraw();
    },
  };
}

/**
 * Runs `body` on the temporary folder of `out`, commits it on success and removes it on any
 * failure. Errors name --out, never the temporary folder, and a full disk is `quota_exceeded`
 * naming --out, whichever write met it.
 */
export async function withOutputFolder<T>(out: string, o: OutputOptions, body: (dir: string) => Promise<T>): Promise<T> {
  const folder = await openOutputFolder(out, o);
  try {
    const result = await body(folder.dir);
    await folder.commit();
    return result;
  } catch (e) {
    throw namingOut(e, folder.dir, out);
  } finally {
    await folder.abandon();
  }
}

function namingOut(e: unknown, temp: string, out: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return fsError(e, out, '--out');
  if (!isShrinkrayError(e) || !e.message.includes(temp)) return e;
  return new ShrinkrayError(e.code, e.message.split(temp).join(resolve(out)), { cause: e.cause });
}

/** Whether `path` is `folder` or lies inside it (both absolute, symlinks already resolved). */
function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
