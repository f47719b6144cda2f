/**
 * One case as its reviewer sees it (GET /v1/cases/<id>): the subject and event, the risk score and each reason
 * with its contribution, the machine's recommendation, the typing and pointer rhythm against the subject's
 * enrolled profile (deviations on a gauge, enrolment), the subject's baseline beside this event, the timeline from
 * the audit log, comments; claiming and releasing; and the verdict (VerdictPanel). Reloads on stream events about
 * this case.
 */
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, describeError, get, post, type CaseDetail, type TimelineEntry } from '../api.js';
import { acrName, conflictText, formatDuration, formatTime, label, relative, score, signed } from '../format.js';
import { href } from '../router.js';
import { hasPermission, useSession } from '../session.js';
import { ErrorMessage, RiskBadge, Spinner, StatusBadge, useAction } from '../ui.js';
import { useCaseStream } from './Queue.js';
import { VerdictPanel } from './VerdictPanel.js';

const CLOSED = new Set(['decided', 'expired', 'cancelled']);

export function CaseView({ id }: { id: string }): ReactNode {
  const [detail, setDetail] = useState<CaseDetail>();
  const [error, setError] = useState<unknown>();

  const load = useCallback(async () => {
    try {
      setDetail(await get<CaseDetail>(`/v1/cases/${encodeURIComponent(id)}`));
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    setDetail(undefined);
    setError(undefined);
    void load();
  }, [load]);

  useCaseStream((_type, e) => {
    if (e.case_id === id) void load();
  });

  if (error instanceof ApiError && (error.status === 404 || error.code === 'LOOPGATE_ERR_CASE_NOT_FOUND')) {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <Breadcrumb />
        <h1>Case not found</h1>
        <p data-testid="case-not-found">There is no case with this id in your scope. Cases outside the scope of your roles are not shown to you.</p>
        <p>
          <a href="#/queue">Back to the queue</a>
        </p>
      </main>
    );
  }
  if (detail === undefined) {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <Breadcrumb />
        {error === undefined ? <Spinner /> : <ErrorMessage error={error} />}
      </main>
    );
  }
  return <CaseBody detail={detail} reload={load} loadError={error} />;
}

function Breadcrumb({ current }: { current?: string }): ReactNode {
  return (
    <nav aria-label="Breadcrumb" className="breadcrumb">
      <a href="#/queue">Queue</a>
      {current === undefined ? null : (
        <>
          {' '}
          <span aria-hidden="true">›</span> <span aria-current="page">{current}</span>
        </>
      )}
    </nav>
  );
}

function CaseBody({ detail: c, reload, loadError }: { detail: CaseDetail; reload: () => Promise<void>; loadError: unknown }): ReactNode {
  const { me } = useSession();
  const serverNow = Date.parse(c.created_at) + c.age_seconds * 1000;
  const subjectRest = Object.entries(c.subject).filter(([k]) => k !== 'id');

  return (
    <main id="main" className="page" tabIndex={-1}>
      <Breadcrumb current={`${c.event_type} of ${c.subject.id}`} />
      <header className="case-head">
        <h1>
          {c.event_type} of <span className="subject">{c.subject.id}</span> <StatusBadge status={c.status} />
        </h1>
        <ul className="case-meta">
          <li>
            Risk <RiskBadge level={c.risk.level} /> <span className="mono">{score(c.risk.score)}</span>
          </li>
          {subjectRest.length === 0 ? null : <li>Subject {subjectRest.map(([k, v]) => `${k}: ${String(v)}`).join(', ')}</li>}
          <li>Route {c.route.name}</li>
          <li>Opened {formatDuration(c.age_seconds)} ago</li>
          {c.closed_at === null ? (
            <>
              <li title={formatTime(c.deadline_at)}>Deadline {relative(c.deadline_at, serverNow)}</li>
              <li>{c.claimed_by === null ? 'Not claimed' : `Claimed by ${c.claimed_by}`}</li>
            </>
          ) : (
            <li>
              Closed {relative(c.closed_at, serverNow)}
              {c.outcome === null ? '' : `, outcome ${c.outcome}`}
            </li>
          )}
        </ul>
      </header>
      <ErrorMessage error={loadError} />
      <div className="case-grid">
        <div className="case-main">
          <Reasons c={c} />
          <Behaviour c={c} />
          <EventSection c={c} />
          <Baseline c={c} />
          {c.verdicts.length === 0 ? null : <Verdicts c={c} />}
          <Timeline entries={c.timeline} />
          {c.you.roles.length > 0 || hasPermission(me, 'cases:manage') ? <Comments c={c} reload={reload} /> : null}
        </div>
        <aside className="case-side" aria-label="Your part">
          <YourPart c={c} reload={reload} serverNow={serverNow} />
          <VerdictPanel c={c} reload={reload} />
        </aside>
      </div>
    </main>
  );
}

