import { DemoCard } from './demo-card.tsx';
import { formatBytes } from './format.ts';
import { HubCard } from './hub-card.tsx';
import { JobView } from './job-view.tsx';
import { LocalCard } from './local-card.tsx';
import { chooseSource, isSourceModel, modelName, models, sourceId } from './state.ts';

/** Screen 1: where the model comes from. */
export function SourceView() {
  const stored = models.value.filter(isSourceModel);
  return (
    <section aria-labelledby="model-heading" class="screen">
      <h2 id="model-heading" tabIndex={-1}>
        Choose a model to shrink
      </h2>
      <JobView kind="link" />
      {stored.length > 0 && (
        <section class="card" aria-labelledby="stored-heading">
          <h3 id="stored-heading">Already stored</h3>
          <ul class="pick-list">
            {stored.map((m) => (
              <li key={m.id}>
                <button
                  type="button"
                  class={m.id === sourceId.value ? 'chip selected' : 'chip'}
                  aria-pressed={m.id === sourceId.value}
                  onClick={() => void chooseSource(m.id)}
                >
                  {modelName(m.id)} <span class="muted">· {formatBytes(m.bytes)}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <div class="cards">
        <DemoCard />
        <LocalCard />
      </div>
      <JobView kind="import" />
      <HubCard />
    </section>
  );
}
