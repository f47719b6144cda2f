/**
 * The audit log (auditors and admins: audit:read): GET /v1/audit/search, optionally for one case; each entry can
 * be verified in the browser with loopgate/verify (src/verify, WebCrypto): its canonical form, its inclusion proof
 * (GET /v1/audit/proofs/inclusion) against the latest signed checkpoint (GET /v1/audit/checkpoint; one is signed on
 * demand when the entry is newer than it), and the checkpoint's Ed25519 signature by a trusted verifier key (by
 * default the keys GET /v1/audit/keys lists; an auditor can paste the key they keep instead).
 */
import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { canonicalize, parseVerifierKey, verifyEntry, type EntryVerification, type VerifierKey } from '../../../src/verify/index.js';
import { describeError, get, post, type AuditEntry, type Checkpoint } from '../api.js';
import { formatTime } from '../format.js';
import { navigate, type Route } from '../router.js';
import { hasPermission, useSession } from '../session.js';
import { Badge, ErrorMessage, Spinner } from '../ui.js';

type Verification = { state: 'running' } | { state: 'done'; result: EntryVerification; checkpoint: Checkpoint } | { state: 'error'; message: string };

export function Audit({ route }: { route: Route }): ReactNode {
  const { me } = useSession();
  if (!hasPermission(me, 'audit:read')) {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>Audit log</h1>
        <p data-testid="audit-forbidden">
          Reading the audit log needs the <strong>auditor</strong> or <strong>admin</strong> role (the audit:read permission). Your roles
          {me.roles.length === 0 ? ' are none' : ` are ${me.roles.map((r) => r.role).join(', ')}`}. Every case’s own timeline is on its page; ask an
          auditor for anything more.
        </p>
      </main>
    );
  }
  return <AuditLog route={route} />;
}

