import type { Progress } from '../worker/client.ts';
import { formatBytes, formatDuration, formatRate, percent } from './format.ts';
import { clearJob, jobs, type JobKind } from './jobs.ts';
import { describeTensor } from './tensor-label.ts';

/**
 * One job's progress bar, figures and Cancel button; when it ended badly, why (as text).
 * Byte stages show amount, rate and time left; compression names the layer and tensor.
 */
const STAGE_LABEL: Record<Progress['stage'], string> = {
  download: 'Downloading',
  prepare: 'Preparing',
  calibrate: 'Calibrating',
  compress: 'Compressing',
  write: 'Storing',
  load: 'Loading model',
  perplexity: 'Scoring text',
  import: 'Importing',
  export: 'Zipping',
};

const CANCEL_NOTE: Record<JobKind, string> = {
  download: 'The bytes fetched so far are kept: downloading again resumes from there.',
  import: 'Nothing was stored.',
  compress: 'Nothing was stored; stored models are as they were.',
  evaluate: 'The report was left as it was.',
  export: 'No file was saved.',
  link: 'Nothing was stored: opening the link again starts over.',
};

function details(p: Progress, startedAt: number): string {
  if (p.stage === 'compress') return `tensor ${p.done} of ${p.total}${p.tensor ? `: ${describeTensor(p.tensor)}` : ''}`;
  if (p.stage === 'calibrate') return `${p.done} of ${p.total} blocks done${p.item && p.done < p.total ? `, ${p.item}` : ''}`;
  if (p.stage === 'perplexity') return `document ${p.done} of ${p.total}`;
  if (p.stage === 'prepare') return p.item ?? '';
  const amount = `${formatBytes(p.done)} of ${formatBytes(p.total)}`;
  const rate = p.bytesPerSecond ?? p.done / Math.max(0.001, (performance.now() - startedAt) / 1000);
  const eta = rate > 0 && p.total > p.done ? formatDuration((p.total - p.done) / rate) : undefined;
  return [amount, p.stage === 'download' ? formatRate(rate) : undefined, eta && `${eta} left`, p.item].filter(Boolean).join(' · ');
}

export function JobView({ kind }: { kind: JobKind }) {
  const job = jobs.value[kind];
  if (!job) return null;
  const p = job.progress;
  const id = `job-${kind}`;
  if (job.status === 'running') {
    return (
      <div class="job" role="group" aria-labelledby={`${id}-title`}>
        <div class="job-head">
          <span id={`${id}-title`} class="job-title">
            {job.title}
          </span>
          <button type="button" class="secondary" onClick={() => job.controller.abort(new Error('cancelled by the user'))}>
            Cancel
          </button>
        </div>
        <progress id={id} aria-labelledby={`${id}-title`} max={100} value={p ? percent(p.done, p.total) : undefined} />
        <p class="job-detail" aria-live="polite">
          {p ? `${STAGE_LABEL[p.stage]}: ${details(p, job.startedAt)}` : 'Starting…'}
        </p>
      </div>
    );
  }
  if (job.status === 'done') return null;
  return (
    <div class={job.status === 'failed' ? 'notice error' : 'notice'} role={job.status === 'failed' ? 'alert' : 'status'}>
      <p>
        <strong>{job.status === 'failed' ? `${job.title} failed: ` : `${job.title}: cancelled. `}</strong>
        {job.status === 'failed' ? job.message : CANCEL_NOTE[kind]}
      </p>
      <button type="button" class="link" onClick={() => clearJob(kind)}>
        Dismiss
      </button>
    </div>
  );
}
