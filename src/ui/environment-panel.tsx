import { capabilityRows, type CapabilityRow } from './capability-rows.ts';
import { missingRequired } from './capabilities.ts';
import type { Environment } from './environment.ts';

/**
 * The environment panel: every capability the app uses, its state in this browser, and what
 * the app does without it. Closed by default; its summary counts what is missing.
 */
const STATE_TEXT: Record<CapabilityRow['state'], string> = { yes: 'available', no: 'missing', partial: 'limited' };
const stateOf = (r: CapabilityRow) => (r.state === 'no' && r.needed === false ? 'unused' : r.state);

export function EnvironmentPanel({ env }: { env: Environment }) {
  const rows = capabilityRows(env);
  const lacking = rows.filter((r) => r.state !== 'yes' && r.needed !== false);
  return (
    <details class="env-panel" data-testid="environment-panel">
      <summary>
        {lacking.length > 0
          ? `What this browser offers: ${lacking.length} of the ${rows.length} capabilities the app uses ${lacking.length === 1 ? 'is' : 'are'} missing or limited`
          : 'What this browser offers: every capability the app uses'}
      </summary>
      <ul>
        {rows.map((r) => (
          <li key={r.id} data-capability={r.id} data-state={r.state}>
            <div class="cap-head">
              <strong>{r.name}</strong>{' '}
              <span class={`cap-state ${stateOf(r)}`}>{stateOf(r) === 'unused' ? 'missing, not needed' : STATE_TEXT[r.state]}</span>
              {r.detail && <span class="muted small"> · {r.detail}</span>}
            </div>
            {r.state !== 'yes' && <p class="small">Without it: {r.without}</p>}
          </li>
        ))}
      </ul>
    </details>
  );
}

/** Shown instead of the screens when a capability the app cannot do without is missing. */
export function Refusal({ env }: { env: Environment }) {
  const missing = missingRequired(env);
  return (
    <section class="card" role="alert" data-testid="refusal">
      <h2>Shrinkray cannot run in this browser</h2>
      <p>
        It lacks {missing.join(' and ')}. Shrinkray compresses and runs models with WebAssembly SIMD in module workers; current Chrome,
        Edge, Firefox and Safari (16.4 and later) have both.
      </p>
    </section>
  );
}