function Reasons({ c }: { c: CaseDetail }): ReactNode {
  const max = Math.max(0.0001, ...c.risk.reasons.map((r) => Math.abs(r.contribution)));
  return (
    <section className="card" aria-labelledby="reasons-title">
      <h2 id="reasons-title">Why the machine asked a person</h2>
      <p>
        Risk score <strong className="mono">{score(c.risk.score)}</strong> <RiskBadge level={c.risk.level} />
        {c.risk.model === undefined ? null : (
          <span className="muted small">
            {' '}
            — model {c.risk.model.name} {c.risk.model.version}
          </span>
        )}
      </p>
      {c.risk.reasons.length === 0 ? (
        <p className="muted">No reasons were recorded.</p>
      ) : (
        <ol className="reasons">
          {c.risk.reasons.map((r, i) => (
            <li key={`${r.signal}-${i}`} className="reason">
              <div className="reason-head">
                <span className="signal">{r.signal}</span>
                <span className={`contribution mono ${r.contribution > 0 ? 'up' : r.contribution < 0 ? 'down' : ''}`} title={r.contribution > 0 ? 'raises the risk' : r.contribution < 0 ? 'lowers the risk' : 'no effect'}>
                  {signed(r.contribution)}
                </span>
                <span className="bar-track" aria-hidden="true">
                  <span className={`bar ${r.contribution >= 0 ? 'up' : 'down'}`} style={{ width: `${Math.round((Math.abs(r.contribution) / max) * 100)}%` }} />
                </span>
              </div>
              <p className="sentence">{r.sentence}</p>
            </li>
          ))}
        </ol>
      )}
      <div className="recommendation">
        <h3>The machine recommends</h3>
        <p>
          <strong data-testid="recommendation">{c.recommendation.verdict}</strong> — {c.recommendation.why}.
        </p>
        {c.policy.decisive === undefined ? null : (
          <p className="muted small">
            Decisive rule: {c.policy.decisive.policy}/{c.policy.decisive.rule} (policy {c.policy.version.slice(0, 12)})
          </p>
        )}
      </div>
    </section>
  );
}

/** Deviations shown on the gauge (beyond: a full gauge) and those that carry no risk (the engine's default). */
const GAUGE_MAX = 6;
const FREE_DEVIATIONS = 1.5;

