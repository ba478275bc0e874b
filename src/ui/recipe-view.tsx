import { checkRecipe, RECIPE_PRESETS, type ModelConfig } from '../worker/client.ts';
import { evaluateModel } from './evaluation.ts';
import { formatBytes } from './format.ts';
import { CalibrationPicker, calibrationFor } from './calibration-picker.tsx';
import { JobView } from './job-view.tsx';
import { isRunning, runJob } from './jobs.ts';
import { environment } from './environment.ts';
import { compressRefusal } from './memory-budget.ts';
import { compressor, models, modelStored, modelName, recipeText, reportId, sourceConfig, sourceId } from './state.ts';

/**
 * The recipe: presets with their trade-offs, and the recipe text, checked against the
 * chosen model as the user types (the same checks the worker runs before any work), with
 * the problem shown beside the field.
 */
function paramsOf(c: ModelConfig): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const layer = 2 * c.hiddenSize * q + 2 * c.hiddenSize * kv + 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize;
  return c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + c.hiddenSize;
}

export function ModelSummary({ config }: { config: ModelConfig }) {
  const params = paramsOf(config);
  return (
    <p class="muted small">
      {config.architecture}: {config.numLayers} layers, width {config.hiddenSize}, {config.numHeads} heads ({config.numKvHeads} KV), FFN{' '}
      {config.intermediateSize}, vocabulary {config.vocabSize.toLocaleString('en-US')}, context {config.maxPositionEmbeddings};{' '}
      {params >= 1e6 ? `${(params / 1e6).toFixed(1)}M` : `${(params / 1e3).toFixed(0)}K`} parameters.
    </p>
  );
}

/** Why compressing the chosen model cannot start in this tab's memory budget (memory-budget.ts), or null. */
function memoryRefusal(id: string | null): string | null {
  const bytes = id ? models.value.find((m) => m.id === id)?.bytes : undefined;
  const env = environment.value;
  return bytes === undefined || !env ? null : compressRefusal(bytes, env.memory);
}

export async function compressChosen(): Promise<void> {
  const id = sourceId.value;
  if (!id || memoryRefusal(id)) return; // refused before any work: the screen says why
  const recipe = recipeText.value;
  const check = checkRecipe(recipe);
  const info = await runJob('compress', `Compressing ${modelName(id)} with ${recipe}`, async ({ signal, onProgress }) =>
    compressor.compress(id, recipe, {
      signal,
      onProgress,
      calibration: check.ok && check.calibration ? await calibrationFor(id) : undefined,
    }),
  );
  await modelStored();
  if (!info) return;
  reportId.value = info.id;
  // The report renders below the presets: bring it into view and give it focus.
  requestAnimationFrame(() => {
    const heading = document.getElementById('report-heading');
    heading?.scrollIntoView({ block: 'start', behavior: 'smooth' });
    heading?.focus({ preventScroll: true });
  });
  await evaluateModel(info);
}

export function RecipeView() {
  const config = sourceConfig.value ?? undefined;
  const check = checkRecipe(recipeText.value, config);
  const busy = isRunning('compress');
  const refusal = memoryRefusal(sourceId.value);
  return (
    <section class="card" aria-labelledby="recipe-heading">
      <h3 id="recipe-heading">Recipe</h3>
      <fieldset class="presets">
        <legend>Presets</legend>
        {RECIPE_PRESETS.map((p) => {
          const fit = checkRecipe(p.recipe, config);
          const id = `preset-${p.recipe.replace(/[^a-z0-9]/g, '-')}`;
          return (
            <div class="preset" key={p.recipe}>
              <input
                type="radio"
                name="preset"
                id={id}
                value={p.recipe}
                checked={check.ok && check.canonical === p.recipe}
                disabled={!fit.ok}
                aria-describedby={`${id}-about`}
                onChange={() => (recipeText.value = p.recipe)}
              />
              <label for={id}>
                <strong>{p.label}</strong> <code>{p.recipe}</code>
                {fit.ok && fit.bytesOut !== undefined && <span class="muted"> · about {formatBytes(fit.bytesOut)}</span>}
              </label>
              <p id={`${id}-about`} class="muted small">
                {fit.ok ? p.description : `Does not fit this model: ${fit.error}`}
              </p>
            </div>
          );
        })}
      </fieldset>
      <label for="recipe-text">Recipe (advanced: steps joined by +)</label>
      <input
        id="recipe-text"
        type="text"
        value={recipeText.value}
        spellcheck={false}
        autoComplete="off"
        aria-invalid={!check.ok}
        aria-describedby="recipe-check recipe-grammar"
        onInput={(e) => (recipeText.value = e.currentTarget.value)}
      />
      <p id="recipe-check" class={check.ok ? 'small ok' : 'small bad'} aria-live="polite">
        {check.ok
          ? `Valid: ${check.canonical}${check.bytesOut !== undefined ? `, about ${formatBytes(check.bytesIn)} → ${formatBytes(check.bytesOut)} of weights` : ''}${config ? '' : ' (choose a model to check it against)'}.`
          : check.error}
      </p>
      <CalibrationPicker modelId={sourceId.value} use={check.ok ? check.calibration : null} />
      <details id="recipe-grammar" class="small">
        <summary>Recipe steps</summary>
        <ul>
          <li>
            <code>int4</code>, <code>int8</code> (also int2): round-to-nearest in blocks, <code>-g32</code>…<code>-g256</code> sets the
            block, <code>-asym</code> adds zero points.
          </li>
          <li>
            <code>emb8</code>, <code>emb4</code>: quantize the embedding and classifier too.
          </li>
          <li>
            <code>fp16</code>: half-precision storage of what is not quantized.
          </li>
          <li>
            <code>ffn25</code>, <code>heads25</code>: remove FFN channels or KV groups (smaller and faster, lower quality).
          </li>
          <li>
            <code>drop1</code>: remove the decoder block whose removal costs least loss on the calibration text (SLEB);{' '}
            <code>drop1-bi</code>: the block that changes its input least (Block Influence); <code>drop1-last</code>: the last block.
            Smaller and faster by a block’s share, at a large cost in quality.
          </li>
          <li>
            <code>bits5</code>, <code>bits3.5</code>: mixed precision on the calibration text, a width per matrix (2, 4, 8 bits or fp16)
            within that many stored bits per weight, scales included (<code>int4-g32</code> is 5).
          </li>
          <li>
            <code>mag50</code>, <code>2:4</code>: sparsity by magnitude (a quality study: no size or speed gain here).
          </li>
          <li>
            Calibrated, on the calibration text: <code>gptq-int4-g32</code> (GPTQ: rounding errors corrected by the layer’s activations),{' '}
            <code>awq-int4-g32</code> (AWQ: activation-aware scales), <code>wanda50</code>, <code>sparsegpt50</code>, <code>wanda-2:4</code>
            , <code>sparsegpt-2:4</code>; <code>int3</code> codes are stored in the 4-bit container.
          </li>
        </ul>
      </details>
      {refusal && (
        <p class="small bad" id="memory-refusal" role="alert" data-testid="memory-refusal">
          {refusal}
        </p>
      )}
      <div class="row">
        <button
          type="button"
          class="primary"
          disabled={!sourceId.value || !check.ok || busy || !!refusal}
          aria-describedby={refusal ? 'memory-refusal' : undefined}
          onClick={() => void compressChosen()}
        >
          Compress
        </button>
      </div>
      <JobView kind="compress" />
    </section>
  );
}