function AuditLog({ route }: { route: Route }): ReactNode {
  const caseId = route.query.get('case') ?? '';
  const action = route.query.get('action') ?? '';
  const actor = route.query.get('actor') ?? '';
  const [entries, setEntries] = useState<AuditEntry[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [verifications, setVerifications] = useState<Record<number, Verification>>({});
  const [trustedText, setTrustedText] = useState<string>();
  const [origin, setOrigin] = useState<string>();
  const checkpointRef = useRef<Checkpoint | undefined>(undefined);
  const [form, setForm] = useState({ case: caseId, action, actor });

  const search = useCallback(
    async (after?: string) => {
      const q = new URLSearchParams({ limit: '200' });
      if (caseId !== '') q.set('case', caseId);
      if (action !== '') q.set('action', action);
      if (actor !== '') q.set('actor', actor);
      if (after !== undefined) q.set('after', after);
      try {
        const res = await get<{ entries: AuditEntry[]; next?: string }>(`/v1/audit/search?${q.toString()}`);
        setEntries((prev) => (after === undefined ? res.entries : [...(prev ?? []), ...res.entries]));
        setNext(res.next);
        setError(undefined);
      } catch (e) {
        setError(e);
      }
    },
    [caseId, action, actor],
  );

  useEffect(() => {
    setEntries(undefined);
    setForm({ case: caseId, action, actor });
    void search();
  }, [search, caseId, action, actor]);

  const trusted = async (): Promise<VerifierKey[]> => {
    let text = trustedText;
    if (text === undefined) {
      const keys = await get<{ origin: string; keys: string[] }>('/v1/audit/keys');
      text = keys.keys.join('\n');
      setTrustedText(text);
      setOrigin(keys.origin);
    }
    const lines = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (lines.length === 0) throw new Error('no trusted verifier key: paste one');
    return Promise.all(lines.map((l) => parseVerifierKey(l)));
  };

  /** The latest checkpoint, or a new one when the entry is newer than it (signed on demand). */
  const checkpointCovering = async (index: number): Promise<Checkpoint> => {
    const known = checkpointRef.current;
    if (known !== undefined && known.size > index) return known;
    let cp = await get<Checkpoint>('/v1/audit/checkpoint');
    if (cp.size <= index) cp = await post<Checkpoint>('/v1/audit/checkpoints');
    if (cp.size <= index) throw new Error(`no signed checkpoint covers entry ${index} yet`);
    checkpointRef.current = cp;
    return cp;
  };

  const verify = async (e: AuditEntry) => {
    setVerifications((v) => ({ ...v, [e.index]: { state: 'running' } }));
    try {
      const keys = await trusted();
      const cp = await checkpointCovering(e.index);
      const proof = await get<{ leaf_index: number; tree_size: number; leaf_hash: string; audit_path: string[] }>(
        `/v1/audit/proofs/inclusion?index=${e.index}&size=${cp.size}`,
      );
      const result = await verifyEntry({ entry: canonicalize(e.entry), index: e.index, proof: proof.audit_path, checkpoint: cp.checkpoint }, keys);
      setVerifications((v) => ({ ...v, [e.index]: { state: 'done', result, checkpoint: cp } }));
    } catch (err) {
      setVerifications((v) => ({ ...v, [e.index]: { state: 'error', message: describeError(err) } }));
    }
  };

  const applyFilters = (ev: FormEvent) => {
    ev.preventDefault();
    navigate('audit', { case: form.case.trim(), action: form.action.trim(), actor: form.actor.trim() });
  };

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Audit log{caseId === '' ? '' : ' of a case'}</h1>
      {caseId === '' ? null : (
        <p className="small">
          Entries about case <code>{caseId}</code>. <a href={`#/cases/${caseId}`}>Open the case</a>
        </p>
      )}
      <form className="filters" onSubmit={applyFilters} aria-label="Search the audit log">
        <div className="field">
          <label htmlFor="a-case">Case id</label>
          <input id="a-case" value={form.case} onChange={(e) => setForm({ ...form, case: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="a-action">Action</label>
          <input id="a-action" placeholder="case.verdict" value={form.action} onChange={(e) => setForm({ ...form, action: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="a-actor">Actor</label>
          <input id="a-actor" value={form.actor} onChange={(e) => setForm({ ...form, actor: e.target.value })} />
        </div>
        <button type="submit">Search</button>
      </form>

      <details className="trusted">
        <summary>Trusted verifier keys{origin === undefined ? '' : ` (log ${origin})`}</summary>
        <p className="small">
          A checkpoint verifies only against keys you trust. By default these are the keys this server lists (GET /v1/audit/keys), which proves the
          log is consistent with itself; paste the verifier key you keep to check it against yours.
        </p>
        <label htmlFor="trusted-keys" className="small">
          One verifier key per line (<code>name+keyid+base64</code>)
        </label>
        <textarea
          id="trusted-keys"
          rows={2}
          className="mono"
          value={trustedText ?? ''}
          placeholder="loaded from the server at the first verification"
          onChange={(e) => {
            setTrustedText(e.target.value);
            setVerifications({});
          }}
        />
      </details>

      <ErrorMessage error={error} />
      {entries === undefined && error === undefined ? <Spinner /> : null}
      {entries !== undefined && entries.length === 0 ? <p className="empty">No entries match.</p> : null}
      {entries !== undefined && entries.length > 0 ? (
        <div className="table-wrap">
          <table className="compact audit" aria-label="Audit entries">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Reason / details</th>
                <th scope="col">Proof</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.index} data-action={e.entry.action} data-seq={e.index}>
                  <td className="mono">{e.index}</td>
                  <td className="nowrap">{formatTime(e.entry.time)}</td>
                  <td className="mono">{e.entry.action}</td>
                  <td>
                    {e.entry.actor.id}
                    <div className="muted small">{e.entry.actor.kind}</div>
                  </td>
                  <td>
                    {e.entry.reason === undefined ? null : <div>{e.entry.reason}</div>}
                    <details>
                      <summary className="small">entry</summary>
                      <pre className="json">{JSON.stringify(e.entry, null, 2)}</pre>
                    </details>
                  </td>
                  <td>
                    <VerifyCell entry={e} verification={verifications[e.index]} onVerify={() => void verify(e)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {next === undefined ? null : (
        <p>
          <button type="button" className="secondary" onClick={() => void search(next)}>
            Load more
          </button>
        </p>
      )}
    </main>
  );
}

function VerifyCell({ entry, verification, onVerify }: { entry: AuditEntry; verification: Verification | undefined; onVerify: () => void }): ReactNode {
  if (verification === undefined) {
    return (
      <button type="button" className="secondary small-button" onClick={onVerify} aria-label={`Verify entry ${entry.index}`}>
        Verify
      </button>
    );
  }
  if (verification.state === 'running') return <span role="status">Verifying…</span>;
  if (verification.state === 'error') {
    return (
      <div role="status">
        <Badge tone="bad">not verified</Badge>
        <div className="small">{verification.message}</div>
        <button type="button" className="secondary small-button" onClick={onVerify}>
          Retry
        </button>
      </div>
    );
  }
  const { result, checkpoint } = verification;
  return (
    <div role="status" data-testid={`verification-${entry.index}`}>
      {result.ok ? <Badge tone="ok">✓ verified</Badge> : <Badge tone="bad">✗ not verified</Badge>}
      <details>
        <summary className="small">checks</summary>
        <ul className="checks small">
          {result.checks.map((c) => (
            <li key={c.check} className={c.ok ? 'ok' : 'bad'}>
              {c.ok ? '✓' : '✗'} {c.check}
              {c.detail === undefined ? '' : `: ${c.detail}`}
            </li>
          ))}
          <li>
            checkpoint: {checkpoint.size} entries, root <code className="break">{checkpoint.root}</code>, key {checkpoint.key_id}, signed{' '}
            {formatTime(checkpoint.created_at)}
          </li>
        </ul>
      </details>
    </div>
  );
}
