import { LINEAR_KINDS, type ReportTensor } from '../worker/client.ts';
import { tensorLabel } from './tensor-label.ts';

/** `int4-g64-asym` -> `4·64a`: short enough for seven columns at phone width. */
function shortLabel(kind: string): string {
  const m = /int(\d)-g(\d+)(-asym)?/.exec(kind);
  return m ? `${m[1]}·${m[2]}${m[3] ? 'a' : ''}` : kind;
}

/**
 * The width each linear matrix is stored at, as a layer × kind table: what `bits{X}` chose,
 * shown beside the per-layer error chart so a high error can be read against a narrow width.
 * Rendered only when the linear matrices do not all share one width (a uniform recipe says
 * its width in its name). Shades run from light (2 bits) to dark (fp16), with the label in
 * every cell, so colour is never the only cue.
 */
export function WidthGrid({ tensors }: { tensors: ReportTensor[] }) {
  const cells = tensors.flatMap((t) =>
    t.layer !== null && t.linear !== null ? [{ layer: t.layer, kind: t.linear, width: t.kind, bits: t.bits }] : [],
  );
  if (new Set(cells.map((c) => c.width)).size < 2) return null;
  const bitsOf = new Map(cells.map((c) => [c.width, c.bits]));
  const layers = Math.max(...cells.map((c) => c.layer)) + 1;
  const at = new Map(cells.map((c) => [`${c.layer}.${c.kind}`, c]));
  const counts = new Map<string, number>();
  for (const c of cells) counts.set(c.width, (counts.get(c.width) ?? 0) + 1);
  return (
    <figure class="widths">
      <figcaption>Width chosen for each matrix (bits · block size, a = asymmetric)</figcaption>
      <table>
        <thead>
          <tr>
            <th scope="col">layer</th>
            {LINEAR_KINDS.map((k) => (
              <th scope="col" key={k}>
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: layers }, (_, l) => (
            <tr key={l}>
              <th scope="row">{l}</th>
              {LINEAR_KINDS.map((k) => {
                const c = at.get(`${l}.${k}`);
                return (
                  <td
                    key={k}
                    class={c ? `w${Math.min(c.bits, 16)}` : ''}
                    title={c ? `layer ${l} ${tensorLabel(k)}: ${c.width}` : undefined}
                  >
                    {c ? shortLabel(c.width) : ''}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="small">
        {[...counts]
          .sort((a, b) => bitsOf.get(a[0])! - bitsOf.get(b[0])! || a[0].localeCompare(b[0]))
          .map(([kind, n]) => `${kind} ×${n}`)
          .join(' · ')}
      </p>
    </figure>
  );
}
