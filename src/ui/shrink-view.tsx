import { RecipeView, ModelSummary } from './recipe-view.tsx';
import { ReportView } from './report-view.tsx';
import { modelName, models, reportId, showTab, sourceConfig, sourceError, sourceId } from './state.ts';

/** Screen 2: the recipe for the chosen model, the compression, and the report. */
export function ShrinkView() {
  const report = models.value.find((m) => m.id === reportId.value);
  return (
    <section aria-labelledby="shrink-heading" class="screen">
      <h2 id="shrink-heading" tabIndex={-1}>
        Shrink it
      </h2>
      <section class="card" aria-labelledby="chosen-heading">
        <h3 id="chosen-heading">Model</h3>
        {sourceId.value ? (
          <>
            <p>
              <strong>{modelName(sourceId.value)}</strong>
            </p>
            {sourceConfig.value && <ModelSummary config={sourceConfig.value} />}
            {sourceError.value && (
              <p class="notice error" role="alert">
                {sourceError.value}
              </p>
            )}
          </>
        ) : (
          <div class="empty">
            <p>No model chosen yet.</p>
            <button type="button" onClick={() => showTab('model')}>
              Choose a model
            </button>
          </div>
        )}
      </section>
      <RecipeView />
      {report && <ReportView info={report} />}
    </section>
  );
}
