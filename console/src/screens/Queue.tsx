/**
 * The review queue: GET /v1/cases with filters (kept in the URL), sortable client-side by age, risk and deadline,
 * reloaded on every case.* event of GET /v1/stream (server-sent events with the session cookie). Keyboard: j/k move
 * the selection, Enter opens the selected case, c claims it.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { describeError, get, post, type CaseSummary } from '../api.js';
import { formatDuration, formatTime, relative, score } from '../format.js';
import { href, navigate, type Route } from '../router.js';
import { useSession } from '../session.js';
import { ErrorMessage, RiskBadge, Spinner, StatusBadge } from '../ui.js';

/** Every event GET /v1/stream sends (docs/api.md, Cases and verdicts). */
export const CASE_EVENTS = [
  'case.opened',
  'case.claimed',
  'case.released',
  'case.assigned',
  'case.commented',
  'case.verdict',
  'case.escalated',
  'case.deadline_warning',
  'case.lease_expired',
  'case.decided',
  'case.expired',
  'case.cancelled',
] as const;

const STATUS_CHOICES: Array<[string, string]> = [
  ['open,claimed,escalated', 'Waiting'],
  ['open', 'Open'],
  ['claimed', 'Claimed'],
  ['escalated', 'Escalated'],
  ['decided', 'Decided'],
  ['expired', 'Expired'],
  ['cancelled', 'Cancelled'],
  ['', 'Any status'],
];
const TYPE_CHOICES = ['', 'login', 'mfa', 'transaction', 'role.change', 'access.request', 'agent.action', 'session.signal'];
const RISK_CHOICES = ['', 'critical', 'high', 'medium', 'low', 'unknown'];
const AGE_CHOICES: Array<[string, string]> = [
  ['', 'Any age'],
  ['300', 'Older than 5 min'],
  ['900', 'Older than 15 min'],
  ['3600', 'Older than 1 h'],
  ['14400', 'Older than 4 h'],
  ['86400', 'Older than 1 day'],
];
const DEFAULT_STATUS = 'open,claimed,escalated';
const RISK_ORDER: Record<string, number> = { unknown: 0, low: 1, medium: 2, high: 3, critical: 4 };

type SortKey = 'age' | 'risk' | 'deadline';
interface Sort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** Subscribes to the case event stream; calls onEvent for each case.* event. Reports whether it is connected. */
export function useCaseStream(onEvent: (type: string, event: { case_id?: string; status?: string }) => void): boolean {
  const [live, setLive] = useState(false);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const source = new EventSource('/v1/stream', { withCredentials: true });
    const listener = (e: MessageEvent<string>) => {
      let data: { case_id?: string; status?: string } = {};
      try {
        data = JSON.parse(e.data) as typeof data;
      } catch {
        // a malformed event still says something changed
      }
      handler.current(e.type, data);
    };
    for (const name of CASE_EVENTS) source.addEventListener(name, listener);
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(source.readyState === EventSource.OPEN);
    return () => {
      source.close();
      setLive(false);
    };
  }, []);
  return live;
}

function compare(a: CaseSummary, b: CaseSummary, sort: Sort): number {
  let d = 0;
  if (sort.key === 'age') d = a.age_seconds - b.age_seconds;
  else if (sort.key === 'deadline') d = Date.parse(a.deadline_at) - Date.parse(b.deadline_at);
  else d = (RISK_ORDER[a.risk.level] ?? 0) - (RISK_ORDER[b.risk.level] ?? 0) || (a.risk.score ?? 0) - (b.risk.score ?? 0);
  return sort.dir === 'asc' ? d : -d;
}

