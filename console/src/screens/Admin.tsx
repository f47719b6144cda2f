/**
 * Administration, for callers with `principals:manage`: principals (GET/POST /v1/principals) and their role
 * bindings (POST/DELETE /v1/principals/:id/roles), API keys (GET/POST/DELETE /v1/api-keys; a new key is shown once),
 * roles (GET /v1/roles, PUT /v1/roles/:name for a custom role) and the active policy bundle (GET /v1/policies,
 * read-only).
 */
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import {
  addRoleBinding,
  ApiError,
  defineRole,
  del,
  describeError,
  get,
  PERMISSIONS,
  post,
  removeRoleBinding,
  ROLE_NAME_PATTERN,
  type ApiKeyInfo,
  type NewBindingBody,
  type NewPrincipalBody,
  type PolicyBundleInfo,
  type PrincipalInfo,
  type RoleBinding,
  type RoleInfo,
} from '../api.js';
import { formatTime } from '../format.js';
import { hasPermission, useSession } from '../session.js';
import { Badge, ErrorMessage, Spinner } from '../ui.js';

export function Admin(): ReactNode {
  const { me } = useSession();
  const allowed = hasPermission(me, 'principals:manage');
  const [principals, setPrincipals] = useState<PrincipalInfo[]>();
  const [keys, setKeys] = useState<ApiKeyInfo[]>();
  const [roles, setRoles] = useState<RoleInfo[]>();
  const [error, setError] = useState<unknown>();

  const load = useCallback(async () => {
    try {
      const [p, k, r] = await Promise.all([
        get<{ principals: PrincipalInfo[] }>('/v1/principals'),
        get<{ api_keys: ApiKeyInfo[] }>('/v1/api-keys'),
        get<{ roles: RoleInfo[] }>('/v1/roles'),
      ]);
      setPrincipals(p.principals);
      setKeys(k.api_keys);
      setRoles(r.roles);
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    if (allowed) void load();
  }, [allowed, load]);

  if (!allowed) {
    return (
      <main id="main" className="page" tabIndex={-1}>
        <h1>Administration</h1>
        <p data-testid="admin-forbidden">
          Managing principals, roles and API keys needs the permission principals:manage, which the admin role holds. Your
          roles ({me.roles.length === 0 ? 'none' : me.roles.map((r) => r.role).join(', ')}) do not include it.{' '}
          <a href="#/queue">Go to the queue</a>.
        </p>
      </main>
    );
  }

  return (
    <main id="main" className="page" tabIndex={-1}>
      <h1>Administration</h1>
      <ErrorMessage error={error} />
      {principals === undefined && error === undefined ? <Spinner /> : null}
      <section className="card" aria-labelledby="a-principals">
        <h2 id="a-principals">Principals</h2>
        {principals === undefined ? null : <PrincipalsTable principals={principals} roles={roles ?? []} onChanged={load} />}
        <CreatePrincipal roles={roles ?? []} onCreated={load} />
      </section>
      <section className="card" aria-labelledby="a-keys">
        <h2 id="a-keys">API keys</h2>
        {keys === undefined ? null : <ApiKeys keys={keys} principals={principals ?? []} roles={roles ?? []} onChanged={load} />}
      </section>
      <section className="card" aria-labelledby="a-roles">
        <h2 id="a-roles">Roles</h2>
        {roles === undefined ? null : (
          <div className="table-wrap">
            <table aria-label="Roles">
              <thead>
                <tr>
                  <th scope="col">Role</th>
                  <th scope="col">Description</th>
                  <th scope="col">Permissions</th>
                </tr>
              </thead>
              <tbody>
                {roles.map((r) => (
                  <tr key={r.name} data-role={r.name}>
                    <td className="nowrap">
                      {r.name} {r.builtin ? <Badge tone="muted">built-in</Badge> : null}
                    </td>
                    <td>{r.description}</td>
                    <td className="mono small">{r.permissions.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <DefineRole roles={roles ?? []} onDefined={load} />
      </section>
      <Policies />
    </main>
  );
}

function PrincipalsTable({ principals, roles, onChanged }: { principals: PrincipalInfo[]; roles: RoleInfo[]; onChanged: () => Promise<void> }): ReactNode {
  if (principals.length === 0) return <p className="empty">No principals yet.</p>;
  return (
    <div className="table-wrap">
      <table aria-label="Principals">
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Kind</th>
            <th scope="col">Display name</th>
            <th scope="col">Roles</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {principals.map((p, i) => (
            <tr key={p.id} data-principal-id={p.id}>
              <td className="mono">{p.id}</td>
              <td>
                {p.kind}
                {p.sponsor === null ? null : <div className="muted small">sponsor {p.sponsor}</div>}
              </td>
              <td>{p.display_name}</td>
              <td>
                <Bindings principal={p} index={i} roles={roles} onChanged={onChanged} />
              </td>
              <td>
                <Badge tone={p.status === 'active' ? 'ok' : 'muted'}>{p.status}</Badge>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A datetime-local value (the browser's local time, no zone) as ISO 8601 UTC, or undefined when empty or invalid. */
function localToIso(value: string): string | undefined {
  if (value === '') return undefined;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** A principal's role bindings, each removable (after a confirmation), and a form to add one. */
function Bindings({ principal, index, roles, onChanged }: { principal: PrincipalInfo; index: number; roles: RoleInfo[]; onChanged: () => Promise<void> }): ReactNode {
  const [role, setRole] = useState('');
  const [condition, setCondition] = useState('');
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [removeError, setRemoveError] = useState<unknown>();
  const id = `ab-${index}`;

  const remove = async (b: RoleBinding) => {
    const scope = b.condition === null ? '' : ` (when ${b.condition})`;
    if (!window.confirm(`Remove the role ${b.role}${scope} from ${principal.id}? Its permissions and cases end at once.`)) return;
    setRemoveError(undefined);
    try {
      await removeRoleBinding(principal.id, b.id);
      await onChanged();
    } catch (err) {
      setRemoveError(err);
    }
  };

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: NewBindingBody = { role };
    if (condition.trim() !== '') body.condition = condition.trim();
    const iso = localToIso(expires);
    if (iso !== undefined) body.expires_at = iso;
    try {
      await addRoleBinding(principal.id, body);
      setRole('');
      setCondition('');
      setExpires('');
      await onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="bindings">
      {principal.roles.length === 0 ? (
        <span className="muted">—</span>
      ) : (
        <ul className="plain" aria-label={`Roles of ${principal.id}`}>
          {principal.roles.map((b) => (
            <li key={b.id} data-binding-id={b.id} className="binding">
              <span>
                {b.role}
                {b.condition === null ? null : (
                  <>
                    {' '}
                    when <code>{b.condition}</code>
                  </>
                )}
                {b.expires_at === null ? null : <span className="muted small"> until {formatTime(b.expires_at)}</span>}
              </span>{' '}
              <button type="button" className="secondary small-button" onClick={() => void remove(b)} aria-label={`Remove ${b.role} from ${principal.id}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <ErrorMessage error={removeError} />
      <details className="add-binding">
        <summary>Add role</summary>
        <form onSubmit={add} className="binding-form" aria-label={`Add a role to ${principal.id}`}>
          <div className="field">
            <label htmlFor={`${id}-role`}>Role</label>
            <select id={`${id}-role`} required value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="">(choose)</option>
              {roles.map((r) => (
                <option key={r.name} value={r.name}>
                  {r.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-cond`}>Scope condition (CEL, optional)</label>
            <input id={`${id}-cond`} className="mono" placeholder='case.subject.region == "EU"' value={condition} onChange={(e) => setCondition(e.target.value)} autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor={`${id}-expires`}>Expires (optional, your local time)</label>
            <input id={`${id}-expires`} type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
          </div>
          <p>
            <button type="submit" disabled={busy || role === ''}>
              Add role
            </button>
          </p>
          <FieldErrors error={error} single />
        </form>
      </details>
    </div>
  );
}

/** PUT /v1/roles/:name: a custom role from a name, a description and permissions. */
function DefineRole({ roles, onDefined }: { roles: RoleInfo[]; onDefined: () => Promise<void> }): ReactNode {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const builtin = roles.some((r) => r.name === name.trim() && r.builtin);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    const n = name.trim();
    try {
      await defineRole(n, { description: description.trim(), permissions });
      setDone(`Defined ${n}.`);
      setName('');
      setDescription('');
      setPermissions([]);
      await onDefined();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="admin-form" aria-labelledby="a-define-role">
      <h3 id="a-define-role">Define a role</h3>
      <p className="muted small">A custom role, or new permissions for one defined before; built-in roles cannot change.</p>
      <div className="form-row">
        <div className="field">
          <label htmlFor="dr-name">Name</label>
          <input
            id="dr-name"
            required
            pattern={ROLE_NAME_PATTERN}
            title="2–63 lower-case letters, digits or underscores, starting with a letter"
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
          />
        </div>
        <div className="field grow">
          <label htmlFor="dr-description">Description</label>
          <input id="dr-description" maxLength={1024} value={description} onChange={(e) => setDescription(e.target.value)} autoComplete="off" />
        </div>
      </div>
      <fieldset className="roles-fieldset">
        <legend>Permissions</legend>
        {PERMISSIONS.map((perm) => (
          <label key={perm} className="check">
            <input type="checkbox" checked={permissions.includes(perm)} onChange={(e) => setPermissions(e.target.checked ? [...permissions, perm] : permissions.filter((x) => x !== perm))} />{' '}
            <span className="mono">{perm}</span>
          </label>
        ))}
      </fieldset>
      {builtin ? <p className="muted small">{name.trim()} is a built-in role and cannot be changed.</p> : null}
      <p>
        <button type="submit" disabled={busy || builtin}>
          Define role
        </button>
      </p>
      {done === undefined ? null : (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      <FieldErrors error={error} />
    </form>
  );
}

interface RoleRow {
  role: string;
  condition: string;
}

/**
 * Field errors of a problem+json answer (`errors[].pointer` like /roles/0/condition), and the rest. `single`: the
 * form sends one binding, so /roles/0/condition is shown as /condition.
 */
function FieldErrors({ error, single = false }: { error: unknown; single?: boolean }): ReactNode {
  if (!(error instanceof ApiError) || error.problem.errors === undefined || error.problem.errors.length === 0) return <ErrorMessage error={error} />;
  return (
    <div className="error" role="alert">
      <span>{describeError(error)}</span>
      <ul data-testid="field-errors">
        {error.problem.errors.map((e, i) => (
          <li key={i}>
            {(single ? e.pointer?.replace(/^\/roles\/0(?=\/)/, '') : e.pointer) ?? e.parameter ?? ''}
            {e.pointer === undefined && e.parameter === undefined ? '' : ': '}
            {e.detail}
          </li>
        ))}
      </ul>
    </div>
  );
}

function CreatePrincipal({ roles, onCreated }: { roles: RoleInfo[]; onCreated: () => Promise<void> }): ReactNode {
  const [id, setId] = useState('');
  const [kind, setKind] = useState('human');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [sponsor, setSponsor] = useState('');
  const [rows, setRows] = useState<RoleRow[]>([{ role: '', condition: '' }]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    const body: NewPrincipalBody = { id: id.trim(), kind };
    if (displayName.trim() !== '') body.display_name = displayName.trim();
    if (kind === 'human' && password !== '') body.password = password;
    if (kind !== 'human' && sponsor.trim() !== '') body.sponsor = sponsor.trim();
    const bindings = rows.filter((r) => r.role !== '').map((r) => (r.condition.trim() === '' ? { role: r.role } : { role: r.role, condition: r.condition.trim() }));
    if (bindings.length > 0) body.roles = bindings;
    try {
      const created = await post<PrincipalInfo>('/v1/principals', body);
      setDone(`Created ${created.id}.`);
      setId('');
      setDisplayName('');
      setPassword('');
      setSponsor('');
      setRows([{ role: '', condition: '' }]);
      await onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const setRow = (i: number, patch: Partial<RoleRow>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));

  return (
    <form onSubmit={submit} className="admin-form" aria-labelledby="a-new-principal">
      <h3 id="a-new-principal">New principal</h3>
      <div className="form-row">
        <div className="field">
          <label htmlFor="np-id">Id</label>
          <input id="np-id" required value={id} onChange={(e) => setId(e.target.value)} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="np-kind">Kind</label>
          <select id="np-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="human">human</option>
            <option value="service">service</option>
            <option value="agent">agent</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="np-name">Display name</label>
          <input id="np-name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} autoComplete="off" />
        </div>
        {kind === 'human' ? (
          <div className="field">
            <label htmlFor="np-password">Password</label>
            <input id="np-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
          </div>
        ) : (
          <div className="field">
            <label htmlFor="np-sponsor">Sponsor (a human)</label>
            <input id="np-sponsor" value={sponsor} onChange={(e) => setSponsor(e.target.value)} autoComplete="off" />
          </div>
        )}
      </div>
      <fieldset className="roles-fieldset">
        <legend>Roles</legend>
        {rows.map((r, i) => (
          <div className="form-row" key={i}>
            <div className="field">
              <label htmlFor={`np-role-${i}`}>Role {i + 1}</label>
              <select id={`np-role-${i}`} value={r.role} onChange={(e) => setRow(i, { role: e.target.value })}>
                <option value="">(none)</option>
                {roles.map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.name}
                  </option>
                ))}
              </select>
            </div>
            <div className="field grow">
              <label htmlFor={`np-cond-${i}`}>Condition {i + 1} (CEL, optional)</label>
              <input id={`np-cond-${i}`} className="mono" placeholder='case.subject.region == "EU"' value={r.condition} onChange={(e) => setRow(i, { condition: e.target.value })} />
            </div>
            {rows.length > 1 ? (
              <button type="button" className="secondary" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove role ${i + 1}`}>
                Remove
              </button>
            ) : null}
          </div>
        ))}
        <button type="button" className="secondary" onClick={() => setRows([...rows, { role: '', condition: '' }])}>
          Add a role
        </button>
      </fieldset>
      <p>
        <button type="submit" disabled={busy}>
          Create principal
        </button>
      </p>
      {done === undefined ? null : (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      <FieldErrors error={error} />
    </form>
  );
}

function ApiKeys({ keys, principals, roles, onChanged }: { keys: ApiKeyInfo[]; principals: PrincipalInfo[]; roles: RoleInfo[]; onChanged: () => Promise<void> }): ReactNode {
  const [principalId, setPrincipalId] = useState('');
  const [keyRoles, setKeyRoles] = useState<string[]>([]);
  const [keyLabel, setKeyLabel] = useState('');
  const [created, setCreated] = useState<{ key: string; id: string; principal_id: string }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const holder = principals.find((p) => p.id === principalId);
  // A key carries some of its principal's roles: offer those the principal holds (all roles before one is chosen).
  const offered = holder === undefined ? roles.map((r) => r.name) : [...new Set(holder.roles.map((b) => b.role))];

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setCreated(undefined);
    try {
      const body: Record<string, unknown> = { principal_id: principalId, roles: keyRoles };
      if (keyLabel.trim() !== '') body.label = keyLabel.trim();
      const res = await post<ApiKeyInfo & { key: string }>('/v1/api-keys', body);
      setCreated({ key: res.key, id: res.id, principal_id: res.principal_id });
      setKeyLabel('');
      setKeyRoles([]);
      await onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (k: ApiKeyInfo) => {
    if (!window.confirm(`Revoke the API key ${k.label === '' ? k.id : k.label} of ${k.principal_id}? Clients using it stop working at once.`)) return;
    setError(undefined);
    try {
      await del(`/v1/api-keys/${encodeURIComponent(k.id)}`);
      await onChanged();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      {keys.length === 0 ? (
        <p className="empty">No API keys.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="API keys">
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Principal</th>
                <th scope="col">Roles</th>
                <th scope="col">Label</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td className="mono small">{k.id}</td>
                  <td>{k.principal_id}</td>
                  <td>{k.roles.join(', ')}</td>
                  <td>{k.label === '' ? <span className="muted">—</span> : k.label}</td>
                  <td className="nowrap small">{formatTime(k.created_at)}</td>
                  <td className="nowrap small">{formatTime(k.last_used_at)}</td>
                  <td>
                    {k.revoked_at !== null ? (
                      <Badge tone="muted">revoked</Badge>
                    ) : (
                      <button type="button" className="secondary" onClick={() => void revoke(k)} aria-label={`Revoke key ${k.id}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form onSubmit={create} className="admin-form" aria-labelledby="a-new-key">
        <h3 id="a-new-key">New API key</h3>
        <div className="form-row">
          <div className="field">
            <label htmlFor="nk-principal">Principal</label>
            <select
              id="nk-principal"
              required
              value={principalId}
              onChange={(e) => {
                setPrincipalId(e.target.value);
                setKeyRoles([]);
              }}
            >
              <option value="">(choose)</option>
              {principals.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.id}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="nk-label">Label</label>
            <input id="nk-label" value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} autoComplete="off" />
          </div>
        </div>
        <fieldset className="roles-fieldset">
          <legend>Roles the key carries</legend>
          {offered.length === 0 ? <p className="muted small">This principal holds no role.</p> : null}
          {offered.map((r) => (
            <label key={r} className="check">
              <input type="checkbox" checked={keyRoles.includes(r)} onChange={(e) => setKeyRoles(e.target.checked ? [...keyRoles, r] : keyRoles.filter((x) => x !== r))} /> {r}
            </label>
          ))}
        </fieldset>
        <p>
          <button type="submit" disabled={busy || principalId === '' || keyRoles.length === 0}>
            Create API key
          </button>
        </p>
        <FieldErrors error={error} />
      </form>
      {created === undefined ? null : (
        <div className="notice key-once" role="status" data-testid="new-api-key">
          <p>
            The key for {created.principal_id} (id <span className="mono">{created.id}</span>). Copy it now: it is shown only this once.
          </p>
          <p>
            <code data-testid="new-api-key-secret">{created.key}</code>
          </p>
          <button type="button" className="secondary" onClick={() => setCreated(undefined)}>
            I have copied it
          </button>
        </div>
      )}
    </>
  );
}

function Policies(): ReactNode {
  const { me } = useSession();
  const [bundle, setBundle] = useState<PolicyBundleInfo>();
  const [error, setError] = useState<unknown>();
  const allowed = hasPermission(me, 'policies:read');
  useEffect(() => {
    if (!allowed) return;
    get<PolicyBundleInfo>('/v1/policies').then(setBundle, setError);
  }, [allowed]);
  if (!allowed) return null;
  return (
    <section className="card" aria-labelledby="a-policies">
      <h2 id="a-policies">Active policy</h2>
      <ErrorMessage error={error} />
      {bundle === undefined ? null : (
        <>
          <p>
            Version <span className="mono" data-testid="policy-version">{bundle.version.slice(0, 16)}</span>
            <span className="muted small"> ({bundle.files.length} files in {bundle.directory})</span>
          </p>
          {bundle.policies.map((p) => (
            <details key={p.name} className="policy">
              <summary>
                <strong>{p.name}</strong> <span className="muted small">({p.events.join(', ')}; {p.rules.length} rules; {p.file})</span>
              </summary>
              {p.description === undefined ? null : <p className="muted">{p.description}</p>}
              <div className="table-wrap">
                <table aria-label={`Rules of ${p.name}`}>
                  <thead>
                    <tr>
                      <th scope="col">Rule</th>
                      <th scope="col">When</th>
                      <th scope="col">Outcome</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.rules.map((r) => (
                      <tr key={r.id}>
                        <td>
                          {r.id}
                          {r.description === undefined ? null : <div className="muted small">{r.description}</div>}
                        </td>
                        <td>
                          <code>{r.when}</code>
                        </td>
                        <td className="nowrap">
                          {r.outcome}
                          {r.route === undefined ? null : <span className="muted small"> → {r.route}</span>}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          ))}
        </>
      )}
    </section>
  );
}
