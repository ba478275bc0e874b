import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { exportSite } from '../jobs/export-site.ts';
import { diskFolderSink } from '../node/disk-folder-sink.ts';
import { folderOpener } from '../node/folder-opener.ts';
import { fsError } from '../node/fs-errors.ts';
import { withOutputFolder } from '../node/output-folder.ts';
import { ensureSiteRuntime, readSiteRuntime } from '../node/site-build.ts';
import { requireOption, requirePositional, type ParsedArgs } from './args.ts';

/**
 * `shrinkray export-site <compressedDir> --out <dir> [--title <name>] [--webgpu] [--force]`: a static demo
 * site (src/jobs/export-site.ts) that chats with the compressed model in any browser, offline
 * after its first visit; with --webgpu it carries onnxruntime-web and runs on the visitor's GPU where there is one. The site runtime is built on first use (src/node/site-build.ts). The
 * last stdout line is JSON: {"out","files","modelBytes","runtimeBytes"}.
 */
export async function runExportSite(args: ParsedArgs): Promise<void> {
  const src = requirePositional(args, 0, 'the compressed model folder: shrinkray export-site <compressedDir> --out <dir>');
  const out = requireOption(args, 'out');
  const info = await stat(src).catch((e: NodeJS.ErrnoException) => {
    throw fsError(e, src, 'the model folder');
  });
  if (!info.isDirectory()) throw new ShrinkrayError('bad_argument', `${src} is not a folder (export-site takes a compressed model folder)`);
  const webgpu = args.flags.has('webgpu');
  const runtime = readSiteRuntime(await ensureSiteRuntime((line) => process.stderr.write(`${line}\n`), webgpu ? 'webgpu' : 'cpu'));
  const files = await listFiles(src);
  const title = args.options.get('title') ?? basename(resolve(src));
  await withOutputFolder(out, { sources: [src], force: args.flags.has('force') }, async (dir) => {
    const site = await exportSite({ where: src, files, open: folderOpener(src).open, title }, runtime, diskFolderSink(dir), { webgpu });
    const modelBytes = site.modelFiles.reduce((s, f) => s + f.size, 0);
    const runtimeBytes = runtime.reduce((s, f) => s + f.bytes.byteLength, 0);
    process.stdout.write(`${JSON.stringify({ out, files: runtime.length + 2 + site.modelFiles.length, modelBytes, runtimeBytes })}\n`);
  });
}

/** Every regular file under `dir`, '/'-separated, with its size (links and hidden files left out). */
async function listFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const files: { path: string; size: number }[] = [];
  const walk = async (at: string) => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push({ path: relative(dir, path).split(sep).join('/'), size: (await stat(path)).size });
    }
  };
  await walk(dir);
  return files;
}
