/**
 * The dashboard: GET /v1/stats/review over a window (1 h, 24 h, 7 d; kept in the URL), for callers with
 * `cases:read_all` (admins, auditors). Tiles for the queue and the time to decision; inline SVG charts of decisions
 * by outcome over time, open cases by age and verdicts by label.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { get, type ReviewStats } from '../api.js';
import { BarChart, StackedBarChart, type Series } from '../charts.js';
import { formatDuration, formatTime, label } from '../format.js';
import { navigate, type Route } from '../router.js';
import { hasPermission, useSession } from '../session.js';
import { ErrorMessage, Spinner } from '../ui.js';

const WINDOWS: Array<[string, string]> = [
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
];

const OUTCOMES: Series[] = [
  { key: 'allow', label: 'allow', color: '#15803d' },
  { key: 'challenge', label: 'challenge', color: '#ca8a04' },
  { key: 'review', label: 'review', color: '#1d4ed8' },
  { key: 'deny', label: 'deny', color: '#b91c1c' },
];

function bucketLabel(iso: string, bucketSeconds: number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const t = d.toISOString();
  return bucketSeconds >= 6 * 3600 ? `${t.slice(5, 10)} ${t.slice(11, 13)}h` : t.slice(11, 16);
}

function Tile({ name, value, testId, hint }: { name: string; value: ReactNode; testId: string; hint?: string }): ReactNode {
  return (
    <div className="tile">
      <dt>{name}</dt>
      <dd data-testid={testId}>{value}</dd>
      {hint === undefined ? null : <dd className="muted small">{hint}</dd>}
    </div>
  );
}

export function Dashboard({ route }: { route: Route }): ReactNode {
  const { me } = useSession();
  const allowed = hasPermission(me, 'cases:read_all');
  const window = WINDOWS.some(([w]) => w === route.query.get('window')) ? route.query.get('window')! : '24h';
  const [stats, setStats] = useState<ReviewStats>();
  const [error, setError] = useState<unknown>();

  const load = useCallback(async () => {
    try {
      setStats(await get<ReviewStats>(`/v1/stats/review?window=${window}`));
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [window]);

  useEffect(() => {
    if (!allowed) return;
    setStats(undefined);
    void load();
  }, [allowed, load]);

  if (!allowed) {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>Dashboard</h1>
        <p data-testid="dashboard-forbidden">
          The dashboard shows figures for every case, so it needs the permission to read all cases (cases:read_all), which
          admins and auditors hold. Your roles ({me.roles.length === 0 ? 'none' : me.roles.map((r) => r.role).join(', ')}) do not
          include it. <a href="#/queue">Go to the queue</a>.
        </p>
      </main>
    );
  }

  const overrideRate = stats === undefined || stats.verdicts.total === 0 ? null : stats.verdicts.overrides / stats.verdicts.total;
  const labels = stats === undefined ? [] : Object.entries(stats.verdicts.by_label).sort((a, b) => b[1] - a[1]);

  return (
    <main id="main" className="page" tabIndex={-1}>
      <div className="page-head">
        <h1>Dashboard</h1>
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Dashboard window">
          <div className="field">
            <label htmlFor="d-window">Window</label>
            <select id="d-window" value={window} onChange={(e) => navigate('dashboard', { window: e.target.value })}>
              {WINDOWS.map(([v, t]) => (
                <option key={v} value={v}>
                  {t}
                </option>
              ))}
            </select>
          </div>
          <button type="button" className="secondary" onClick={() => void load()}>
            Refresh
          </button>
        </form>
      </div>
      <ErrorMessage error={error} />
      {stats === undefined && error === undefined ? <Spinner /> : null}
      {stats === undefined ? null : (
        <>
          <p className="muted small">
            From {formatTime(stats.window.since)} to {formatTime(stats.window.until)}.
          </p>
          <dl className="tiles" aria-label="Figures">
            <Tile name="Open cases" value={stats.queue.open} testId="tile-open" hint={Object.entries(stats.queue.by_status).map(([s, n]) => `${s} ${n}`).join(', ') || undefined} />
            <Tile name="Overdue" value={stats.queue.overdue} testId="tile-overdue" />
            <Tile name="Oldest open case" value={stats.queue.oldest_age_seconds === null ? '—' : formatDuration(stats.queue.oldest_age_seconds)} testId="tile-oldest" />
            <Tile
              name="Time to decision (p50 / p90)"
              value={
                stats.time_to_decision.p50_seconds === null
                  ? '—'
                  : `${formatDuration(stats.time_to_decision.p50_seconds)} / ${formatDuration(stats.time_to_decision.p90_seconds ?? 0)}`
              }
              testId="tile-ttd"
              hint={`${stats.time_to_decision.closed} closed`}
            />
            <Tile
              name="Override rate"
              value={overrideRate === null ? '—' : `${Math.round(overrideRate * 100)}%`}
              testId="tile-overrides"
              hint={`${stats.verdicts.overrides} of ${stats.verdicts.total} verdicts went against the machine`}
            />
          </dl>
          <section className="card" aria-labelledby="d-decisions">
            <h2 id="d-decisions">Decisions by outcome</h2>
            <StackedBarChart
              title="Decisions by outcome"
              testId="chart-decisions"
              series={OUTCOMES}
              rows={stats.decisions.map((d) => ({ category: d.bucket, values: { allow: d.allow, challenge: d.challenge, review: d.review, deny: d.deny } }))}
              categoryLabel={(c) => bucketLabel(c, stats.window.bucket_seconds)}
            />
          </section>
          <div className="grid-2">
            <section className="card" aria-labelledby="d-age">
              <h2 id="d-age">Open cases by age</h2>
              <BarChart title="Open cases by age" testId="chart-age" bars={stats.queue.by_age.map((b) => ({ label: b.label, value: b.count }))} empty="No open cases." />
            </section>
            <section className="card" aria-labelledby="d-labels">
              <h2 id="d-labels">Verdicts by label</h2>
              <BarChart title="Verdicts by label" testId="chart-labels" color="#7c3aed" bars={labels.map(([l, n]) => ({ label: label(l), value: n }))} empty="No verdicts in this window." />
            </section>
          </div>
        </>
      )}
    </main>
  );
}