export function Queue({ route }: { route: Route }): ReactNode {
  const { me } = useSession();
  const status = route.query.get('status') ?? DEFAULT_STATUS;
  const type = route.query.get('type') ?? '';
  const risk = route.query.get('risk_level') ?? '';
  const olderThan = route.query.get('older_than') ?? '';
  const filters = { status, type, risk_level: risk, older_than: olderThan };

  const [cases, setCases] = useState<CaseSummary[]>();
  const [error, setError] = useState<unknown>();
  const [sort, setSort] = useState<Sort>({ key: 'deadline', dir: 'asc' });
  const [selected, setSelected] = useState(0);
  const [message, setMessage] = useState<{ text: string; error?: boolean }>();
  const tableRef = useRef<HTMLTableSectionElement>(null);

  const query = useMemo(() => {
    const q = new URLSearchParams({ limit: '200' });
    if (status !== '' && status !== 'any') q.set('status', status);
    if (type !== '') q.set('type', type);
    if (risk !== '') q.set('risk_level', risk);
    if (olderThan !== '') q.set('older_than', olderThan);
    return q.toString();
  }, [status, type, risk, olderThan]);

  const load = useCallback(async () => {
    try {
      const res = await get<{ cases: CaseSummary[]; next: string | null }>(`/v1/cases?${query}`);
      setCases(res.cases);
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [query]);

  useEffect(() => {
    setCases(undefined);
    void load();
  }, [load]);

  // Live: any change to a case in scope reloads the list (debounced: a verdict brings several events at once).
  const timer = useRef<number | undefined>(undefined);
  const live = useCaseStream(() => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => void load(), 150);
  });
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const sorted = useMemo(() => (cases === undefined ? [] : [...cases].sort((a, b) => compare(a, b, sort))), [cases, sort]);
  const serverNow = sorted[0] === undefined ? Date.now() : Date.parse(sorted[0].created_at) + sorted[0].age_seconds * 1000;
  const current = sorted[Math.min(selected, sorted.length - 1)];

  const claim = useCallback(
    async (c: CaseSummary) => {
      setMessage(undefined);
      try {
        const claimed = await post<CaseSummary>(`/v1/cases/${c.id}/claim`);
        setMessage({ text: `You hold the case of ${c.subject.id} until ${formatTime(claimed.lease_until)}.` });
        await load();
      } catch (e) {
        setMessage({ text: `Could not claim the case of ${c.subject.id}: ${describeError(e)}`, error: true });
      }
    },
    [load],
  );

  // Keyboard shortcuts, outside form fields.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const target = e.target as HTMLElement | null;
      if (target !== null && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName))) return;
      if (sorted.length === 0) return;
      const at = Math.min(selected, sorted.length - 1);
      if (e.key === 'j' || e.key === 'k') {
        e.preventDefault();
        const next = e.key === 'j' ? Math.min(sorted.length - 1, at + 1) : Math.max(0, at - 1);
        setSelected(next);
        tableRef.current?.querySelectorAll<HTMLAnchorElement>('a.case-link')[next]?.focus();
      } else if (e.key === 'Enter' && target?.tagName !== 'A' && target?.tagName !== 'BUTTON') {
        e.preventDefault();
        navigate(`cases/${sorted[at]!.id}`);
      } else if (e.key === 'c') {
        e.preventDefault();
        void claim(sorted[at]!);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [sorted, selected, claim]);

  const setFilter = (name: string, value: string) => navigate('queue', { ...filters, [name]: value, ...(name === 'status' && value === '' ? { status: 'any' } : {}) });
  // "any" status in the URL means no status filter (an absent one means the default).
  const statusValue = status === 'any' ? '' : status;

  const sortButton = (key: SortKey, text: string) => {
    const active = sort.key === key;
    return (
      <button
        type="button"
        className="sort"
        onClick={() => setSort(active ? { key, dir: sort.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: key === 'deadline' ? 'asc' : 'desc' })}
        aria-label={`Sort by ${text}${active ? (sort.dir === 'asc' ? ', now ascending' : ', now descending') : ''}`}
      >
        {text}
        <span aria-hidden="true">{active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ' ↕'}</span>
      </button>
    );
  };
  const ariaSort = (key: SortKey) => (sort.key === key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');

  return (
    <main id="main" className="page" tabIndex={-1}>
      <div className="page-head">
        <h1>Review queue</h1>
        <span className={`live ${live ? 'on' : 'off'}`} role="status" aria-live="polite">
          {live ? '● Live updates on' : '○ Live updates off'}
        </span>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={statusValue} onChange={(e) => setFilter('status', e.target.value)}>
            {STATUS_CHOICES.map(([v, t]) => (
              <option key={v} value={v}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-type">Type</label>
          <select id="f-type" value={type} onChange={(e) => setFilter('type', e.target.value)}>
            {TYPE_CHOICES.map((v) => (
              <option key={v} value={v}>
                {v === '' ? 'Any type' : v}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-risk">Risk level</label>
          <select id="f-risk" value={risk} onChange={(e) => setFilter('risk_level', e.target.value)}>
            {RISK_CHOICES.map((v) => (
              <option key={v} value={v}>
                {v === '' ? 'Any risk' : v}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-age">Age</label>
          <select id="f-age" value={olderThan} onChange={(e) => setFilter('older_than', e.target.value)}>
            {AGE_CHOICES.map(([v, t]) => (
              <option key={v} value={v}>
                {t}
              </option>
            ))}
          </select>
        </div>
      </form>
      <p className="muted small keys">
        Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>Enter</kbd> open, <kbd>c</kbd> claim.
      </p>
      {message === undefined ? null : message.error ? (
        <div className="error" role="alert">
          {message.text}
        </div>
      ) : (
        <p className="notice" role="status">
          {message.text}
        </p>
      )}
      <ErrorMessage error={error} />
      {cases === undefined && error === undefined ? <Spinner /> : null}
      {cases !== undefined && sorted.length === 0 ? (
        <p className="empty" data-testid="queue-empty">
          No cases {status === DEFAULT_STATUS ? 'waiting' : 'match these filters'} in your scope
          {me.roles.length === 0 ? ' (you hold no reviewer role)' : ''}.
        </p>
      ) : null}
      {sorted.length > 0 ? (
        <div className="table-wrap">
          <table className="queue" aria-label="Cases">
            <thead>
              <tr>
                <th scope="col">Subject</th>
                <th scope="col">Type</th>
                <th scope="col" aria-sort={ariaSort('risk')}>
                  {sortButton('risk', 'Risk')}
                </th>
                <th scope="col">Route</th>
                <th scope="col" aria-sort={ariaSort('age')}>
                  {sortButton('age', 'Age')}
                </th>
                <th scope="col" aria-sort={ariaSort('deadline')}>
                  {sortButton('deadline', 'Deadline')}
                </th>
                <th scope="col">Claimed by</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody ref={tableRef}>
              {sorted.map((c) => {
                const isSelected = current?.id === c.id;
                return (
                  <tr key={c.id} className={isSelected ? 'selected' : undefined} data-selected={isSelected ? 'true' : undefined} data-case-id={c.id} onClick={() => setSelected(sorted.indexOf(c))}>
                    <td>
                      <a className="case-link" href={href(`cases/${c.id}`)} onFocus={() => setSelected(sorted.indexOf(c))}>
                        {c.subject.id}
                      </a>
                      {c.risk.top_reasons[0] === undefined ? null : <div className="muted small reason-preview">{c.risk.top_reasons[0]}</div>}
                    </td>
                    <td>{c.event_type}</td>
                    <td className="nowrap">
                      <RiskBadge level={c.risk.level} /> <span className="mono">{score(c.risk.score)}</span>
                    </td>
                    <td>{c.route}</td>
                    <td className="nowrap">{formatDuration(c.age_seconds)}</td>
                    <td className="nowrap" title={formatTime(c.deadline_at)}>
                      {relative(c.deadline_at, serverNow)}
                    </td>
                    <td>{c.claimed_by ?? <span className="muted">—</span>}</td>
                    <td>
                      <StatusBadge status={c.status} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </main>
  );
}
