import { signal } from '@preact/signals';
import type { HubPreflight } from '../worker/client.ts';
import { exactBytes, formatBytes } from './format.ts';
import { JobView } from './job-view.tsx';
import { isRunning, runJob } from './jobs.ts';
import catalogue from './model-catalogue.json';
import { HubSettings, hubSettingsOpen } from './hub-settings.tsx';
import { tokenFor } from './hub-token.ts';
import { chooseSource, compressor, modelStored, hubUrl } from './state.ts';

/**
 * A model from the Hugging Face hub (or a mirror): a repo id with suggestions, a preflight
 * that lists the files and sizes and says whether they fit before any weight byte is
 * fetched, then a download with progress and cancel that resumes what it had.
 */
export const repoInput = signal('');
const preflight = signal<HubPreflight | null>(null);
const preflightError = signal<string | null>(null);
const checking = signal(false);
const ggufUrl = signal<string | null>(null);

export async function runPreflight(repo = repoInput.value): Promise<void> {
  repoInput.value = repo.trim();
  preflight.value = null;
  preflightError.value = null;
  ggufUrl.value = null;
  // A GGUF file's URL: nothing is fetched until the button below is pressed (a deep link only fills the box).
  if (/^https?:\/\//i.test(repoInput.value)) return void (ggufUrl.value = repoInput.value);
  if (!repoInput.value) return void (preflightError.value = 'Enter a repo id such as HuggingFaceTB/SmolLM2-135M-Instruct.');
  checking.value = true;
  try {
    preflight.value = await compressor.preflight({
      kind: 'hub',
      repo: repoInput.value,
      hubUrl: hubUrl.value,
      token: tokenFor(hubUrl.value),
    });
  } catch (e) {
    preflightError.value = e instanceof Error ? e.message : String(e);
    // A gated repo: show where the token goes.
    if (/\bgated\b/.test(preflightError.value)) hubSettingsOpen.value = true;
  } finally {
    checking.value = false;
  }
}

/** A GGUF file's URL typed in the box: its header is checked by Range requests in the worker, then it downloads (resumable) and converts. */
async function importGgufUrl(url: string): Promise<void> {
  const info = await runJob('download', `Downloading ${url.split('/').pop()}`, ({ signal, onProgress }) =>
    compressor.importGgufUrl(url, { signal, onProgress }),
  );
  await modelStored();
  if (info) {
    ggufUrl.value = null;
    await chooseSource(info.id);
  }
}

function GgufUrl({ url }: { url: string }) {
  return (
    <div class="preflight" aria-live="polite">
      <p>
        A GGUF file: <code>{url}</code>. Its header (architecture, tensor types, tokenizer) is checked by Range requests before any weight
        byte is fetched; then it downloads in resumable parts and converts to fp32, tensor by tensor.
      </p>
      <button type="button" class="primary" disabled={isRunning('download')} onClick={() => void importGgufUrl(url)}>
        Download and import GGUF
      </button>
    </div>
  );
}

async function download(p: HubPreflight): Promise<void> {
  const info = await runJob('download', `Downloading ${p.repo}`, ({ signal, onProgress }) =>
    compressor.download(
      { kind: 'hub', repo: p.repo, revision: p.revision, hubUrl: p.hubUrl, token: tokenFor(p.hubUrl) },
      { signal, onProgress },
    ),
  );
  await modelStored();
  if (info) {
    preflight.value = null;
    await chooseSource(info.id);
  } else {
    // Cancelled or failed: the staged bytes are kept, and the preflight says how much.
    await runPreflight(p.repo);
  }
}

function Preflight({ p }: { p: HubPreflight }) {
  const blocked =
    p.problem ??
    (!p.fits
      ? `It needs ${formatBytes(p.needBytes)} but only ${formatBytes(p.freeBytes)} of storage is free. Delete stored models or free disk space first.`
      : null);
  return (
    <div class="preflight" aria-live="polite">
      <table class="files">
        <caption>
          Files of {p.repo} on {p.hubUrl}
        </caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col" class="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {p.files.map((f) => (
            <tr key={f.path}>
              <td>{f.path}</td>
              <td class="num">{f.size === undefined ? 'unknown' : formatBytes(f.size)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Total</th>
            <td class="num" title={exactBytes(p.totalBytes)}>
              {formatBytes(p.totalBytes)}
            </td>
          </tr>
        </tfoot>
      </table>
      <p>
        {p.stagedBytes > 0 && <>{formatBytes(p.stagedBytes)} already downloaded earlier; </>}
        {p.freeBytes === undefined ? 'This browser does not report its storage quota.' : `${formatBytes(p.freeBytes)} of storage is free: `}
        {p.freeBytes !== undefined && (p.fits ? <span class="ok">it fits.</span> : <span class="bad">it does not fit.</span>)}
        {p.architecture && <> Architecture: {p.architecture}.</>}
      </p>
      {blocked && (
        <p class="notice error" role="alert">
          {blocked}
        </p>
      )}
      <button type="button" class="primary" disabled={!!blocked || isRunning('download')} onClick={() => void download(p)}>
        {p.stagedBytes > 0 ? `Resume download (${formatBytes(p.needBytes)} left)` : `Download ${formatBytes(p.needBytes)}`}
      </button>
    </div>
  );
}

export function HubCard() {
  return (
    <section class="card" aria-labelledby="hub-heading">
      <h3 id="hub-heading">From the Hugging Face hub</h3>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void runPreflight();
        }}
      >
        <label class="grow">
          <span>Repo id or GGUF URL</span>
          <input
            type="text"
            name="repo"
            value={repoInput.value}
            placeholder="org/name or https://…/model.gguf"
            autoComplete="off"
            spellcheck={false}
            aria-describedby="hub-suggestions-label"
            onInput={(e) => (repoInput.value = e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={checking.value}>
          {checking.value ? 'Checking…' : 'Check files'}
        </button>
      </form>
      <p id="hub-suggestions-label" class="muted small">
        Suggested (download sizes as on the hub):
      </p>
      <ul class="suggestions">
        {catalogue.suggested.map((s) => (
          <li key={s.repo}>
            <button type="button" class="chip" onClick={() => void runPreflight(s.repo)}>
              {s.repo.split('/')[1]} <span class="muted">· {formatBytes(s.bytes)}</span>
            </button>
            <span class="muted small"> {s.about}</span>
          </li>
        ))}
      </ul>
      <HubSettings onTokenSaved={() => void (preflightError.value && repoInput.value && runPreflight())} />
      {checking.value && <p role="status">Listing the files of {repoInput.value}…</p>}
      {preflightError.value && (
        <p class="notice error" role="alert">
          {preflightError.value}
        </p>
      )}
      {preflight.value && <Preflight p={preflight.value} />}
      {ggufUrl.value && <GgufUrl url={ggufUrl.value} />}
      <JobView kind="download" />
    </section>
  );
}
