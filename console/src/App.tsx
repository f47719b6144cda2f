/**
 * The reviewer console: signs in (or sets up the first admin), then routes by the URL's hash:
 * `#/queue` (default), `#/cases/<id>`, `#/audit?case=<id>`, `#/me`, `#/dashboard`, `#/admin`.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { announceSignedOut, ApiError, csrfToken, get, post, recoverCsrfToken, setCsrfToken, type Me } from './api.js';
import { acrName } from './format.js';
import { useRoute, type Route } from './router.js';
import { hasPermission, SessionContext, type SessionContextValue } from './session.js';
import { Account } from './screens/Account.js';
import { Admin } from './screens/Admin.js';
import { Audit } from './screens/Audit.js';
import { CaseView } from './screens/CaseView.js';
import { Dashboard } from './screens/Dashboard.js';
import { Queue } from './screens/Queue.js';
import { SignIn } from './screens/SignIn.js';
import { ErrorMessage, Spinner } from './ui.js';

type State = { kind: 'loading' } | { kind: 'signed-out'; mfaPending: boolean; error?: unknown } | { kind: 'signed-in'; me: Me };

export function App(): ReactNode {
  const [state, setState] = useState<State>({ kind: 'loading' });

  const loadMe = useCallback(async () => {
    try {
      const me = await get<Me>('/v1/me');
      setState({ kind: 'signed-in', me });
    } catch (e) {
      if (e instanceof ApiError && e.code === 'LOOPGATE_ERR_MFA_REQUIRED') setState({ kind: 'signed-out', mfaPending: true });
      else if (e instanceof ApiError && e.status === 401) setState({ kind: 'signed-out', mfaPending: false });
      else setState({ kind: 'signed-out', mfaPending: false, error: e });
    }
  }, []);

  useEffect(() => {
    void recoverCsrfToken().then(loadMe);
    const onSignedOut = () => setState((s) => (s.kind === 'signed-in' ? { kind: 'signed-out', mfaPending: false } : s));
    window.addEventListener('loopgate:signed-out', onSignedOut);
    return () => window.removeEventListener('loopgate:signed-out', onSignedOut);
  }, [loadMe]);

  if (state.kind === 'loading') {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <Spinner />
      </main>
    );
  }
  if (state.kind === 'signed-out') {
    return (
      <>
        {state.error === undefined ? null : (
          <div className="page">
            <ErrorMessage error={state.error} />
          </div>
        )}
        <SignIn
          mfaPending={state.mfaPending}
          onSignedIn={async () => {
            await loadMe();
            if (window.location.hash === '' || window.location.hash === '#' || window.location.hash === '#/') window.location.hash = '#/queue';
          }}
        />
      </>
    );
  }
  return (
    <SignedIn
      me={state.me}
      refresh={loadMe}
      onSignedOut={() => {
        setState({ kind: 'signed-out', mfaPending: false });
      }}
    />
  );
}

function SignedIn({ me, refresh, onSignedOut }: { me: Me; refresh: () => Promise<void>; onSignedOut: () => void }): ReactNode {
  const route = useRoute();
  const signOut = useCallback(async () => {
    try {
      await post('/v1/auth/sign-out');
    } catch {
      // already ended: nothing to undo
    }
    setCsrfToken(null);
    announceSignedOut();
    // Whoever signs in next starts at the queue (an expired session, by contrast, returns to the page it was on).
    window.location.hash = '#/queue';
    onSignedOut();
  }, [onSignedOut]);
  const value = useMemo<SessionContextValue>(() => ({ me, refresh, signOut }), [me, refresh, signOut]);
  const section = route.parts[0] ?? 'queue';
  const mainRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const titles: Record<string, string> = { queue: 'Queue', cases: 'Case', audit: 'Audit log', me: 'Account', dashboard: 'Dashboard', admin: 'Administration' };
    document.title = `${titles[section] ?? 'Not found'} · Loopgate`;
  }, [section]);

  const skip = () => mainRef.current?.querySelector<HTMLElement>('main')?.focus();

  return (
    <SessionContext.Provider value={value}>
      <button type="button" className="skip-link" onClick={skip}>
        Skip to content
      </button>
      <header className="topbar">
        <a className="brand" href="#/queue">
          <span className="logo" aria-hidden="true">
            ⟲
          </span>{' '}
          Loopgate
        </a>
        <nav aria-label="Main">
          <NavLink to="queue" current={section === 'queue' || section === 'cases'}>
            Queue
          </NavLink>
          <NavLink to="audit" current={section === 'audit'}>
            Audit
          </NavLink>
          {hasPermission(me, 'cases:read_all') ? (
            <NavLink to="dashboard" current={section === 'dashboard'}>
              Dashboard
            </NavLink>
          ) : null}
          {hasPermission(me, 'principals:manage') ? (
            <NavLink to="admin" current={section === 'admin'}>
              Admin
            </NavLink>
          ) : null}
          <NavLink to="me" current={section === 'me'}>
            Account
          </NavLink>
        </nav>
        <div className="who">
          <span className="who-id" data-testid="signed-in-as">
            {me.principal.id}
          </span>
          {me.session === undefined ? null : <span className="muted small who-acr">{acrName(me.session.acr)}</span>}
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {csrfToken() === null ? (
        <div className="banner" role="alert">
          This tab does not hold your session’s CSRF token, so it can read but not change anything. Use the tab where you signed in.
        </div>
      ) : null}
      <div ref={mainRef} className="content">
        <Screen route={route} section={section} />
      </div>
    </SessionContext.Provider>
  );
}

function NavLink({ to, current, children }: { to: string; current: boolean; children: ReactNode }): ReactNode {
  return (
    <a href={`#/${to}`} aria-current={current ? 'page' : undefined} className={current ? 'current' : undefined}>
      {children}
    </a>
  );
}

function Screen({ route, section }: { route: Route; section: string }): ReactNode {
  switch (section) {
    case 'queue':
      return <Queue route={route} />;
    case 'cases': {
      const id = route.parts[1];
      return id === undefined ? <Queue route={route} /> : <CaseView key={id} id={id} />;
    }
    case 'audit':
      return <Audit route={route} />;
    case 'me':
      return <Account />;
    case 'dashboard':
      return <Dashboard route={route} />;
    case 'admin':
      return <Admin />;
    default:
      return (
        <main id="main" className="page" tabIndex={-1}>
          <h1>Not found</h1>
          <p>
            There is no page here. <a href="#/queue">Go to the queue</a>.
          </p>
        </main>
      );
  }
}
