/**
 * Giving a verdict:
 *   1. the form: verdict, label, reason (required when the verdict differs from the machine's recommendation);
 *   2. POST …/verdicts/challenge: the exact payload (`canonical`) is shown — "you are signing";
 *   3. "Sign with passkey" (navigator.credentials.get on the challenge's passkey options, proof webauthn) or
 *      "Submit with my session" (nonce only; the server signs with its approval key);
 *   4. 401 STEP_UP_REQUIRED: the step-up prompt names what the route needs; after it, the reviewer submits again;
 *   5. the result: final decision and outcome (or the quorum still waiting), the proof type, the audit link.
 */
import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, get, post, type CaseDetail, type VerdictChallenge, type VerdictResult } from '../api.js';
import { acrName, formatTime, label as words } from '../format.js';
import { href } from '../router.js';
import { useSession } from '../session.js';
import { ErrorMessage, StepUp, useAction, type StepUpNeed } from '../ui.js';
import { getPasskey, passkeysSupported } from '../webauthn.js';

const LABELS = ['confirmed_safe', 'confirmed_risk', 'benign_true_positive', 'unsure'] as const;
const LABEL_HELP: Record<string, string> = {
  confirmed_safe: 'the person or action is legitimate (the baseline learns from an approval)',
  confirmed_risk: 'an attack or misuse',
  benign_true_positive: 'unusual, correctly flagged, but harmless',
  unsure: 'cannot tell',
};
/** Challenge problems that a fresh challenge cures. */
const STALE_CHALLENGE = new Set(['LOOPGATE_ERR_CHALLENGE_INVALID', 'LOOPGATE_ERR_NONCE_REUSED']);

type Mode = 'passkey' | 'session';
type Stage =
  | { kind: 'form' }
  | { kind: 'confirm'; challenge: VerdictChallenge; note?: string }
  | { kind: 'stepup'; challenge: VerdictChallenge; need: StepUpNeed; mode: Mode; steppedUp?: string }
  | { kind: 'done'; result: VerdictResult };

