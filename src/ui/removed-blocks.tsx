import type { StoredReport } from '../worker/client.ts';

/**
 * The report's layer removal (drop{N}, drop{N}-bi, drop{N}-last): which decoder blocks went and
 * why. SLEB (drop{N}) shows, per round, the calibration loss without each remaining block (the
 * chosen one marked); Block Influence (-bi) shows every block's score, the removed ones marked.
 * Blocks are numbered as in the source model; the stored model (and the error chart) number the
 * kept ones from 0.
 */
type LayerRemoval = NonNullable<StoredReport['layerRemoval']>;

export function RemovedBlocks({ removal }: { removal: LayerRemoval }) {
  const sourceBlocks = removal.layers;
  const gone = new Set(removal.removed);
  const kept = sourceBlocks - gone.size;
  const why =
    removal.method === 'sleb'
      ? 'greedily, the least calibration loss (SLEB)'
      : removal.scores
        ? 'the lowest Block Influence on the calibration text'
        : 'the last ones';
  return (
    <>
      <span data-testid="removed-blocks">
        {gone.size === 1 ? 'block' : 'blocks'} {removal.removed.join(', ')} (of 0–{sourceBlocks - 1}): {why}
      </span>
      {removal.losses && <SlebRounds losses={removal.losses} order={removal.order ?? []} />}
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
        {removal.losses
          ? `Loss: mean next-token NLL (nats) on ${removal.lossWindows ?? 'the'} calibration windows without the block and the earlier rounds' blocks${removal.baseLoss === undefined ? '' : `; whole model ${removal.baseLoss.toFixed(4)}`}. `
          : removal.scores
            ? 'Block Influence: 1 − mean cos(input, output) over the calibration tokens. '
            : ''}
        The stored model numbers its {kept} kept blocks 0–{kept - 1}, as the error chart does.
      </span>
    </>
  );
}

/** One list per SLEB round: the loss without each block still there; the lowest (the one removed) marked. */
function SlebRounds({ losses, order }: { losses: (number | null)[][]; order: readonly number[] }) {
  return (
    <>
      {losses.map((row, round) => {
        const chosen = order[round];
        return (
          <ul
            key={round}
            class="block-scores"
            aria-label={`Calibration loss without each block, round ${round + 1}`}
            data-testid="block-losses"
          >
            {row.map((s, i) =>
              s === null ? null : (
                <li key={i} class={i === chosen ? 'removed' : undefined}>
                  {i}: {s.toFixed(4)}
                  {i === chosen ? ` removed (round ${round + 1})` : ''}
                </li>
              ),
            )}
          </ul>
        );
      })}
    </>
  );
}
