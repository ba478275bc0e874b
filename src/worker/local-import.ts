import { ShrinkrayError } from '../errors.ts';
import { HF_SIDE_FILES, MODEL_FILES } from '../formats/model-folder-layout.ts';
import { blobSource, type ByteSource } from '../formats/byte-source.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { ModelStore } from '../store/store-types.ts';
import { splitLlama2cPair, writeLlama2cModel } from './llama2c-store-import.ts';
import { checkExportedModel, checkHfModel } from './model-checks.ts';
import { ModelWriter } from './model-writer.ts';
import { writeModelParts } from './parts-writer.ts';
import type { LocalFile, LocalImportKind, ProgressCallback } from './protocol.ts';
import { readZipDirectory, zipEntryPieces, type ZipEntry } from './zip-reader.ts';

/**
 * Files from disk into the store, whatever the person dropped: a Hugging Face folder, a
 * llama2.c checkpoint with its tokenizer, a GGUF file, or a zip (or unzipped folder) this app exported.
 * Everything is checked before a byte is stored where it can be (headers, config, the
 * tokenizer), files are copied in slices (Blob.slice: a file is never read whole), and the
 * model is committed at once; a failure or a cancel leaves the store as it was.
 */
export interface LocalImportResult {
  manifest: ModelManifest;
  kind: LocalImportKind;
}

/** Strips the folder the picker or the drop put in front of every path ('stories260K/config.json' -> 'config.json'). */
export function normalisePaths(files: LocalFile[]): { files: LocalFile[]; folder?: string } {
  const clean = files.map((f) => ({ ...f, path: f.path.replace(/\\/g, '/').replace(/^\/+/, '') }));
  const first = clean[0]?.path.split('/')[0];
  const shared = first !== undefined && clean.length > 0 && clean.every((f) => f.path.startsWith(`${first}/`));
  if (!shared) return { files: clean };
  return { files: clean.map((f) => ({ ...f, path: f.path.slice(first.length + 1) })), folder: first };
}

/**
 * The name of a Hugging Face model chosen as loose files (no folder around them): the last part of
 * its config's `_name_or_path` where it has one, else "local model"; a name a stored model already
 * has gets " 2", " 3", ...: choosing another model's loose files never replaces one stored before.
 * (A folder's name is kept as it is: choosing the same folder again replaces its copy.)
 */
async function looseFilesName(store: ModelStore, open: (path: string) => Promise<ByteSource | undefined>): Promise<string> {
  const config = (await open(MODEL_FILES.config))!; // checkHfModel has read and checked it
  const parsed: unknown = JSON.parse(new TextDecoder().decode(await config.read(0, config.size)));
  const named = (parsed as { _name_or_path?: unknown })._name_or_path;
  const base = (typeof named === 'string' && named.split(/[\\/]/).filter(Boolean).pop()?.trim()) || 'local model';
  const taken = new Set((await store.listModels()).map((m) => m.id));
  let name = base;
  for (let n = 2; taken.has(`local:${name}`); n++) name = `${base} ${n}`;
  return name;
}