interface BehaviourRow {
  key: string;
  kind: 'typing' | 'pointer';
  name: string;
  secret?: boolean;
  /** Deviations from the subject's usual, when scored. */
  deviations?: number;
  /** Trusted entries (typing) or sessions (pointer) enrolled. */
  enrolled: number;
  /** Entries or sessions needed before the signal is scored, when it is not yet. */
  needed?: number;
  contribution?: number;
  /** Pointer actions in this event, or in the profile when the event had none. */
  actions?: number;
  /** False when the row comes from the profile only: this event carried nothing for it. */
  inEvent: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The behavioural reasons of the event, then whatever else the subject's profile has enrolled. */
function behaviourRows(c: CaseDetail): BehaviourRow[] {
  const rows: BehaviourRow[] = [];
  const profile = c.baseline.behaviour;
  for (const [i, r] of c.risk.reasons.entries()) {
    const d = r.detail ?? {};
    if (r.signal === 'typing_rhythm') {
      const field = typeof d.field === 'string' ? d.field : `field ${i + 1}`;
      const secret = typeof d.secret === 'boolean' ? d.secret : profile?.fields.find((f) => f.field === field)?.secret;
      const row: BehaviourRow = { key: `typing-${field}-${i}`, kind: 'typing', name: field, enrolled: num(d.enrolled) ?? 0, contribution: r.contribution, inEvent: true };
      if (secret !== undefined) row.secret = secret;
      const deviations = num(d.deviations);
      if (deviations !== undefined) row.deviations = deviations;
      const needed = num(d.needed);
      if (needed !== undefined) row.needed = needed;
      rows.push(row);
    } else if (r.signal === 'pointer_rhythm') {
      const row: BehaviourRow = { key: `pointer-${i}`, kind: 'pointer', name: 'pointer', enrolled: num(d.enrolled) ?? 0, contribution: r.contribution, inEvent: true };
      const deviations = num(d.deviations);
      if (deviations !== undefined) row.deviations = deviations;
      const needed = num(d.needed);
      if (needed !== undefined) row.needed = needed;
      const actions = num(d.actions);
      if (actions !== undefined) row.actions = actions;
      rows.push(row);
    }
  }
  for (const f of profile?.fields ?? []) {
    if (rows.some((r) => r.kind === 'typing' && r.name === f.field)) continue;
    rows.push({ key: `profile-${f.field}`, kind: 'typing', name: f.field, secret: f.secret, enrolled: f.entries, inEvent: false });
  }
  if (profile?.pointer != null && !rows.some((r) => r.kind === 'pointer')) {
    rows.push({ key: 'profile-pointer', kind: 'pointer', name: 'pointer', enrolled: profile.pointer.sessions, actions: profile.pointer.actions, inEvent: false });
  }
  return rows;
}

/** Deviations from the usual as a small horizontal gauge, 0 to 6+, the free zone (no risk) marked. Inline SVG, as the charts. */
function DeviationGauge({ deviations, name }: { deviations: number; name: string }): ReactNode {
  const W = 120;
  const H = 12;
  const shown = Math.max(0, deviations);
  const clamped = Math.min(GAUGE_MAX, shown);
  const x = (v: number) => (v / GAUGE_MAX) * W;
  const over = shown > FREE_DEVIATIONS;
  const text = `${shown.toFixed(1)}${shown > GAUGE_MAX ? ' (6+)' : ''}`;
  return (
    <span className="gauge">
      <span
        role="meter"
        aria-label={`Deviations from the usual, ${name}`}
        aria-valuemin={0}
        aria-valuemax={GAUGE_MAX}
        aria-valuenow={Math.round(clamped * 10) / 10}
        aria-valuetext={`${shown.toFixed(1)} deviations from the usual; up to ${FREE_DEVIATIONS} carries no risk`}
        className="gauge-meter"
      >
        <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} aria-hidden="true" className="gauge-svg">
          <rect x={0} y={2} width={W} height={H - 4} rx={4} className="gauge-track" />
          <rect x={0} y={2} width={x(FREE_DEVIATIONS)} height={H - 4} rx={4} className="gauge-free" />
          {clamped > 0 ? <rect x={0} y={3} width={Math.max(2, x(clamped))} height={H - 6} rx={3} className={`gauge-value ${over ? 'up' : 'down'}`} /> : null}
          <line x1={x(FREE_DEVIATIONS)} x2={x(FREE_DEVIATIONS)} y1={0} y2={H} className="gauge-mark" />
        </svg>
      </span>{' '}
      <span className={`mono gauge-text ${over ? 'up' : ''}`} data-testid="deviations">
        {text}
      </span>
    </span>
  );
}