export function VerdictPanel({ c, reload }: { c: CaseDetail; reload: () => Promise<void> }): ReactNode {
  const { me, refresh } = useSession();
  const id = useId();
  const [verdict, setVerdict] = useState<string>('');
  const [labelValue, setLabelValue] = useState<string>('');
  const [reason, setReason] = useState('');
  const [stage, setStage] = useState<Stage>({ kind: 'form' });
  const { busy, error, run } = useAction();

  const mine = c.status === 'claimed' && c.claimed_by === me.principal.id;
  const verdicts = ['approve', 'deny', ...(c.route.escalate_to === undefined ? [] : ['escalate'])];
  const overrides = verdict !== '' && verdict !== c.recommendation.verdict;
  const input = { verdict, label: labelValue, reason: reason.trim() };

  // Keyboard: `a` approve, `d` deny (then the label and reason), while the form is shown and no field has focus.
  useEffect(() => {
    if (!mine || stage.kind !== 'form') return;
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.ctrlKey || e.metaKey || e.altKey || (target !== null && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      const choice = e.key === 'a' ? 'approve' : e.key === 'd' ? 'deny' : undefined;
      if (choice === undefined) return;
      e.preventDefault();
      setVerdict(choice);
      document.getElementById(`${id}-label`)?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [mine, stage.kind, id]);

  // The lease went away (released, expired, decided by someone else) while a verdict was being prepared.
  useEffect(() => {
    if (!mine && stage.kind !== 'done') setStage({ kind: 'form' });
  }, [mine, stage.kind]);

  if (stage.kind === 'done') return <Result c={c} result={stage.result} />;
  if (!mine) {
    if (c.you.can_decide && !['decided', 'expired', 'cancelled'].includes(c.status)) {
      return (
        <section className="card" aria-labelledby={`${id}-v`}>
          <h2 id={`${id}-v`}>Verdict</h2>
          <p className="muted">Claim the case to give a verdict.</p>
        </section>
      );
    }
    return null;
  }


  const requestChallenge = () => post<VerdictChallenge>(`/v1/cases/${c.id}/verdicts/challenge`, input);

  const prepare = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => setStage({ kind: 'confirm', challenge: await requestChallenge() }));
  };

  const submit = (challenge: VerdictChallenge, mode: Mode) =>
    run(async () => {
      const body: Record<string, unknown> = { ...input, nonce: challenge.nonce };
      if (mode === 'passkey') {
        if (challenge.passkey === undefined) throw new Error('this challenge carries no passkey options');
        body.proof = { type: 'webauthn', response: await getPasskey(challenge.passkey) };
      }
      try {
        const result = await post<VerdictResult>(`/v1/cases/${c.id}/verdicts`, body);
        setStage({ kind: 'done', result });
        void reload();
      } catch (e) {
        if (e instanceof ApiError && e.code === 'LOOPGATE_ERR_STEP_UP_REQUIRED') {
          const p = e.problem as { acr_values?: string[]; max_age?: number; detail?: string };
          setStage({
            kind: 'stepup',
            challenge,
            mode,
            need: { ...(p.acr_values === undefined ? {} : { acr_values: p.acr_values }), ...(p.max_age === undefined ? {} : { max_age: p.max_age }), ...(p.detail === undefined ? {} : { detail: p.detail }) },
          });
          return;
        }
        if (e instanceof ApiError && STALE_CHALLENGE.has(e.code)) {
          // Expired or spent: a new challenge, shown again before anything is signed.
          setStage({ kind: 'confirm', challenge: await requestChallenge(), note: `${e.message}. Here is a new challenge: check it and sign again.` });
          return;
        }
        throw e;
      }
    });

  if (stage.kind === 'form') {
    return (
      <section className="card" aria-labelledby={`${id}-v`}>
        <h2 id={`${id}-v`}>Verdict</h2>
        <form onSubmit={prepare} className="verdict-form">
          <fieldset>
            <legend>Your verdict</legend>
            <div className="choices">
              {verdicts.map((v) => (
                <label key={v} className={`choice choice-${v}`}>
                  <input type="radio" name={`${id}-verdict`} value={v} checked={verdict === v} onChange={() => setVerdict(v)} required />
                  {v}
                  {v === c.recommendation.verdict ? <span className="muted small"> (recommended)</span> : null}
                </label>
              ))}
            </div>
          </fieldset>
          <div className="field">
            <label htmlFor={`${id}-label`}>Label</label>
            <select id={`${id}-label`} required value={labelValue} onChange={(e) => setLabelValue(e.target.value)}>
              <option value="" disabled>
                Choose a label…
              </option>
              {LABELS.map((l) => (
                <option key={l} value={l}>
                  {words(l)}
                </option>
              ))}
            </select>
            {labelValue === '' ? null : <p className="muted small">{LABEL_HELP[labelValue]}</p>}
          </div>
          <div className="field">
            <label htmlFor={`${id}-reason`}>Reason{overrides ? ' (required)' : ' (optional)'}</label>
            <textarea
              id={`${id}-reason`}
              rows={3}
              maxLength={2000}
              required={overrides}
              aria-describedby={`${id}-reason-help`}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
            <p id={`${id}-reason-help`} className={`small ${overrides ? 'warn-text' : 'muted'}`}>
              {overrides
                ? `Required: your verdict differs from the machine’s recommendation (${c.recommendation.verdict}: ${c.recommendation.why}).`
                : `Required when your verdict differs from the machine’s recommendation (${c.recommendation.verdict}).`}
            </p>
          </div>
          <button type="submit" disabled={busy || verdict === '' || labelValue === '' || (overrides && reason.trim() === '')}>
            Review and sign…
          </button>
        </form>
        <ErrorMessage error={error} />
      </section>
    );
  }

  const { challenge } = stage;
  const canPasskey = challenge.passkey !== undefined && passkeysSupported();
  return (
    <section className="card signing" aria-labelledby={`${id}-s`}>
      <h2 id={`${id}-s`}>You are signing:</h2>
      {stage.kind === 'confirm' && stage.note !== undefined ? (
        <p className="notice" role="status">
          {stage.note}
        </p>
      ) : null}
      <pre className="json canonical" data-testid="canonical" tabIndex={0} aria-label="The exact payload you sign">
        {challenge.canonical}
      </pre>
      <p className="muted small">
        Usable once, until {formatTime(challenge.expires_at)}
        {challenge.assurance === undefined ? '' : ` · the route needs ${challenge.assurance.acr_values.map(acrName).join(' or ')}`}.
      </p>
      {stage.kind === 'stepup' ? (
        stage.steppedUp === undefined ? (
          <StepUp
            title="Step-up required"
            need={stage.need}
            factors={me.factors}
            onDone={(s) => {
              setStage({ ...stage, steppedUp: `Your session is now at ${acrName(s.acr)} (at ${formatTime(s.auth_time)}).` });
              void refresh();
            }}
            onCancel={() => setStage({ kind: 'confirm', challenge })}
          />
        ) : (
          <div className="stepped-up">
            <p className="notice" role="status">
              {stage.steppedUp} Submit the verdict again.
            </p>
            <button type="button" onClick={() => void submit(challenge, stage.mode)} disabled={busy}>
              {stage.mode === 'passkey' ? 'Sign with passkey again' : 'Submit verdict again'}
            </button>
          </div>
        )
      ) : (
        <div className="actions">
          {canPasskey ? (
            <button type="button" onClick={() => void submit(challenge, 'passkey')} disabled={busy}>
              Sign with passkey
            </button>
          ) : null}
          <button type="button" className={canPasskey ? 'secondary' : undefined} onClick={() => void submit(challenge, 'session')} disabled={busy}>
            {canPasskey ? 'Submit with my session instead' : 'Submit verdict'}
          </button>
          <button type="button" className="secondary" onClick={() => setStage({ kind: 'form' })} disabled={busy}>
            Change
          </button>
        </div>
      )}
      {canPasskey ? null : (
        <p className="muted small">Without a passkey, Loopgate signs this payload with its approval key once your session’s assurance is checked.</p>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

function Result({ c, result }: { c: CaseDetail; result: VerdictResult }): ReactNode {
  const [jwks, setJwks] = useState<string>();
  const proof = result.verdict.proof;
  useEffect(() => {
    if (proof.type !== 'server_signature') return;
    get<{ keys: Array<{ kid?: string }> }>('/v1/keys/approval')
      .then((k) => setJwks(k.keys.map((x) => x.kid ?? '?').join(', ')))
      .catch(() => undefined);
  }, [proof.type]);
  const decision = result.decision;
  return (
    <section className="card result" aria-labelledby="result-title" data-testid="verdict-result">
      <h2 id="result-title">Verdict recorded</h2>
      <p>
        You gave <strong>{String(result.verdict.payload.verdict)}</strong> ({words(String(result.verdict.payload.label))}).
      </p>
      {decision !== undefined && decision.status === 'final' ? (
        <p className={`outcome outcome-${decision.resolution?.outcome ?? ''}`} data-testid="decision-outcome">
          Decision final: <strong>{decision.resolution?.outcome}</strong> (by {decision.resolution?.by})
        </p>
      ) : result.tally.state === 'escalated' ? (
        <p data-testid="decision-outcome">Escalated: the case now waits for {c.route.escalate_to?.roles.join(', ') ?? 'the escalation’s reviewers'}.</p>
      ) : (
        <p data-testid="decision-outcome">
          The decision is still pending: the route needs {c.route.quorum} approvals{c.route.distinct_roles ? ' from distinct roles' : ''}
          {typeof result.tally.approvals === 'number' ? ` (${result.tally.approvals} so far)` : ''}.
        </p>
      )}
      <p>
        Proof: <strong data-testid="proof-type">{proof.type}</strong>{' '}
        <span className="muted small break">
          {proof.type === 'webauthn'
            ? '— your passkey signed the payload'
            : `— Loopgate’s approval key signed the payload (EdDSA${typeof proof.kid === 'string' ? `, kid ${proof.kid}` : ''}${jwks === undefined ? '' : `; published at /v1/keys/approval`})`}
        </span>
      </p>
      <p>
        <a href={href('audit', { case: c.id })}>Audit entries of this case</a>
      </p>
    </section>
  );
}