export async function importLocalFiles(
  store: ModelStore,
  given: LocalFile[],
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<LocalImportResult> {
  if (given.length === 0) throw new ShrinkrayError('bad_argument', 'no files were given to import');
  const { files, folder } = normalisePaths(given);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const open = async (path: string): Promise<ByteSource | undefined> => {
    const f = byPath.get(path);
    return f && blobSource(f.file, path);
  };
  const progress = (total: number) => {
    let done = 0;
    return (n: number) => onProgress?.({ stage: 'import', done: (done += n), total: Math.max(total, done) });
  };
  const sizeOf = (paths: string[]) => paths.reduce((s, p) => s + (byPath.get(p)?.file.size ?? 0), 0);

  if (files.length === 1 && /\.zip$/i.test(files[0]!.path)) return importZip(store, files[0]!.file, files[0]!.path, onProgress, signal);

  if (byPath.has(MODEL_FILES.onnxModel) || byPath.has(MODEL_FILES.report)) {
    const { report } = await checkExportedModel(open);
    const paths = [...byPath.keys()];
    const writer = new ModelWriter(store, exportedId(report), signal, progress(sizeOf(paths)));
    return run(writer, 'exported-folder', async () => {
      for (const p of paths) await writer.copy(p, (await open(p))!);
      return exportedManifest(report);
    });
  }

  if (byPath.has(MODEL_FILES.config)) {
    const { weightFiles } = await checkHfModel(open);
    const paths = [...HF_SIDE_FILES.filter((p) => byPath.has(p)), ...weightFiles];
    const name = folder ?? (await looseFilesName(store, open));
    const writer = new ModelWriter(store, `local:${name}`, signal, progress(sizeOf(paths)));
    return run(writer, 'hf-folder', async () => {
      for (const p of paths) await writer.copy(p, (await open(p))!);
      return { source: { kind: 'local', name } };
    });
  }

  const ggufs = files.filter((f) => /\.gguf$/i.test(f.path));
  if (ggufs.length > 0) {
    if (ggufs.length > 1) {
      throw new ShrinkrayError('bad_argument', `one GGUF file at a time, please: got ${ggufs.map((f) => f.path).join(', ')}`);
    }
    const gguf = ggufs[0]!;
    // Everything is parsed and checked (header, types, shapes, tokenizer) before a byte is stored.
    // Loaded on demand: the GGUF parser brings @huggingface/tasks' tables (~240 KB) the other imports never need.
    const { importGguf } = await import('../model/import-gguf.ts');
    const parts = await importGguf(blobSource(gguf.file, gguf.path));
    const name = gguf.path.split('/').pop()!;
    // Progress counts bytes written: the fp32 safetensors file, larger than a quantized GGUF.
    const total = [...parts.ir.tensors.values()].reduce((s, t) => s + t.byteLength, 0);
    const writer = new ModelWriter(store, `local:${name}`, signal, progress(total));
    return run(writer, 'gguf', async () => {
      await writeModelParts(writer, parts);
      return { source: { kind: 'local', name } };
    });
  }

  const bins = files.filter((f) => /\.bin$/i.test(f.path));
  if (bins.length > 0) {
    const pair = splitLlama2cPair(bins);
    // The file name with its .bin, so it does not replace a folder of the same name.
    const name = pair.checkpoint.path.split('/').pop()!;
    // The safetensors file is about the checkpoint's size (both hold the fp32 weights).
    const writer = new ModelWriter(store, `local:${name}`, signal, progress(pair.checkpoint.file.size));
    return run(writer, 'llama2c', async () => {
      await writeLlama2cModel(writer, pair);
      return { source: { kind: 'local', name } };
    });
  }
  const names = files
    .slice(0, 8)
    .map((f) => f.path)
    .join(', ');
  throw new ShrinkrayError(
    'missing_file',
    `nothing to import in ${names}${files.length > 8 ? ', …' : ''}: expected a Hugging Face folder (config.json, model.safetensors or shards with their index, tokenizer.json), a llama2.c checkpoint with its tokenizer .bin, a .gguf file, or a zip exported by Shrinkray`,
  );
}

/** Writes with `body`, then commits; any failure discards what was staged. */
async function run(
  writer: ModelWriter,
  kind: LocalImportKind,
  body: () => Promise<Omit<ModelManifest, 'files' | 'id'>>,
): Promise<LocalImportResult> {
  try {
    const manifest = await writer.commit(await body());
    return { manifest, kind };
  } catch (e) {
    await writer.discard();
    throw e;
  }
}

function exportedId(report: Record<string, unknown>): string {
  const from = typeof report.from === 'string' ? report.from : 'imported';
  return `compressed:${from}:${String(report.recipe)}`;
}

function exportedManifest(report: Record<string, unknown>): Omit<ModelManifest, 'files' | 'id'> {
  const from = typeof report.from === 'string' ? report.from : 'imported';
  return { source: { kind: 'compressed', from }, recipe: String(report.recipe), report };
}

async function importZip(
  store: ModelStore,
  zip: File,
  name: string,
  onProgress?: ProgressCallback,
  signal?: AbortSignal,
): Promise<LocalImportResult> {
  const entries = await readZipDirectory(zip, name);
  for (const e of entries) {
    if (e.path.startsWith('/') || e.path.split('/').includes('..'))
      throw new ShrinkrayError('bad_file', `${name}: entry '${e.path}' is not a relative path`);
  }
  // A zip of the folder (rather than of its contents) has one folder in front of every path.
  const first = entries[0]?.path.split('/')[0] ?? '';
  const prefix = entries.length > 0 && entries.every((e) => e.path.startsWith(`${first}/`)) ? `${first}/` : '';
  const byPath = new Map<string, ZipEntry>(entries.map((e) => [e.path.slice(prefix.length), e]));
  // Small JSON entries are read whole for the checks; the ONNX files only stream into the store.
  const open = async (path: string): Promise<ByteSource | undefined> => {
    const e = byPath.get(path);
    if (!e) return undefined;
    if (!path.endsWith('.json')) return { name: path, size: e.size, read: () => Promise.reject(new Error('not read here')) };
    const pieces: Uint8Array[] = [];
    for await (const p of zipEntryPieces(zip, e, name)) pieces.push(p);
    const bytes = new Uint8Array(await new Blob(pieces as BlobPart[]).arrayBuffer());
    return { name: path, size: bytes.byteLength, read: async (o, n) => bytes.subarray(o, o + n) };
  };
  const { report } = await checkExportedModel(open);
  const total = [...byPath.values()].reduce((s, e) => s + e.size, 0);
  let done = 0;
  const writer = new ModelWriter(store, exportedId(report), signal, (n) => onProgress?.({ stage: 'import', done: (done += n), total }));
  return run(writer, 'exported-zip', async () => {
    for (const [path, e] of byPath) await writer.writeStream(path, zipEntryPieces(zip, e, name));
    return exportedManifest(report);
  });
}
