/**
 * Signing in: account and password, then the authenticator app's code when the account has one (state
 * mfa_pending → POST /v1/auth/totp); or a passkey (usernameless, or for the account typed in). When GET /v1/setup
 * says the first admin is still to be created, the setup form (the one-time code printed at start) comes first.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { describeError, get, post, setCsrfToken, type Ceremony, type SignInResponse } from '../api.js';
import { ErrorMessage, TotpCodeInput, useAction } from '../ui.js';
import { getPasskey, passkeysSupported } from '../webauthn.js';

export function SignIn({ mfaPending, onSignedIn }: { mfaPending: boolean; onSignedIn: () => Promise<void> }): ReactNode {
  const [stage, setStage] = useState<'password' | 'totp'>(mfaPending ? 'totp' : 'password');
  const [account, setAccount] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  const [setupPending, setSetupPending] = useState(false);
  const [notice, setNotice] = useState<string>();

  useEffect(() => {
    let live = true;
    get<{ pending: boolean }>('/v1/setup')
      .then((s) => live && setSetupPending(s.pending))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);


  const signInPassword = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const s = await post<SignInResponse>('/v1/auth/password', { id: account.trim(), password });
      setCsrfToken(s.csrf_token);
      setPassword('');
      if (s.state === 'mfa_pending') {
        setStage('totp');
        return;
      }
      await onSignedIn();
    });
  };

  const signInTotp = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await post('/v1/auth/totp', { code: code.trim() });
      setCode('');
      await onSignedIn();
    });
  };

  const signInPasskey = () =>
    void run(async () => {
      const id = account.trim();
      const ceremony = await post<Ceremony>('/v1/auth/passkey/options', id === '' ? {} : { id });
      const response = await getPasskey(ceremony.options);
      const s = await post<SignInResponse>('/v1/auth/passkey', { challenge_id: ceremony.challenge_id, response });
      setCsrfToken(s.csrf_token);
      await onSignedIn();
    });

  return (
    <main className="signin" id="main" tabIndex={-1}>
      <div className="signin-card">
        <h1>
          <span className="logo" aria-hidden="true">
            ⟲
          </span>{' '}
          Loopgate
        </h1>
        <p className="muted">Reviewer console</p>
        {setupPending ? (
          <FirstAdmin
            onDone={(id) => {
              setSetupPending(false);
              setAccount(id);
              setNotice(`The admin ${id} was created. Sign in with its password.`);
            }}
          />
        ) : null}
        {notice === undefined ? null : (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        {stage === 'password' ? (
          <>
            <h2>Sign in</h2>
            <form onSubmit={signInPassword}>
              <div className="field">
                <label htmlFor="signin-account">Account</label>
                <input id="signin-account" name="account" autoComplete="username webauthn" required value={account} onChange={(e) => setAccount(e.target.value)} />
              </div>
              <div className="field">
                <label htmlFor="signin-password">Password</label>
                <input id="signin-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
              </div>
              <button type="submit" disabled={busy}>
                Sign in
              </button>
            </form>
            {passkeysSupported() ? (
              <div className="alt-signin">
                <p className="muted small">or, with a passkey on this device (the account name is optional):</p>
                <button type="button" className="secondary" onClick={signInPasskey} disabled={busy}>
                  Sign in with a passkey
                </button>
              </div>
            ) : null}
          </>
        ) : (
          <>
            <h2>Second factor</h2>
            <p>Enter the 6-digit code from your authenticator app.</p>
            <form onSubmit={signInTotp}>
              <div className="field">
                <label htmlFor="signin-code">Code</label>
                <TotpCodeInput id="signin-code" name="code" autoFocus value={code} onChange={setCode} />
              </div>
              <button type="submit" disabled={busy || code.length !== 6}>
                Verify
              </button>{' '}
              <button
                type="button"
                className="secondary"
                disabled={busy}
                onClick={() =>
                  void run(async () => {
                    await post('/v1/auth/sign-out').catch(() => undefined);
                    setCsrfToken(null);
                    setStage('password');
                  })
                }
              >
                Start again
              </button>
            </form>
          </>
        )}
        <ErrorMessage error={error} />
      </div>
    </main>
  );
}

function FirstAdmin({ onDone }: { onDone: (id: string) => void }): ReactNode {
  // The setup link `loopgate start` prints carries the one-time code in the fragment (never sent to a server).
  const [code, setCode] = useState(() => new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('setup_code') ?? '');
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await post('/v1/setup', { code: code.trim(), id: id.trim(), password, ...(name.trim() === '' ? {} : { display_name: name.trim() }) });
      onDone(id.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="setup" aria-labelledby="setup-title">
      <h2 id="setup-title">Create the first admin</h2>
      <p className="small">Loopgate has no admin yet. Enter the one-time setup code that <code>loopgate start</code> printed.</p>
      <form onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor="setup-code">Setup code</label>
          <input id="setup-code" required autoComplete="off" value={code} onChange={(e) => setCode(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="setup-account">Account</label>
          <input id="setup-account" required autoComplete="username" value={id} onChange={(e) => setId(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="setup-name">Display name (optional)</label>
          <input id="setup-name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="setup-password">Password</label>
          <input id="setup-password" type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <button type="submit" disabled={busy}>
          Create admin
        </button>
      </form>
      {error === undefined ? null : (
        <div className="error" role="alert">
          {describeError(error)}
        </div>
      )}
    </section>
  );
}
