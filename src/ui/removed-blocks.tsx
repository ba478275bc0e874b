import type { StoredReport } from '../worker/client.ts';

/**
 * The report's layer removal (drop{N}, drop{N}-last): which decoder blocks went and, when they
 * were scored, every block's Block Influence, the removed ones marked. Blocks are numbered as in
 * the source model; the stored model (and the error chart) number the kept ones from 0.
 */
type LayerRemoval = NonNullable<StoredReport['layerRemoval']>;

export function RemovedBlocks({ removal }: { removal: LayerRemoval }) {
  const sourceBlocks = removal.layers;
  const gone = new Set(removal.removed);
  const kept = sourceBlocks - gone.size;
  const why = removal.scores ? 'the lowest Block Influence on the calibration text' : 'the last ones';
  return (
    <>
      <span data-testid="removed-blocks">
        {gone.size === 1 ? 'block' : 'blocks'} {removal.removed.join(', ')} (of 0–{sourceBlocks - 1}): {why}
      </span>
      {removal.scores && (
        <ul class="block-scores" aria-label="Block Influence per block" data-testid="block-scores">
          {removal.scores.map((s, i) => (
            <li key={i} class={gone.has(i) ? 'removed' : undefined}>
              {i}: {s.toFixed(4)}
              {gone.has(i) ? ' removed' : ''}
            </li>
          ))}
        </ul>
      )}
      <span class="small muted block-note">
        {removal.scores ? 'Block Influence: 1 − mean cos(input, output) over the calibration tokens. ' : ''}
        The stored model numbers its {kept} kept blocks 0–{kept - 1}, as the error chart does.
      </span>
    </>
  );
}
