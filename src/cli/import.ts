import { copyFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ShrinkrayError } from '../errors.ts';
import { isGgufUrl, shownUrl } from '../fetch/gguf-url.ts';
import type { RetryOptions } from '../fetch/http-retry.ts';
import { DEFAULT_STALL_MS } from '../fetch/stall-watch.ts';
import { printable } from '../formats/printable.ts';
import { importGguf } from '../model/import-gguf.ts';
import { importLlama2c } from '../model/import-llama2c.ts';
import type { ModelIR } from '../model/ir.ts';
import { fileSource } from '../node/file-source.ts';
import { MODEL_FILES } from '../formats/model-folder-layout.ts';
import { fsError, readUserFile } from '../node/fs-errors.ts';
import { loadModelFolder, writeModelFolder } from '../node/model-folder.ts';
import { withOutputFolder } from '../node/output-folder.ts';
import { numberOption, requireOption, requirePositional, usageError, type ParsedArgs } from './args.ts';
import { importGgufUrlFolder } from './import-gguf-url.ts';
import { noteUnusedTensors } from './notes.ts';

// Files of a Hugging Face folder worth carrying along when present (chat templates live here).
const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

function countParams(ir: ModelIR): number {
  let n = 0;
  for (const t of ir.tensors.values()) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

// llama2.c tokenizers are a few hundred KB (32K pieces); this bounds what a wrong --tokenizer makes us read.
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ShrinkrayError('missing_file', `${path}: no such file or folder`);
    throw fsError(e, path, 'the source');
  }
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** A Hugging Face folder: validated (weights against config, tokenizer.json loaded), then copied (shards are merged into one model.safetensors). */
async function importFolder(src: string, out: string): Promise<{ ir: ModelIR; bytes: number }> {
  const model = await loadModelFolder(src);
  noteUnusedTensors(src, model.unusedTensors);
  let bytes = 0;
  const single = join(src, MODEL_FILES.weights);
  const sharded = await stat(join(src, MODEL_FILES.weightIndex)).then(
    () => true,
    () => false,
  );
  if (sharded) {
    const configJson = JSON.parse(await readFile(join(src, MODEL_FILES.config), 'utf8')) as Record<string, unknown>;
    bytes += (await writeModelFolder(out, { ...model }, configJson)).bytes;
  } else {
    for (const name of [MODEL_FILES.config, MODEL_FILES.tokenizer]) await copyFile(join(src, name), join(out, name));
    await copyFile(single, join(out, MODEL_FILES.weights));
    for (const name of [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.weights]) bytes += await fileSize(join(out, name));
  }
  for (const name of OPTIONAL_FILES) {
    const from = join(src, name);
    if (
      !(await stat(from).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      continue;
    await copyFile(from, join(out, name));
    bytes += await fileSize(from);
  }
  return { ir: model.ir, bytes };
}

/** A GGUF file is known by its magic, whatever its name ('GGUF' in the first 4 bytes). */
async function isGguf(path: string): Promise<boolean> {
  const src = await fileSource(path);
  if (src.size < 4) return false;
  const magic = await src.read(0, 4);
  if (magic[0] === 0x50 && magic[1] === 0x4b && (magic[2] === 3 || magic[2] === 5)) await refuseZip(path, src.size);
  return new TextDecoder().decode(magic) === 'GGUF';
}

/**
 * A zip ('PK' 3 4, or 5 6 when empty) is no checkpoint: it would otherwise be taken for
 * llama2.c and asked for --tokenizer. The page's export (a compressed folder with its
 * shrinkray.json) is named as such: its folder is what eval and generate read.
 */
async function refuseZip(path: string, size: number): Promise<never> {
  // The central directory, which names the files, is at the end: its last 64 KB are enough to find shrinkray.json.
  const tail = await (await fileSource(path)).read(Math.max(0, size - 65536), Math.min(size, 65536));
  const ours = Buffer.from(tail).includes('shrinkray.json');
  throw new ShrinkrayError(
    'bad_argument',
    ours
      ? `${path} is a Shrinkray export (a zip holding shrinkray.json): it is already compressed; unzip it and give the folder to shrinkray eval or generate`
      : `${path} is a zip archive, not a model file: unzip it and import the folder (Hugging Face layout) or the file inside`,
  );
}

/**
 * `shrinkray import <ckpt.bin> --tokenizer <tok.bin> --out <dir>`,
 * `shrinkray import <model.gguf> --out <dir>`, `shrinkray import https://…/model.gguf --out <dir>` or
 * `shrinkray import <hfFolder> --out <dir>`: writes a folder in Hugging Face layout.
 * The last stdout line is JSON: {"out","params","bytes"}.
 */
export async function runImport(args: ParsedArgs): Promise<void> {
  const src = requirePositional(
    args,
    0,
    'the source: shrinkray import <ckpt.bin|model.gguf|https://…/model.gguf|hfDir> [--tokenizer tok.bin] --out <dir>',
  );
  const out = requireOption(args, 'out');
  if (isGgufUrl(src)) return runImportGgufUrl(src, out, args);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(src.trim())?.[1];
  if (scheme)
    throw new ShrinkrayError('bad_argument', `${shownUrl(src)}: only http(s) URLs can be imported, not ${printable(scheme, 20)}:`);
  const folder = await isDirectory(src);
  const size = folder ? 0 : (await fileSource(src)).size;
  // Shorter than a llama2.c header (7 int32s) is no model of any kind: not a checkpoint asking for --tokenizer.
  if (!folder && size < 28)
    throw new ShrinkrayError('bad_file', `${src}: ${size} bytes long, too short to be a GGUF file or a llama2.c checkpoint`);
  const gguf = !folder && (await isGguf(src));
  const tokPath = args.options.get('tokenizer');
  if (gguf && tokPath !== undefined)
    throw new ShrinkrayError('bad_argument', `--tokenizer: a GGUF file (${src}) carries its own tokenizer; drop --tokenizer`);
  if (!folder && !gguf && tokPath === undefined)
    throw new ShrinkrayError(
      'bad_argument',
      `missing --tokenizer: a llama2.c checkpoint (${src}) needs its tokenizer file (e.g. tok512.bin)`,
    );
  const sources = [src, ...(tokPath !== undefined ? [tokPath] : [])];
  const result = await withOutputFolder(out, { sources, force: args.flags.has('force') }, async (dir) => {
    if (folder) return importFolder(src, dir);
    if (gguf) {
      const parts = await importGguf(await fileSource(src));
      return { ir: parts.ir, bytes: (await writeModelFolder(dir, parts)).bytes };
    }
    const tokBytes = await readUserFile(tokPath!, '--tokenizer', MAX_TOKENIZER_BYTES);
    const parts = await importLlama2c(await fileSource(src), { bytes: tokBytes, name: tokPath! });
    return { ir: parts.ir, bytes: (await writeModelFolder(dir, parts)).bytes };
  });
  report(src, out, result);
}

/** `shrinkray import https://…/model.gguf --out <dir>` (src/cli/import-gguf-url.ts). */
async function runImportGgufUrl(url: string, out: string, args: ParsedArgs): Promise<void> {
  if (args.options.has('tokenizer'))
    throw usageError(`--tokenizer: a GGUF file (${shownUrl(url)}) carries its own tokenizer; drop --tokenizer`);
  const result = await importGgufUrlFolder(url, out, { force: args.flags.has('force'), ...downloadOptions(args) });
  report(shownUrl(url), out, result);
}

/** `--retries N` and `--stall-timeout SECONDS` of a URL import (http-retry.ts, stall-watch.ts). */
function downloadOptions(args: ParsedArgs): RetryOptions {
  const retries = numberOption(args, 'retries', 5);
  if (!Number.isInteger(retries) || retries < 0 || retries > 100)
    throw usageError(`--retries must be an integer from 0 to 100, got '${args.options.get('retries')}'`);
  const stall = numberOption(args, 'stall-timeout', DEFAULT_STALL_MS / 1000);
  if (!(stall > 0 && stall <= 3600))
    throw usageError(`--stall-timeout must be a number of seconds above 0 and at most 3600, got '${args.options.get('stall-timeout')}'`);
  return { retries, stallMs: stall * 1000 };
}

function report(src: string, out: string, result: { ir: ModelIR; bytes: number }): void {
  const params = countParams(result.ir);
  const c = result.ir.config;
  console.log(
    `imported ${printable(src, 300)} -> ${printable(out, 300)}: ${c.architecture}, ${c.numLayers} layers, dim ${c.hiddenSize}, ${params.toLocaleString('en-US')} parameters, ${result.bytes.toLocaleString('en-US')} bytes`,
  );
  console.log(JSON.stringify({ out, params, bytes: result.bytes }));
}
