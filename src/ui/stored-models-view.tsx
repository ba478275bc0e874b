import { useEffect } from 'preact/hooks';
import type { StoredModelInfo } from '../worker/client.ts';
import { exactBytes, formatBytes, formatDate, percent } from './format.ts';
import { JobView } from './job-view.tsx';
import { isRunning } from './jobs.ts';
import { importFiles } from './local-card.tsx';
import { exportDemoSite, exportModel } from './model-actions.ts';
import { ReportView } from './report-view.tsx';
import { CopyLink } from './share-link.tsx';
import {
  chatModelId,
  chooseSource,
  compressor,
  isSourceModel,
  modelName,
  models,
  refreshModels,
  reportId,
  showTab,
  storeError,
  usage,
} from './state.ts';
import { inputFiles } from './dropped-files.ts';
import { askPersistence, persistence, readPersistence, type PersistenceState } from './persistence.ts';

/**
 * The stored models: where each came from, its recipe, size and date; storage used against
 * the quota and whether it is persistent (with a button to ask for it); delete, export as zip, import a zip back.
 */
function sourceText(m: StoredModelInfo): string {
  const s = m.source;
  if (s.kind === 'hub') return `hub: ${s.repo} (${s.baseUrl})`;
  if (s.kind === 'demo') return 'bundled demo';
  if (s.kind === 'local') return 'files from disk';
  if (s.kind === 'url') return `fetched from ${s.url}`;
  return `compressed from ${modelName(s.from)}`;
}

async function remove(m: StoredModelInfo): Promise<void> {
  if (!confirm(`Delete ${modelName(m.id)} (${formatBytes(m.bytes)}) from this browser?`)) return;
  await compressor.delete(m.id);
  if (reportId.value === m.id) reportId.value = null;
  if (chatModelId.value === m.id) chatModelId.value = null;
  await refreshModels();
}

function Usage() {
  const u = usage.value;
  if (!u) return <p class="muted">Reading storage use…</p>;
  const used = u.usage ?? u.modelBytes + u.stagedBytes;
  return (
    <div class="usage">
      <p>
        Models take{' '}
        <strong data-testid="model-bytes" title={exactBytes(u.modelBytes)}>
          {formatBytes(u.modelBytes)}
        </strong>
        {u.stagedBytes > 0 && (
          <>
            {' '}
            and unfinished downloads <span data-testid="staged-bytes">{formatBytes(u.stagedBytes)}</span>
          </>
        )}
        {u.quota !== undefined && (
          <>
            ; this site uses {formatBytes(used)} of a {formatBytes(u.quota)} quota
          </>
        )}
        .
      </p>
      {u.quota !== undefined && <progress max={100} value={percent(used, u.quota)} aria-label="Storage used of the quota" />}
      <Persistence />
    </div>
  );
}

const PERSISTENCE_TEXT: Record<PersistenceState, string> = {
  granted: 'Storage is persistent (granted): the browser will not evict the models.',
  denied: 'Storage is not persistent (not granted): the browser may evict the models when the disk fills.',
  asking:
    'Persistent storage was asked for; the browser has not answered yet (Firefox shows a prompt). Until it is granted, the browser may evict the models when the disk fills.',
  'not-asked': 'Persistent storage was not asked for yet: the browser may evict the models when the disk fills.',
  unsupported: 'This browser cannot make storage persistent: it may evict the models when the disk fills.',
};