function Behaviour({ c }: { c: CaseDetail }): ReactNode {
  const rows = behaviourRows(c);
  // Only for a login with typing or pointer reasons, or a subject whose profile has something enrolled.
  if (rows.length === 0) return null;
  const unit = (r: BehaviourRow) => (r.kind === 'typing' ? 'trusted entries' : 'trusted sessions');
  return (
    <section className="card" aria-labelledby="behaviour-title" data-testid="behaviour">
      <h2 id="behaviour-title">Typing and pointer</h2>
      <p className="small muted">
        How this sign-in was typed and how the pointer moved, against {c.subject.id}’s trusted sign-ins: deviations from the usual on a scale of 0 to{' '}
        {GAUGE_MAX}+; up to {FREE_DEVIATIONS} (the shaded zone) carries no risk.
      </p>
      <div className="table-wrap">
        <table className="compact behaviour" aria-label="Typing and pointer">
          <thead>
            <tr>
              <th scope="col">Signal</th>
              <th scope="col">Deviations from the usual</th>
              <th scope="col">Enrolled</th>
              <th scope="col">Contribution</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key} data-behaviour={r.kind === 'typing' ? `typing-${r.name}` : 'pointer'}>
                <th scope="row">
                  {r.kind === 'typing' ? (
                    <>
                      typing on <span className="mono">{r.name}</span>
                    </>
                  ) : (
                    'pointer movement'
                  )}
                  {r.secret === true ? <div className="muted small">secret field: positions only, keys never collected</div> : null}
                  {r.kind === 'pointer' && r.inEvent && r.actions !== undefined ? <div className="muted small">{r.actions} actions in this sign-in</div> : null}
                </th>
                <td>
                  {r.deviations !== undefined ? (
                    <DeviationGauge deviations={r.deviations} name={r.kind === 'typing' ? r.name : 'pointer'} />
                  ) : !r.inEvent ? (
                    <span className="muted">not in this event</span>
                  ) : (
                    <>
                      <span className="badge badge-muted">not scored</span>{' '}
                      <span className="small">
                        {r.enrolled} of {r.needed ?? '?'} {unit(r)} enrolled
                      </span>
                    </>
                  )}
                </td>
                <td className="nowrap">
                  <span className="mono">{r.enrolled}</span> {unit(r)}
                  {!r.inEvent && r.kind === 'pointer' && r.actions !== undefined ? <div className="muted small">{r.actions} actions</div> : null}
                </td>
                <td>
                  {r.contribution === undefined ? (
                    <span className="muted">—</span>
                  ) : (
                    <span className={`contribution mono ${r.contribution > 0 ? 'up' : r.contribution < 0 ? 'down' : ''}`} title={r.contribution > 0 ? 'raises the risk' : r.contribution < 0 ? 'lowers the risk' : 'no effect'}>
                      {signed(r.contribution)}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function show(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** `alice (region: EU)` for `{id: "alice", region: "EU"}`. */
function party(value: unknown): string {
  if (typeof value !== 'object' || value === null || typeof (value as { id?: unknown }).id !== 'string') return show(value);
  const { id, ...rest } = value as Record<string, unknown>;
  const more = Object.entries(rest).map(([k, v]) => `${k}: ${show(v)}`);
  return more.length === 0 ? String(id) : `${String(id)} (${more.join(', ')})`;
}

/**
 * The collector's payload in a sentence: reviewers judge the rhythm from the typing and pointer card, not from raw
 * timings (the raw event stays one click away, under "Event as received", because the approval binds to it).
 */
function signalsSummary(v: unknown): string {
  const p = v as { timer_resolution_ms?: number; fields?: Record<string, { secret?: boolean; strokes?: unknown[] }>; pointer?: { events?: unknown[] } };
  const fields = Object.entries(p.fields ?? {}).map(([name, f]) => `${name}${f.secret === true ? ' (secret)' : ''}: ${f.strokes?.length ?? 0} keystrokes`);
  const pointer = p.pointer?.events === undefined ? [] : [`pointer: ${Math.floor(p.pointer.events.length / 4)} events`];
  const timer = typeof p.timer_resolution_ms === 'number' ? [`timer ${p.timer_resolution_ms} ms`] : [];
  return [...fields, ...pointer, ...timer].join('; ') || 'none';
}

function EventSection({ c }: { c: CaseDetail }): ReactNode {
  const e = c.event;
  const context = Object.entries(e.context ?? {});
  const rest = Object.entries(e).filter(([k]) => !['type', 'subject', 'actor', 'time', 'context', 'version', 'received_at'].includes(k));
  return (
    <section className="card" aria-labelledby="event-title">
      <h2 id="event-title">The event</h2>
      <dl className="facts">
        <dt>Type</dt>
        <dd>{e.type}</dd>
        <dt>Time</dt>
        <dd>{formatTime(e.time)}</dd>
        <dt>Subject</dt>
        <dd>{party(e.subject)}</dd>
        {e.actor === undefined ? null : (
          <>
            <dt>Actor</dt>
            <dd>{party(e.actor)}</dd>
          </>
        )}
        {context.map(([k, v]) => (
          <FactRow key={`ctx-${k}`} name={k.replace(/_/g, ' ')} value={show(v)} />
        ))}
        {rest.map(([k, v]) => (
          <FactRow key={k} name={k.replace(/_/g, ' ')} value={k === 'signals' && e.type === 'login' ? signalsSummary(v) : show(v)} />
        ))}
      </dl>
      <details>
        <summary>Event as received, and what an approval binds to</summary>
        <p className="small">
          An approval signs the SHA-256 of this event in canonical form: <code className="mono break">{c.approved_sha256}</code>
        </p>
        <pre className="json">{JSON.stringify(e, null, 2)}</pre>
      </details>
    </section>
  );
}

function FactRow({ name, value }: { name: string; value: string }): ReactNode {
  return (
    <>
      <dt>{name}</dt>
      <dd className="break">{value}</dd>
    </>
  );
}

function Baseline({ c }: { c: CaseDetail }): ReactNode {
  const b = c.baseline;
  return (
    <section className="card" aria-labelledby="baseline-title">
      <h2 id="baseline-title">This event beside {c.subject.id}’s history</h2>
      <p className="small">
        {b.events === 0
          ? 'No history for this subject yet.'
          : `${b.events} events (${b.logins} logins) from ${formatTime(b.first_seen)} to ${formatTime(b.last_seen)}.`}
      </p>
      {b.comparison.length === 0 ? null : (
        <div className="table-wrap">
          <table className="compact" aria-label="Baseline comparison">
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col">This event</th>
                <th scope="col">Seen before</th>
                <th scope="col">Count</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {b.comparison.map((f) => (
                <tr key={f.feature} className={f.seen ? undefined : 'unseen'}>
                  <th scope="row">{label(f.feature)}</th>
                  <td className="break">{f.value}</td>
                  <td>{f.seen ? 'yes' : <strong>no</strong>}</td>
                  <td className="mono">{f.count}</td>
                  <td className="nowrap">{formatTime(f.last_seen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Baseline exceptions in force</h3>
      {b.exceptions.length === 0 ? (
        <p className="muted small">None.</p>
      ) : (
        <ul>
          {b.exceptions.map((x, i) => (
            <li key={i}>
              {label(x.feature)} = <strong>{x.value}</strong> until {formatTime(x.until)} — {x.reason} (by {x.created_by})
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Verdicts({ c }: { c: CaseDetail }): ReactNode {
  return (
    <section className="card" aria-labelledby="verdicts-title">
      <h2 id="verdicts-title">Verdicts</h2>
      <ul className="verdicts">
        {c.verdicts.map((v) => (
          <li key={`${v.reviewer_id}-${v.created_at}`}>
            <strong>{v.reviewer_id}</strong> ({v.role}) — {v.verdict}, {label(v.label)}
            {v.reason === '' ? '' : `: “${v.reason}”`} <span className="muted small">· {v.proof} · {formatTime(v.created_at)}</span>
          </li>
        ))}
      </ul>
      {c.resolution === undefined ? null : (
        <p>
          Resolution: <strong>{c.resolution.outcome}</strong> by {c.resolution.by} at {formatTime(c.resolution.at)}
          {c.resolution.learned ? ' (the baseline learns from it)' : ''}.
        </p>
      )}
    </section>
  );
}

function actorText(a: TimelineEntry['actor']): string {
  return `${a.id}${a.kind === 'human' ? '' : ` (${a.kind})`}`;
}

function entryDetail(e: TimelineEntry): string {
  const d = e.data ?? {};
  switch (e.action) {
    case 'case.commented':
      return `“${String(d.text ?? '')}”`;
    case 'case.verdict':
      return `${String(d.verdict)} · ${label(String(d.label))} · proof ${String(d.proof)}`;
    case 'case.claimed':
      return d.lease_until === undefined ? '' : `until ${formatTime(String(d.lease_until))}`;
    case 'decision.resolved':
      return `outcome ${String(d.outcome)} by ${String(d.by)}`;
    case 'case.opened':
      return `route ${String(d.route)}, deadline ${formatTime(String(d.deadline))}`;
    case 'case.escalated':
      return `to ${Array.isArray(d.to) ? d.to.join(', ') : String(d.to)}`;
    default:
      return '';
  }
}

export function Timeline({ entries }: { entries: TimelineEntry[] }): ReactNode {
  return (
    <section className="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      <div className="table-wrap">
        <table className="compact" aria-label="Timeline">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Reason / details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq}>
                <td className="nowrap">{formatTime(e.time)}</td>
                <td className="mono">{e.action}</td>
                <td>
                  {actorText(e.actor)}
                  {e.actor.assurance === undefined ? null : <div className="muted small">{acrName(e.actor.assurance.acr)}</div>}
                </td>
                <td>
                  {e.reason === undefined ? null : <div>{e.reason}</div>}
                  <div className="muted small">{entryDetail(e)}</div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Comments({ c, reload }: { c: CaseDetail; reload: () => Promise<void> }): ReactNode {
  const [text, setText] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await post(`/v1/cases/${c.id}/comments`, { text: text.trim() });
      setText('');
      await reload();
    });
  };
  return (
    <section className="card" aria-labelledby="comments-title">
      <h2 id="comments-title">Comment</h2>
      <form onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor="comment-text">Add a comment (recorded in the audit log, shown in the timeline)</label>
          <textarea id="comment-text" rows={3} maxLength={4000} required value={text} onChange={(e) => setText(e.target.value)} />
        </div>
        <button type="submit" disabled={busy || text.trim() === ''}>
          Add comment
        </button>
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}

function YourPart({ c, reload, serverNow }: { c: CaseDetail; reload: () => Promise<void>; serverNow: number }): ReactNode {
  const { me } = useSession();
  const { busy, error, run } = useAction();
  const mine = c.status === 'claimed' && c.claimed_by === me.principal.id;
  const closed = CLOSED.has(c.status);
  const act = (what: 'claim' | 'release') =>
    run(async () => {
      await post(`/v1/cases/${c.id}/${what}`);
      await reload();
    });
  return (
    <section className="card" aria-labelledby="you-title">
      <h2 id="you-title">Your part</h2>
      {c.you.conflict !== undefined ? (
        <div className="conflict" role="note" data-testid="conflict">
          <strong>You cannot decide this case.</strong> {conflictText(c.you.conflict)}
        </div>
      ) : closed ? null : c.you.can_decide ? (
        <p data-testid="can-decide">
          You may decide this case as <strong>{c.you.roles.join(', ')}</strong>.
        </p>
      ) : (
        <p data-testid="cannot-decide">
          You may read this case but not decide it: it needs {c.route.reviewers.roles.join(' or ')}
          {c.route.reviewers.scope === undefined ? '' : ' in a scope that reaches it'}.
        </p>
      )}
      <p className="small muted">
        Quorum {c.route.quorum}
        {c.route.distinct_roles ? ' from distinct roles' : ''} · reviewers {c.route.reviewers.roles.join(', ')}
        {c.route.assurance === undefined ? '' : ` · needs ${c.route.assurance.acr_values.map(acrName).join(' or ')}${c.route.assurance.max_age === undefined ? '' : ` within ${formatDuration(c.route.assurance.max_age)}`}`}
      </p>
      {closed ? (
        <p>
          This case is closed ({c.status}
          {c.outcome === null ? '' : `, outcome ${c.outcome}`}).
        </p>
      ) : mine ? (
        <>
          <p data-testid="lease">
            You hold this case until {formatTime(c.lease_until)} ({relative(c.lease_until, serverNow)}).
          </p>
          <button type="button" className="secondary" onClick={() => void act('release')} disabled={busy}>
            Release
          </button>
        </>
      ) : c.status === 'claimed' && c.claimed_by !== null && c.lease_until !== null && Date.parse(c.lease_until) > serverNow ? (
        <p>
          {c.claimed_by} holds this case until {formatTime(c.lease_until)}.
        </p>
      ) : c.you.can_decide ? (
        <button type="button" onClick={() => void act('claim')} disabled={busy}>
          Claim
        </button>
      ) : null}
      {error === undefined ? null : (
        <div className="error" role="alert">
          {describeError(error)}
        </div>
      )}
      <p className="small">
        <a href={href('audit', { case: c.id })}>Audit entries of this case</a>
      </p>
    </section>
  );
}
