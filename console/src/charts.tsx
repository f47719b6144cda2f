/**
 * Tiny inline-SVG charts for the dashboard (no library): a stacked bar chart and a plain bar chart. Each chart has a
 * <title> and an aria-label summarising it, every bar its own <title> (hover and screen readers), and the series are
 * named in a legend as well as coloured.
 */
import { useId, type ReactNode } from 'react';

export interface Series {
  key: string;
  label: string;
  color: string;
}

const W = 640;
const H = 220;
const PAD = { top: 12, right: 12, bottom: 34, left: 40 };

function niceMax(n: number): number {
  if (n <= 5) return Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return n;
}

function Axis({ max, plotH }: { max: number; plotH: number }): ReactNode {
  const ticks = max <= 5 ? Array.from({ length: max + 1 }, (_, i) => i) : [0, max / 2, max];
  return (
    <g className="chart-axis" aria-hidden="true">
      {ticks.map((v) => {
        const y = PAD.top + plotH - (v / max) * plotH;
        return (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} className="chart-grid" />
            <text x={PAD.left - 6} y={y + 4} textAnchor="end">
              {Number.isInteger(v) ? v : v.toFixed(1)}
            </text>
          </g>
        );
      })}
    </g>
  );
}

/** Every nth category label, so that at most ~12 fit under the axis. */
function showLabel(i: number, n: number): boolean {
  const step = Math.ceil(n / 12);
  return i % step === 0;
}

export function StackedBarChart({ title, rows, series, categoryLabel, testId }: {
  title: string;
  rows: Array<{ category: string; values: Record<string, number> }>;
  series: Series[];
  categoryLabel: (category: string) => string;
  testId?: string;
}): ReactNode {
  const id = useId();
  const totals = rows.map((r) => series.reduce((s, x) => s + (r.values[x.key] ?? 0), 0));
  const sum = totals.reduce((a, b) => a + b, 0);
  const bySeries = series.map((s) => `${s.label} ${rows.reduce((a, r) => a + (r.values[s.key] ?? 0), 0)}`).join(', ');
  const summary = `${title}: ${sum} in all (${bySeries}) over ${rows.length} intervals`;
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = rows.length === 0 ? plotW : plotW / rows.length;
  const barW = Math.max(1, slot * 0.7);
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-t`} className="chart-svg">
        <title id={`${id}-t`}>{summary}</title>
        <Axis max={max} plotH={plotH} />
        {rows.map((r, i) => {
          let y = PAD.top + plotH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={r.category}>
              {series.map((s) => {
                const v = r.values[s.key] ?? 0;
                if (v === 0) return null;
                const h = (v / max) * plotH;
                y -= h;
                return (
                  <rect key={s.key} x={x} y={y} width={barW} height={h} fill={s.color} data-series={s.key} data-value={v}>
                    <title>{`${categoryLabel(r.category)}: ${v} ${s.label}`}</title>
                  </rect>
                );
              })}
              {showLabel(i, rows.length) ? (
                <text x={x + barW / 2} y={H - PAD.bottom + 14} textAnchor="middle" className="chart-label" aria-hidden="true">
                  {categoryLabel(r.category)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul className="chart-legend" aria-label="Legend">
          {series.map((s) => (
            <li key={s.key}>
              <svg width="12" height="12" aria-hidden="true">
                <rect width="12" height="12" fill={s.color} />
              </svg>{' '}
              {s.label}
            </li>
          ))}
        </ul>
        {sum === 0 ? <p className="muted small">No data in this window.</p> : null}
      </figcaption>
    </figure>
  );
}

export function BarChart({ title, bars, color = '#1d4ed8', testId, empty = 'No data in this window.' }: {
  title: string;
  bars: Array<{ label: string; value: number }>;
  color?: string;
  testId?: string;
  empty?: string;
}): ReactNode {
  const id = useId();
  const sum = bars.reduce((a, b) => a + b.value, 0);
  const summary = `${title}: ${bars.length === 0 ? 'none' : bars.map((b) => `${b.label} ${b.value}`).join(', ')}`;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = bars.length === 0 ? plotW : plotW / bars.length;
  const barW = Math.min(80, slot * 0.6);
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-t`} className="chart-svg">
        <title id={`${id}-t`}>{summary}</title>
        <Axis max={max} plotH={plotH} />
        {bars.map((b, i) => {
          const h = (b.value / max) * plotH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={b.label}>
              {b.value === 0 ? null : (
                <rect x={x} y={PAD.top + plotH - h} width={barW} height={h} fill={color} data-bar={b.label} data-value={b.value}>
                  <title>{`${b.label}: ${b.value}`}</title>
                </rect>
              )}
              <text x={x + barW / 2} y={H - PAD.bottom + 14} textAnchor="middle" className="chart-label" aria-hidden="true">
                {b.label}
              </text>
            </g>
          );
        })}
      </svg>
      {sum === 0 ? (
        <figcaption>
          <p className="muted small">{empty}</p>
        </figcaption>
      ) : null}
    </figure>
  );
}
