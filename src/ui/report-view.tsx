import type { ModelEvaluation, StoredModelInfo, StoredReport } from '../worker/client.ts';
import { ErrorChart } from './error-chart.tsx';
import { WidthGrid } from './width-grid.tsx';
import { evaluateModel, pastedText, sourceOf, textChoice, type TextChoice } from './evaluation.ts';
import { exactBytes, formatBytes, formatDate, formatNumber, formatRunsOn } from './format.ts';
import { JobView } from './job-view.tsx';
import { RemovedBlocks } from './removed-blocks.tsx';
import { isRunning } from './jobs.ts';
import catalogue from './model-catalogue.json';
import { exportModel } from './model-actions.ts';
import { chatModelId, modelName, models, showTab } from './state.ts';

/**
 * A compressed model's report, as stored with it (shrinkray.json): sizes before and after,
 * perplexity and decode speed before and after on one text and device, and the error of
 * every tensor. Every figure read from the report is shown as text.
 */
function Ratio({ before, after, lowerIsBetter = true }: { before?: number; after?: number; lowerIsBetter?: boolean }) {
  if (!before || !after) return null;
  const r = after / before;
  const good = lowerIsBetter ? r <= 1 : r >= 1;
  return <span class={good ? 'ok' : 'bad'}> (×{r.toFixed(r < 0.1 ? 3 : 2)})</span>;
}

function Evaluation({ e }: { e: ModelEvaluation }) {
  const b = e.before;
  const a = e.after;
  return (
    <table class="facts report-eval">
      <caption>
        Measured on {e.textName}: {a.docs} documents, {a.tokens.toLocaleString('en-US')} tokens · {formatRunsOn(e)} ·{' '}
        {formatDate(e.measuredAt)}
      </caption>
      <thead>
        <tr>
          <th scope="col" />
          <th scope="col" class="num">
            Before
          </th>
          <th scope="col" class="num">
            After
          </th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <th scope="row">
            Perplexity <span class="small">(lower is better)</span>
          </th>
          <td class="num" data-testid="ppl-before">
            {b ? formatNumber(b.ppl) : '—'}
          </td>
          <td class="num" data-testid="ppl-after">
            {formatNumber(a.ppl)}
            <Ratio before={b?.ppl} after={a.ppl} />
          </td>
        </tr>
        <tr>
          <th scope="row">Decode speed</th>
          <td class="num">{b ? `${b.tokensPerSecond.toFixed(1)} tokens/s` : '—'}</td>
          <td class="num">
            {a.tokensPerSecond.toFixed(1)} tokens/s
            <Ratio before={b?.tokensPerSecond} after={a.tokensPerSecond} lowerIsBetter={false} />
          </td>
        </tr>
      </tbody>
      {(e.beforeWeights || e.beforeProblem) && (
        <tfoot>
          {e.beforeWeights && (
            <tr>
              <td colSpan={3} class="small muted" data-testid="before-weights">
                “Before” ran the original with {e.beforeWeights} weights, as the checkpoint holds them in 16 bits: its fp32 copy would not
                fit the engine's 4 GB memory for a 1B model.
              </td>
            </tr>
          )}
          {e.beforeProblem && (
            <tr>
              <td colSpan={3} class="small muted">
                No “before” figures: {e.beforeProblem}.
              </td>
            </tr>
          )}
        </tfoot>
      )}
    </table>
  );
}

function TextPicker() {
  return (
    <div class="row wrap">
      <label>
        <span>Text to score</span>
        <select value={textChoice.value} onChange={(e) => (textChoice.value = e.currentTarget.value as TextChoice)}>
          <option value="auto">Automatic (stories for the demo, English otherwise)</option>
          {catalogue.texts.map((t) => (
            <option key={t.id} value={t.id}>
              {t.label}
            </option>
          ))}
          <option value="pasted">Text I paste</option>
        </select>
      </label>
      {textChoice.value === 'pasted' && (
        <label class="grow">
          <span>Your text (separate documents with &lt;|endoftext|&gt;)</span>
          <textarea rows={4} value={pastedText.value} onInput={(e) => (pastedText.value = e.currentTarget.value)} />
        </label>
      )}
    </div>
  );
}

