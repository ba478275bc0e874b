import type { RefObject } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { LINEAR_KINDS, type ReportTensor } from '../worker/client.ts';
import { describeTensor, tensorLabel } from './tensor-label.ts';

/**
 * The quantization error of every tensor, per layer and kind of tensor, as an SVG line
 * chart (a chart library would outweigh the rest of the page for seven lines), with the
 * numbers in a table for screen readers and for reading exact values.
 */
// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#7a6a00'];

const H = 240;
const PAD = { left: 52, right: 12, top: 12, bottom: 36 };

function niceMax(x: number): number {
  if (x <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= x)!;
}

/** The figure's width in CSS pixels, so the chart's text stays readable at phone width instead of scaling down. */
function useWidth(): [RefObject<HTMLElement | null>, number] {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(640);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(280, Math.round(el.clientWidth))));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function ErrorChart({ tensors }: { tensors: ReportTensor[] }) {
  const [figure, W] = useWidth();
  // Tensors kept exactly (fp32 norms, an unquantized embedding) have no error to show.
  const changed = tensors.filter((t) => t.relError !== null && t.relError > 0);
  // The decoder blocks' projections are the lines; anything else with an error is listed below the chart.
  const points = changed.flatMap((t) =>
    t.layer !== null && t.linear !== null ? [{ t, layer: t.layer, kind: t.linear, error: t.relError! }] : [],
  );
  const others = changed.filter((t) => t.layer === null || t.linear === null);
  if (points.length === 0 && others.length === 0) {
    return <p class="muted">No tensor was rounded by this recipe, so there is no error to chart.</p>;
  }
  const layers = points.length ? Math.max(...points.map((p) => p.layer)) + 1 : 0;
  const top = niceMax(Math.max(...points.map((p) => p.error), 0));
  const x = (layer: number) =>
    PAD.left + (layers <= 1 ? (W - PAD.left - PAD.right) / 2 : (layer / (layers - 1)) * (W - PAD.left - PAD.right));
  const y = (e: number) => PAD.top + (1 - e / top) * (H - PAD.top - PAD.bottom);
  const kinds = LINEAR_KINDS.filter((k) => points.some((p) => p.kind === k));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const labelEvery = Math.max(1, Math.ceil(layers / Math.max(4, Math.floor(W / 50))));
  const worst = points.reduce((a, b) => (b.error > a.error ? b : a), points[0]!); // read only when there are points
  return (
    <figure class="chart" ref={figure}>
      <figcaption>Relative error ‖W − Ŵ‖ / ‖W‖ of each weight, by layer and kind</figcaption>
      {points.length > 0 && (
        <svg
          viewBox={`0 0 ${W} ${H}`}
          role="img"
          aria-label={`Line chart over ${layers} layers; the largest error is ${worst.error.toFixed(4)} in ${describeTensor(worst.t)}. The table below lists every value.`}
        >
          {ticks.map((t) => (
            <g key={t}>
              <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} class="grid" />
              <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end" class="tick">
                {t.toPrecision(2)}
              </text>
            </g>
          ))}
          {Array.from({ length: layers }, (_, l) => l)
            .filter((l) => l % labelEvery === 0)
            .map((l) => (
              <text key={l} x={x(l)} y={H - PAD.bottom + 16} text-anchor="middle" class="tick">
                {l}
              </text>
            ))}
          <text x={(W + PAD.left) / 2} y={H - 4} text-anchor="middle" class="axis">
            layer
          </text>
          {kinds.map((k, i) => {
            const series = points.filter((p) => p.kind === k).sort((a, b) => a.layer - b.layer);
            return (
              <g key={k} stroke={COLOURS[i]} fill={COLOURS[i]}>
                <polyline fill="none" stroke-width="2" points={series.map((p) => `${x(p.layer)},${y(p.error)}`).join(' ')} />
                {series.map((p) => (
                  <circle key={p.layer} cx={x(p.layer)} cy={y(p.error)} r="3">
                    <title>{`${describeTensor(p.t)}: ${p.error.toFixed(4)}`}</title>
                  </circle>
                ))}
              </g>
            );
          })}
        </svg>
      )}
      <ul class="legend" aria-hidden="true">
        {kinds.map((k, i) => (
          <li key={k}>
            <span class="swatch" style={{ background: COLOURS[i] }} />
            {tensorLabel(k)}
          </li>
        ))}
      </ul>
      {others.length > 0 && (
        <p class="small">{others.map((t) => `${describeTensor(t)} (${t.kind}): ${t.relError!.toFixed(4)}`).join(' · ')}</p>
      )}
      <details>
        <summary>Every value as a table</summary>
        <table class="files">
          <thead>
            <tr>
              <th scope="col">Tensor</th>
              <th scope="col">Stored as</th>
              <th scope="col" class="num">
                Relative error
              </th>
            </tr>
          </thead>
          <tbody>
            {changed.map((t) => (
              <tr key={t.name}>
                <td>{describeTensor(t)}</td>
                <td>{t.kind}</td>
                <td class="num">{t.relError!.toFixed(5)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
