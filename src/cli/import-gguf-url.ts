import { resolve } from 'node:path';
import { isShrinkrayError } from '../errors.ts';
import { openGgufUrl } from '../fetch/gguf-url.ts';
import type { RetryOptions } from '../fetch/http-retry.ts';
import { downloadFile } from '../fetch/ranged-download.ts';
import { importGguf } from '../model/import-gguf.ts';
import type { HfModelParts } from '../model/import-llama2c.ts';
import { fileSource } from '../node/file-source.ts';
import type { ModelIR } from '../model/ir.ts';
import { writeModelFolder } from '../node/model-folder.ts';
import { withOutputFolder } from '../node/output-folder.ts';
import { removePartFile, stagePartFile } from '../node/part-file-sink.ts';

/**
 * `shrinkray import https://…/model.gguf --out <dir>`: the header is parsed and checked by
 * Range requests (architecture, tensor types and shapes, the tokenizer) before any weight
 * byte moves; then the file comes down by ranged GETs into `<dir>.part.gguf` (resumed by the
 * next run after an interruption, retried within a run after a cut connection), the tensors are
 * read from it one at a time, and the part file is removed once the folder is written, or when
 * the disk fills. The part file is only ever a regular file of our own (part-file-sink.ts).
 */
export async function importGgufUrl(
  url: string,
  out: string,
  o: RetryOptions = {},
): Promise<{ parts: HfModelParts; done: () => Promise<void> }> {
  const remote = await openGgufUrl(url, o);
  await importGguf(remote.source);
  const partPath = `${resolve(out)}.part.gguf`;
  let lastTenth = -1;
  let sink: Awaited<ReturnType<typeof stagePartFile>> | undefined;
  const file = await downloadFile({
    ...o,
    headers: remote.headers,
    url: remote.url,
    name: remote.name,
    expectedSize: remote.source.size,
    stage: async (request) => (sink = await stagePartFile(partPath, request)),
    onProgress: (p) => {
      const tenth = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 0;
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      // remote.name is escaped (gguf-url.ts): a URL's %1b or %0a never reaches the terminal as such.
      console.error(`downloading ${remote.name}: ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} bytes`);
    },
  }).catch(async (e: unknown) => {
    await sink?.release(); // the handle, not the bytes: the next run resumes them
    // A full disk: the part file would only keep filling it; the next run starts over.
    if (isShrinkrayError(e) && e.code === 'quota_exceeded') await removePartFile(partPath);
    throw e;
  });
  // Errors name the remote file, not the part file.
  const local = await fileSource(file.path);
  const parts = await importGguf({ name: remote.name, size: local.size, read: (offset, length) => local.read(offset, length) });
  return { parts, done: () => removePartFile(partPath) };
}

/**
 * The whole URL import of the CLI: the folder written through --out's temporary folder
 * (output-folder.ts), the part file removed once the folder is in place.
 */
export async function importGgufUrlFolder(
  url: string,
  out: string,
  o: RetryOptions & { force: boolean },
): Promise<{ ir: ModelIR; bytes: number }> {
  let done = async () => {};
  const result = await withOutputFolder(out, { sources: [], force: o.force }, async (dir) => {
    const imported = await importGgufUrl(url, out, o);
    done = imported.done;
    return { ir: imported.parts.ir, bytes: (await writeModelFolder(dir, imported.parts)).bytes };
  });
  await done();
  return result;
}