export function ReportView({ info }: { info: StoredModelInfo }) {
  // Partial: a zip exported by an older version may lack fields; what is missing shows as unknown.
  const r: Partial<StoredReport> = info.report ?? {};
  const from = sourceOf(info);
  const source = models.value.find((m) => m.id === from);
  const onnxBytes = info.files.filter((f) => f.path.startsWith('onnx/')).reduce((s, f) => s + f.size, 0);
  return (
    <section class="card report" aria-labelledby="report-heading">
      <h3 id="report-heading" tabIndex={-1}>
        Report: {modelName(info.id)}
      </h3>
      <table class="facts">
        <tbody>
          <tr>
            <th scope="row">Recipe</th>
            <td>{info.recipe ?? r.recipe ?? 'unknown'}</td>
          </tr>
          <tr>
            <th scope="row">Made from</th>
            <td>
              {from ? modelName(from) : 'unknown'}
              {from && !source ? ' (no longer stored)' : ''}
            </td>
          </tr>
          <tr>
            <th scope="row">Weights before</th>
            <td data-testid="bytes-before">
              {r.bytesIn !== undefined ? `${formatBytes(r.bytesIn)} (${exactBytes(r.bytesIn)})` : 'unknown'}
            </td>
          </tr>
          <tr>
            <th scope="row">Weights after</th>
            <td data-testid="bytes-after">
              {r.bytesOut !== undefined ? `${formatBytes(r.bytesOut)} (${exactBytes(r.bytesOut)})` : 'unknown'}
              <Ratio before={r.bytesIn} after={r.bytesOut} />
            </td>
          </tr>
          <tr>
            <th scope="row">Stored files</th>
            <td>
              {formatBytes(info.bytes)} in {info.files.length} files, of which ONNX {formatBytes(onnxBytes)}
            </td>
          </tr>
          {r.calibration && (
            <tr>
              <th scope="row">Calibration</th>
              <td data-testid="calibration">
                {r.calibration.name}: {r.calibration.windows} of {r.calibration.available} windows of {r.calibration.windowLength} tokens (
                {r.calibration.tokens.toLocaleString('en-US')} tokens, seed {r.calibration.seed}), {r.calibration.seconds.toFixed(1)} s
              </td>
            </tr>
          )}
          {r.layerRemoval && (
            <tr>
              <th scope="row">Removed blocks</th>
              <td>
                <RemovedBlocks removal={r.layerRemoval} />
              </td>
            </tr>
          )}
          {r.mixedPrecision && (
            <tr>
              <th scope="row">Widths</th>
              <td data-testid="mixed-precision">
                {((r.mixedPrecision.bytes * 8) / r.mixedPrecision.weights).toFixed(2)} bits per linear weight (budget{' '}
                {r.mixedPrecision.bitsPerWeight}: {formatBytes(r.mixedPrecision.bytes)} of {formatBytes(r.mixedPrecision.budget)}, scales
                included), chosen per matrix by measured sensitivity
              </td>
            </tr>
          )}
          {r.seconds !== undefined && (
            <tr>
              <th scope="row">Compression time</th>
              <td>
                {r.seconds.toFixed(1)} s{r.quantizer ? ` (${r.quantizer} kernels)` : ''}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <h4>Quality and speed</h4>
      {r.evaluation ? <Evaluation e={r.evaluation} /> : <p class="muted">Not measured yet.</p>}
      <TextPicker />
      <div class="row wrap">
        <button type="button" disabled={isRunning('evaluate')} onClick={() => void evaluateModel(info)}>
          {r.evaluation ? 'Measure again' : 'Measure perplexity and speed'}
        </button>
        <button
          type="button"
          onClick={() => {
            chatModelId.value = info.id;
            showTab('chat');
          }}
        >
          Chat with it
        </button>
        <button type="button" class="secondary" disabled={isRunning('export')} onClick={() => void exportModel(info)}>
          Export as zip
        </button>
      </div>
      <JobView kind="evaluate" />
      <JobView kind="export" />
      <h4>Error per layer</h4>
      <div class="chart-pair">
        <ErrorChart tensors={r.tensors ?? []} />
        <WidthGrid tensors={r.tensors ?? []} />
      </div>
    </section>
  );
}
