/**
 * The signed-in person: roles, permissions, the session's assurance (acr, amr, auth_time); enrol an authenticator
 * app (POST /v1/me/totp → confirm with a code) or a passkey (POST /v1/me/passkeys/options → create →
 * POST /v1/me/passkeys); step up with either. Enrolment needs a recent (and, with a second factor, strong) sign-in:
 * a 401 STEP_UP_REQUIRED answer shows the step-up prompt.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, post, type Ceremony } from '../api.js';
import { acrName, amrNames, formatTime } from '../format.js';
import { useSession } from '../session.js';
import { ErrorMessage, StepUp, TotpCodeInput, type StepUpNeed } from '../ui.js';
import { createPasskey, passkeysSupported } from '../webauthn.js';

function needOf(e: unknown): StepUpNeed | undefined {
  if (!(e instanceof ApiError) || e.code !== 'LOOPGATE_ERR_STEP_UP_REQUIRED') return undefined;
  const p = e.problem as { acr_values?: string[]; max_age?: number; detail?: string };
  return { ...(p.acr_values === undefined ? {} : { acr_values: p.acr_values }), ...(p.max_age === undefined ? {} : { max_age: p.max_age }), ...(p.detail === undefined ? {} : { detail: p.detail }) };
}

export function Account(): ReactNode {
  const { me, refresh } = useSession();
  const session = me.session;
  const [stepUp, setStepUp] = useState<StepUpNeed>();
  const [stepUpDone, setStepUpDone] = useState<string>();

  const onNeed = (e: unknown): boolean => {
    const need = needOf(e);
    if (need !== undefined) setStepUp(need);
    return need !== undefined;
  };

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Your account</h1>
      <div className="grid-2">
        <section className="card" aria-labelledby="who">
          <h2 id="who">{me.principal.display_name ?? me.principal.id}</h2>
          <dl className="facts">
            <dt>Account</dt>
            <dd>{me.principal.id}</dd>
            <dt>Roles in force</dt>
            <dd>{me.roles.length === 0 ? 'none' : me.roles.map((r) => r.role + (r.condition === null ? '' : ` (when ${r.condition})`) + (r.expires_at === null ? '' : ` until ${formatTime(r.expires_at)}`)).join(', ')}</dd>
            <dt>Permissions</dt>
            <dd>{me.permissions.length === 0 ? 'none beyond the cases your roles reach' : me.permissions.join(', ')}</dd>
            <dt>Attributes</dt>
            <dd>{Object.keys(me.principal.attributes).length === 0 ? 'none' : Object.entries(me.principal.attributes).map(([k, v]) => `${k}: ${String(v)}`).join(', ')}</dd>
            <dt>Second factors</dt>
            <dd>{me.factors.length === 0 ? 'none' : me.factors.map((f) => (f === 'webauthn' ? 'passkey' : f === 'totp' ? 'authenticator app' : f)).join(', ')}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="session-title">
          <h2 id="session-title">This session</h2>
          {session === undefined ? (
            <p>Not a session.</p>
          ) : (
            <dl className="facts" data-testid="session-facts">
              <dt>Assurance (acr)</dt>
              <dd>
                <span data-acr={session.acr}>{acrName(session.acr)}</span>
                <br />
                <code className="small">{session.acr}</code>
              </dd>
              <dt>Methods (amr)</dt>
              <dd>
                {amrNames(session.amr)} <code className="small">[{session.amr.join(', ')}]</code>
              </dd>
              <dt>Authenticated at (auth_time)</dt>
              <dd>{formatTime(session.auth_time)}</dd>
              <dt>Expires</dt>
              <dd>{formatTime(session.expires_at)}</dd>
            </dl>
          )}
          <p>
            <button type="button" className="secondary" onClick={() => setStepUp({})}>
              Step up now
            </button>
          </p>
          {stepUpDone === undefined ? null : (
            <p className="notice" role="status">
              {stepUpDone}
            </p>
          )}
        </section>
      </div>

      {stepUp === undefined ? null : (
        <div className="card">
          <StepUp
            need={stepUp}
            factors={me.factors}
            onCancel={() => setStepUp(undefined)}
            onDone={(s) => {
              setStepUp(undefined);
              setStepUpDone(`Stepped up: ${acrName(s.acr)} at ${formatTime(s.auth_time)}. Try again what you were doing.`);
              void refresh();
            }}
          />
        </div>
      )}

      <div className="grid-2">
        <TotpEnrolment onNeed={onNeed} />
        <PasskeyEnrolment onNeed={onNeed} />
      </div>
    </main>
  );
}

function TotpEnrolment({ onNeed }: { onNeed: (e: unknown) => boolean }): ReactNode {
  const { me, refresh } = useSession();
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string }>();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const has = me.factors.includes('totp');

  const start = async () => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setEnrolment(await post<{ secret: string; uri: string }>('/v1/me/totp'));
    } catch (e) {
      if (!onNeed(e)) setError(e);
    } finally {
      setBusy(false);
    }
  };
  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await post('/v1/me/totp/confirm', { code: code.trim() });
      setEnrolment(undefined);
      setCode('');
      setDone('The authenticator app is confirmed; this session is now at AAL2.');
      await refresh();
    } catch (err) {
      if (!onNeed(err)) setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="totp-title">
      <h2 id="totp-title">Authenticator app</h2>
      <p>{has ? 'You have an authenticator app. Setting up a new one replaces it.' : 'Add an authenticator app (TOTP) as a second factor.'}</p>
      {enrolment === undefined ? (
        <button type="button" onClick={() => void start()} disabled={busy}>
          {has ? 'Replace authenticator app' : 'Set up authenticator app'}
        </button>
      ) : (
        <>
          <p>Scan the code with your app, or paste the link, or type the secret.</p>
          <TotpQrCode uri={enrolment.uri} />
          <div className="field">
            <label htmlFor="totp-uri">otpauth link</label>
            <input id="totp-uri" readOnly value={enrolment.uri} onFocus={(e) => e.target.select()} />
          </div>
          <div className="field">
            <label htmlFor="totp-secret">Secret</label>
            <input id="totp-secret" readOnly className="mono" value={enrolment.secret} onFocus={(e) => e.target.select()} />
          </div>
          <form onSubmit={(e) => void confirm(e)} className="inline-form">
            <div className="field">
              <label htmlFor="totp-confirm">First code from the app</label>
              <TotpCodeInput id="totp-confirm" value={code} onChange={setCode} />
            </div>
            <button type="submit" disabled={busy || code.length !== 6}>
              Confirm
            </button>
          </form>
        </>
      )}
      {done === undefined ? null : (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

function PasskeyEnrolment({ onNeed }: { onNeed: (e: unknown) => boolean }): ReactNode {
  const { me, refresh } = useSession();
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const ceremony = await post<Ceremony>('/v1/me/passkeys/options');
      const response = await createPasskey(ceremony.options);
      const added = await post<{ passkey: { label: string; synced: boolean }; session: { acr: string } }>('/v1/me/passkeys', {
        challenge_id: ceremony.challenge_id,
        response,
        ...(label.trim() === '' ? {} : { label: label.trim() }),
      });
      setDone(`Passkey "${added.passkey.label}" added (${added.passkey.synced ? 'synced' : 'device-bound'}); this session is now at ${acrName(added.session.acr)}.`);
      setLabel('');
      await refresh();
    } catch (err) {
      if (!onNeed(err)) setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="passkey-title">
      <h2 id="passkey-title">Passkeys</h2>
      <p>
        {me.factors.includes('webauthn') ? 'You have at least one passkey. ' : ''}A passkey on this device signs verdicts itself (AAL3 when it is
        device-bound) and signs you in without a password.
      </p>
      {passkeysSupported() ? (
        <form onSubmit={(e) => void add(e)} className="inline-form">
          <div className="field">
            <label htmlFor="passkey-label">Name for the passkey (optional)</label>
            <input id="passkey-label" maxLength={100} value={label} onChange={(e) => setLabel(e.target.value)} placeholder="work laptop" />
          </div>
          <button type="submit" disabled={busy}>
            Add a passkey
          </button>
        </form>
      ) : (
        <p>This browser does not support passkeys.</p>
      )}
      {done === undefined ? null : (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

/** The otpauth:// URI as a QR code (a data: URL image, which the console's CSP allows), drawn in the browser. */
function TotpQrCode({ uri }: { uri: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let live = true;
    // Loaded on demand: the encoder is needed once per enrolment, not on the first load of the console.
    void import('qrcode')
      // A CommonJS package: its functions may sit on the namespace or on its default export, depending on the bundler.
      .then((m) => ((m as unknown as { default?: typeof m }).default ?? m).toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 200 }))
      .then((url) => live && setSrc(url));
    return () => {
      live = false;
    };
  }, [uri]);
  return src === undefined ? null : <img className="totp-qr" src={src} width={200} height={200} alt="QR code of the authenticator app link" />;
}
