import { lstat, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { fsError } from './fs-errors.ts';

/**
 * Where a CLI verb writes its folder (--out), so that nothing is destroyed on the way:
 * - the real path of --out (symlinks resolved) may be neither a source nor a folder that
 *   holds one, so `--out` through a symlink to the model being read is refused;
 * - a non-empty --out is refused unless --force, which replaces it (never merges: a stale
 *   onnx/ graph from an earlier run would otherwise stay beside the new files);
 * - everything is written into a temporary sibling folder, which is renamed into place
 *   only when complete: a failure or an interrupt leaves --out as it was.
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
  const temp = join(parent, `.${basename(target)}.shrinkray-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(temp).catch((e: NodeJS.ErrnoException) => {
    throw fsError(e, temp, '--out');
  });
  let done = false;
  return {
    dir: temp,
    async commit() {
      if (info) {
        // Renaming onto a non-empty folder fails, so the old one steps aside first, and goes only once the new one is in place.
        const old = `${temp}.old`;
        await rename(target, old);
        await rename(temp, target);
        await rm(old, { recursive: true, force: true });
      } else {
        await rename(temp, target);
      }
      done = true;
    },
    async abandon() {
      if (!done) await rm(temp, { recursive: true, force: true });
      done = true;
    },
  };
}

/** Whether `path` is `folder` or lies inside it (both absolute, symlinks already resolved). */
function isInside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
