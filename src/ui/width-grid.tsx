import type { TensorError } from './error-chart.tsx';

/**
 * The width each linear matrix is stored at, as a layer × kind table: what `bits{X}` chose,
 * shown beside the per-layer error chart so a high error can be read against a narrow width.
 * Rendered only when the linear matrices do not all share one width (a uniform recipe says
 * its width in its name). Shades run from light (2 bits) to dark (fp16), with the label in
 * every cell, so colour is never the only cue.
 */
const KINDS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

function cellOf(name: string): { layer: number; kind: string } | null {
  const m = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.weight$/.exec(name);
  return m ? { layer: Number(m[1]), kind: m[2]! } : null;
}

/** Code bits of a stored kind: `int4-g64-asym` -> 4, `fp16` -> 16. */
function codeBits(kind: string): number {
  const m = /^(?:\w+-)?int(\d)/.exec(kind);
  return m ? Number(m[1]) : kind === 'fp16' ? 16 : 32;
}

/** `int4-g64-asym` -> `4·64a`: short enough for seven columns at phone width. */
function shortLabel(kind: string): string {
  const m = /int(\d)-g(\d+)(-asym)?/.exec(kind);
  return m ? `${m[1]}·${m[2]}${m[3] ? 'a' : ''}` : kind;
}

export function WidthGrid({ tensors }: { tensors: TensorError[] }) {
  const cells = tensors.flatMap((t) => {
    const at = cellOf(t.name);
    return at ? [{ ...at, width: t.kind }] : [];
  });
  if (new Set(cells.map((c) => c.width)).size < 2) return null;
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
            {KINDS.map((k) => (
              <th scope="col" key={k}>
                {k.replace('_proj', '')}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: layers }, (_, l) => (
            <tr key={l}>
              <th scope="row">{l}</th>
              {KINDS.map((k) => {
                const c = at.get(`${l}.${k}`);
                return (
                  <td key={k} class={c ? `w${Math.min(codeBits(c.width), 16)}` : ''} title={c ? `layer ${l} ${k}: ${c.width}` : undefined}>
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
          .sort((a, b) => codeBits(a[0]) - codeBits(b[0]) || a[0].localeCompare(b[0]))
          .map(([kind, n]) => `${kind} ×${n}`)
          .join(' · ')}
      </p>
    </figure>
  );
}