/** Where the persistent-storage request stands, with a button to ask (again); never waits on the answer. */
function Persistence() {
  const state = persistence.value;
  useEffect(() => void readPersistence(), []);
  return (
    <div class="row wrap persistence">
      <p class="small" data-testid="persistence" data-state={state}>
        {PERSISTENCE_TEXT[state]}
      </p>
      {state !== 'granted' && models.value.length > 0 && (
        <p class="small warn" role="note" data-testid="eviction-warning">
          Unpinned storage can be evicted: Safari deletes a site&rsquo;s storage after 7 days without a visit unless Shrinkray is added to
          the Home Screen, and every browser may evict it when the disk fills. Export the models you want to keep as a zip.
        </p>
      )}
      {state !== 'granted' && state !== 'unsupported' && (
        <button type="button" class="secondary" onClick={() => askPersistence({ again: true, onAnswer: () => void refreshModels() })}>
          {state === 'not-asked' ? 'Ask for persistent storage' : 'Ask again'}
        </button>
      )}
    </div>
  );
}

function ModelRow({ m }: { m: StoredModelInfo }) {
  const compressed = m.source.kind === 'compressed';
  return (
    <li class="model-row">
      <div class="model-main">
        <strong>{modelName(m.id)}</strong>
        <span class="muted small">
          {sourceText(m)}
          {m.recipe ? ` · recipe ${m.recipe}` : ''} · {formatDate(m.createdAt)}
        </span>
      </div>
      <span class="num" title={exactBytes(m.bytes)}>
        {formatBytes(m.bytes)}
      </span>
      <div class="row wrap actions">
        {isSourceModel(m) && (
          <button type="button" onClick={() => void chooseSource(m.id)}>
            Shrink
          </button>
        )}
        <button
          type="button"
          onClick={() => {
            chatModelId.value = m.id;
            showTab('chat');
          }}
        >
          Chat
        </button>
        {compressed && (
          <button
            type="button"
            aria-pressed={reportId.value === m.id}
            onClick={() => (reportId.value = reportId.value === m.id ? null : m.id)}
          >
            Report
          </button>
        )}
        {compressed && (
          <button type="button" disabled={isRunning('export')} onClick={() => void exportModel(m)}>
            Export zip
          </button>
        )}
        {compressed && (
          <button type="button" disabled={isRunning('export')} onClick={() => void exportDemoSite(m)}>
            Export site
          </button>
        )}
        <CopyLink m={m} name={modelName(m.id)} />
        <button type="button" class="danger" onClick={() => void remove(m)} aria-label={`Delete ${modelName(m.id)}`}>
          Delete
        </button>
      </div>
      <details class="files-detail">
        <summary>{m.files.length} files</summary>
        <table class="files">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col" class="num">
                Bytes
              </th>
            </tr>
          </thead>
          <tbody>
            {m.files.map((f) => (
              <tr key={f.path}>
                <td>{f.path}</td>
                <td class="num">{f.size.toLocaleString('en-US')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </li>
  );
}

export function StoredModelsView() {
  const list = models.value;
  const report = list.find((m) => m.id === reportId.value && m.source.kind === 'compressed');
  return (
    <section aria-labelledby="models-heading" class="screen">
      <h2 id="models-heading" tabIndex={-1}>
        Stored models
      </h2>
      <div class="card">
        <Usage />
        {storeError.value && (
          <p class="notice error" role="alert">
            {storeError.value}
          </p>
        )}
        {list.length === 0 ? (
          <div class="empty">
            <p>Nothing is stored yet. Models you download, import or compress appear here, and stay available offline.</p>
            <button type="button" onClick={() => showTab('model')}>
              Choose a model
            </button>
          </div>
        ) : (
          <ul class="model-list" aria-label="Stored models">
            {list.map((m) => (
              <ModelRow key={m.id} m={m} />
            ))}
          </ul>
        )}
        <div class="row wrap">
          <label class="file-button">
            <span>Import a zip…</span>
            <input
              type="file"
              accept=".zip,application/zip"
              disabled={isRunning('import')}
              onChange={(e) => {
                void importFiles(inputFiles(e.currentTarget.files));
                e.currentTarget.value = '';
              }}
            />
          </label>
        </div>
        <JobView kind="import" />
        {!report && <JobView kind="export" />}
      </div>
      {report && <ReportView info={report} />}
    </section>
  );
}
