import { signal } from '@preact/signals';
import type { LocalFile } from '../worker/client.ts';
import { droppedFiles, inputFiles } from './dropped-files.ts';
import { isRunning, runJob } from './jobs.ts';
import { chooseSource, compressor, modelStored, reportId, showTab } from './state.ts';

/**
 * Models from disk: files, a folder, or a drop. The worker decides what they are (a
 * Hugging Face folder, a llama2.c checkpoint + tokenizer, a zip this app exported), checks
 * them before storing anything, and copies them in slices.
 */
const dragging = signal(false);

const KIND_TEXT = {
  'hf-folder': 'Hugging Face folder',
  llama2c: 'llama2.c checkpoint',
  gguf: 'GGUF file',
  'exported-zip': 'Shrinkray zip',
  'exported-folder': 'Shrinkray folder',
} as const;
export const lastImport = signal<string | null>(null);

export async function importFiles(files: LocalFile[]): Promise<void> {
  if (files.length === 0) return;
  lastImport.value = null;
  const top = files[0]!.path.split('/')[0]!;
  const oneFolder = files.length > 1 && files.every((f) => f.path.startsWith(`${top}/`));
  const title =
    files.length === 1 ? `Importing ${files[0]!.path}` : oneFolder ? `Importing the folder ${top}` : `Importing ${files.length} files`;
  const info = await runJob('import', title, ({ signal, onProgress }) => compressor.importLocal(files, { signal, onProgress }));
  if (!info) return;
  await modelStored();
  lastImport.value = `Stored ${info.id} (${KIND_TEXT[info.importedAs]}).`;
  if (info.importedAs === 'exported-zip' || info.importedAs === 'exported-folder') {
    reportId.value = info.id;
    showTab('models');
  } else {
    await chooseSource(info.id);
  }
}

export function LocalCard() {
  const busy = isRunning('import');
  return (
    <section class="card" aria-labelledby="local-heading">
      <h3 id="local-heading">From your disk</h3>
      <p class="muted small">
        A Hugging Face folder (config.json, model.safetensors or shards with their index, tokenizer.json), a llama2.c checkpoint with its
        tokenizer .bin, a GGUF file (Llama, Qwen2/2.5, Qwen3), or a zip exported by Shrinkray. Nothing leaves this tab.
      </p>
      <div
        class={dragging.value ? 'dropzone over' : 'dropzone'}
        onDragOver={(e) => {
          e.preventDefault();
          dragging.value = true;
        }}
        onDragLeave={() => (dragging.value = false)}
        onDrop={(e) => {
          e.preventDefault();
          dragging.value = false;
          if (e.dataTransfer && !busy) void droppedFiles(e.dataTransfer).then(importFiles);
        }}
      >
        <p>Drop files or a folder here, or</p>
        <div class="row center">
          <label class="file-button">
            <span>Choose files…</span>
            <input
              type="file"
              multiple
              disabled={busy}
              accept=".json,.safetensors,.bin,.gguf,.zip,.jinja,.txt"
              onChange={(e) => {
                void importFiles(inputFiles(e.currentTarget.files));
                e.currentTarget.value = '';
              }}
            />
          </label>
          <label class="file-button">
            <span>Choose a folder…</span>
            <input
              type="file"
              disabled={busy}
              {...{ webkitdirectory: true }}
              onChange={(e) => {
                void importFiles(inputFiles(e.currentTarget.files));
                e.currentTarget.value = '';
              }}
            />
          </label>
        </div>
      </div>
      {lastImport.value && (
        <p class="notice ok" role="status">
          {lastImport.value}
        </p>
      )}
    </section>
  );
}
