/** Small shared pieces: error messages, badges, and the step-up prompt (TOTP code or passkey). */
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, describeError, post, type Ceremony, type SessionInfo } from './api.js';
import { acrName, formatDuration } from './format.js';
import { getPasskey, passkeysSupported } from './webauthn.js';

export function ErrorMessage({ error }: { error: unknown }): ReactNode {
  if (error === undefined || error === null) return null;
  const code = error instanceof ApiError && error.code !== '' ? error.code : undefined;
  return (
    <div className="error" role="alert">
      <span>{describeError(error)}</span>
      {code === undefined ? null : <span className="code"> ({code.replace(/^LOOPGATE_ERR_/, '')})</span>}
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'bad' | 'warn' | 'info' | 'muted'; children: ReactNode }): ReactNode {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function RiskBadge({ level }: { level: string }): ReactNode {
  const tone = level === 'critical' || level === 'high' ? 'bad' : level === 'medium' ? 'warn' : level === 'low' ? 'ok' : 'muted';
  return <Badge tone={tone}>{level}</Badge>;
}

export function StatusBadge({ status }: { status: string }): ReactNode {
  const tone = status === 'open' ? 'info' : status === 'claimed' ? 'warn' : status === 'escalated' ? 'bad' : 'muted';
  return <Badge tone={tone}>{status}</Badge>;
}

export function Spinner({ label = 'Loading…' }: { label?: string }): ReactNode {
  return (
    <p className="muted" role="status">
      {label}
    </p>
  );
}

export interface StepUpNeed {
  acr_values?: string[];
  max_age?: number;
  detail?: string;
}

/** What a route (or an enrolment) asks for, in words. */
export function describeNeed(need: StepUpNeed): string {
  const levels = need.acr_values !== undefined && need.acr_values.length > 0 ? need.acr_values.map(acrName).join(' or ') : 'a fresh authentication';
  return need.max_age === undefined ? `This needs ${levels}.` : `This needs ${levels}, proven within the last ${formatDuration(need.max_age)}.`;
}

/**
 * Step up the session: a code from the authenticator app (POST /v1/auth/totp, AAL2) or a passkey
 * (POST /v1/me/step-up/passkey, the passkey's level). Calls onDone with the session's new assurance.
 */
export function StepUp({ need, factors, onDone, onCancel, title = 'Step up your sign-in' }: {
  need: StepUpNeed;
  factors: string[];
  onDone: (session: SessionInfo) => void;
  onCancel?: () => void;
  title?: string;
}): ReactNode {
  const id = useId();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const onlyAal3 = need.acr_values !== undefined && need.acr_values.length > 0 && need.acr_values.every((a) => a === 'urn:loopgate:acr:aal3');
  const hasTotp = factors.includes('totp');
  const hasPasskey = factors.includes('webauthn');

  const submitCode = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await post<SessionInfo>('/v1/auth/totp', { code: code.trim() });
      setCode('');
      onDone(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const withPasskey = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const ceremony = await post<Ceremony>('/v1/me/step-up/passkey/options');
      const response = await getPasskey(ceremony.options);
      const session = await post<SessionInfo>('/v1/me/step-up/passkey', { challenge_id: ceremony.challenge_id, response });
      onDone(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="stepup" aria-labelledby={`${id}-title`} role="region">
      <h3 id={`${id}-title`}>{title}</h3>
      <p>{describeNeed(need)}</p>
      {need.detail === undefined ? null : <p className="muted small">{need.detail}</p>}
      {hasTotp ? (
        <form onSubmit={submitCode} className="inline-form">
          <div className="field">
            <label htmlFor={`${id}-code`}>Code from your authenticator app</label>
            <TotpCodeInput id={`${id}-code`} name="stepup-code" value={code} onChange={setCode} />
          </div>
          <button type="submit" disabled={busy || code.length !== 6}>
            Verify code
          </button>
        </form>
      ) : null}
      {hasTotp && onlyAal3 ? (
        <p className="muted small">
          A code gives AAL2, which is not enough here: use a passkey{hasPasskey ? '' : ' (add one on your account page first)'}.
        </p>
      ) : null}
      {hasPasskey && passkeysSupported() ? (
        <p>
          <button type="button" onClick={() => void withPasskey()} disabled={busy}>
            Step up with a passkey
          </button>
        </p>
      ) : null}
      {!hasTotp && !hasPasskey ? <p>You have no second factor yet: add one on your <a href="#/me">account page</a>, or sign in again.</p> : null}
      <ErrorMessage error={error} />
      {onCancel === undefined ? null : (
        <p>
          <button type="button" className="secondary" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </p>
      )}
    </section>
  );
}

/** Busy and error state around the async actions of a form: the error of the last one is kept for display. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** A 6-digit code from an authenticator app: digits only, offered by the browser as a one-time code. */
export function TotpCodeInput({ id, name, value, onChange, autoFocus }: { id: string; name?: string; value: string; onChange: (code: string) => void; autoFocus?: boolean }): ReactNode {
  return (
    <input
      id={id}
      name={name}
      inputMode="numeric"
      autoComplete="one-time-code"
      pattern="[0-9]{6}"
      maxLength={6}
      required
      autoFocus={autoFocus}
      value={value}
      onChange={(e) => onChange(e.target.value.replace(/\D/g, ''))}
    />
  );
}
