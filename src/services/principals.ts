/**
 * Principals (people, services, agents), roles, role bindings and API keys. Every change is written with its
 * audit entry in one transaction. Secrets (passwords, keys) are stored only as hashes and never enter the log.
 */
import { randomBytes } from 'node:crypto';
import { uuidv7, type Clock, type Random } from '../core/clock.js';
import { SYSTEM_ACTOR, type AuditActor, type AuditInput } from '../core/audit/entry.js';
import { BUILTIN_ROLES, isPermission, ROLE_NAME, type Permission } from '../core/auth/roles.js';
import { LoopgateError } from '../core/errors.js';
import { checkExpression, scopeEnv } from '../core/policy/cel.js';
import { hashPassword, sha256Url } from '../adapters/credentials.js';
import type { Store } from '../store/store.js';

export type PrincipalKind = 'human' | 'service' | 'agent';
export const PRINCIPAL_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export interface Principal {
  id: string;
  kind: PrincipalKind;
  display_name: string;
  sponsor: string | null;
  attributes: Record<string, unknown>;
  status: 'active' | 'disabled';
  created_at: string;
}

export interface RoleBinding {
  id: string;
  role: string;
  condition: string | null;
  expires_at: string | null;
}

export interface NewBinding {
  role: string;
  condition?: string;
  expires_at?: string;
}

export interface NewPrincipal {
  id: string;
  kind?: PrincipalKind;
  display_name?: string;
  sponsor?: string;
  attributes?: Record<string, unknown>;
  roles?: NewBinding[];
  password?: string;
}

export interface ApiKeyInfo {
  id: string;
  principal_id: string;
  roles: string[];
  label: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

const MIN_PASSWORD = 12;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class PrincipalService {
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly deps: { store: Store; clock: Clock; random: Random }) {}

  /** Called after every change to principals, roles, bindings or keys made through this process (caches clear). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Inserts the built-in roles a database does not have yet. */
  async start(): Promise<void> {
    const rows = await this.deps.store.db.selectFrom('roles').select(['name', 'permissions', 'builtin']).execute();
    const have = new Map(rows.map((r) => [r.name, r]));
    const missing = BUILTIN_ROLES.filter((r) => !have.has(r.name));
    // Built-in roles are defined by the code: a version that changes what one permits updates it, on the record.
    const changed = BUILTIN_ROLES.filter((r) => {
      const row = have.get(r.name);
      return row !== undefined && row.builtin === 1 && row.permissions !== JSON.stringify(r.permissions);
    });
    if (missing.length === 0 && changed.length === 0) return;
    const now = this.deps.clock.now();
    const { db } = this.deps.store;
    await this.write(
      [
        ...missing.map((r) =>
          db
            .insertInto('roles')
            .values({ name: r.name, description: r.description, permissions: JSON.stringify(r.permissions), builtin: 1, created_at: now })
            .onConflict((oc) => oc.column('name').doNothing())
            .compile(),
        ),
        ...changed.map((r) => db.updateTable('roles').set({ permissions: JSON.stringify(r.permissions), description: r.description }).where('name', '=', r.name).compile()),
      ],
      changed.length === 0
        ? undefined
        : {
            inputs: changed.map((r) => ({
              action: 'role.updated',
              actor: SYSTEM_ACTOR,
              target: { type: 'role', id: r.name },
              reason: 'built-in role redefined by this version',
              links: { previous: JSON.parse(have.get(r.name)!.permissions) as unknown },
              data: { permissions: r.permissions },
            })),
            timeMs: now,
          },
    );
  }

  async roles(): Promise<Array<{ name: string; description: string; permissions: Permission[]; builtin: boolean }>> {
    const rows = await this.deps.store.db.selectFrom('roles').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, description: r.description, permissions: JSON.parse(r.permissions) as Permission[], builtin: r.builtin === 1 }));
  }

  async permissionsOf(roles: string[]): Promise<Set<Permission>> {
    if (roles.length === 0) return new Set();
    const rows = await this.deps.store.db.selectFrom('roles').select('permissions').where('name', 'in', roles).execute();
    return new Set(rows.flatMap((r) => JSON.parse(r.permissions) as Permission[]));
  }

  async defineRole(input: { name: string; description?: string; permissions: string[] }, actor: AuditActor): Promise<void> {
    if (!ROLE_NAME.test(input.name)) throw invalid('/name', 'must be 2–63 lower-case letters, digits or underscores, starting with a letter');
    const bad = input.permissions.filter((p) => !isPermission(p));
    if (bad.length > 0) throw invalid('/permissions', `unknown permission(s): ${bad.join(', ')}`);
    const existing = await this.deps.store.db.selectFrom('roles').select(['builtin', 'permissions']).where('name', '=', input.name).executeTakeFirst();
    if (existing?.builtin === 1) throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `${input.name} is a built-in role and cannot be changed`);
    const now = this.deps.clock.now();
    const row = { name: input.name, description: input.description ?? '', permissions: JSON.stringify(input.permissions), builtin: 0, created_at: now };
    const query = this.deps.store.db
      .insertInto('roles')
      .values(row)
      .onConflict((oc) => oc.column('name').doUpdateSet({ description: row.description, permissions: row.permissions }));
    const links = existing === undefined ? undefined : { previous: JSON.parse(existing.permissions) as unknown };
    await this.write([query.compile()], this.audit({ action: 'role.defined', actor, target: { type: 'role', id: input.name }, data: { permissions: input.permissions }, ...(links ? { links } : {}) }));
  }

  async exists(id: string): Promise<boolean> {
    return (await this.deps.store.db.selectFrom('principals').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  async countHumansWithRole(role: string): Promise<number> {
    const r = await this.deps.store.db
      .selectFrom('role_bindings')
      .innerJoin('principals', 'principals.id', 'role_bindings.principal_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role_bindings.role', '=', role)
      .where('principals.kind', '=', 'human')
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async create(input: NewPrincipal, actor: AuditActor, extra: { requireSponsor?: boolean } = {}): Promise<Principal> {
    const { store, clock } = this.deps;
    if (!PRINCIPAL_ID.test(input.id)) throw invalid('/id', 'must be 1–128 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
    const kind = input.kind ?? 'human';
    if (await this.exists(input.id)) throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `a principal named ${input.id} already exists`);
    if (kind !== 'human') {
      if (input.sponsor === undefined) {
        if (extra.requireSponsor ?? true) throw invalid('/sponsor', `a ${kind} principal needs a human sponsor`);
      } else {
        const sponsor = await this.get(input.sponsor);
        if (sponsor.kind !== 'human') throw invalid('/sponsor', 'the sponsor must be a human principal');
      }
    } else if (input.sponsor !== undefined) {
      throw invalid('/sponsor', 'only services and agents have sponsors');
    }
    if (input.password !== undefined) checkPassword(input.password);
    const bindings = await this.checkBindings(input.roles ?? []);
    const now = clock.now();
    const principal = {
      id: input.id,
      kind,
      display_name: input.display_name ?? input.id,
      sponsor: input.sponsor ?? null,
      attributes: JSON.stringify(input.attributes ?? {}),
      status: 'active',
      created_at: now,
      updated_at: now,
    };
    const queries = [store.db.insertInto('principals').values(principal).compile()];
    for (const b of bindings) queries.push(this.bindingInsert(input.id, b, now, actor.id));
    if (input.password !== undefined) queries.push(await this.passwordInsert(input.id, input.password, now));
    await this.write(
      queries,
      this.audit({
        action: 'principal.created',
        actor,
        target: { type: 'principal', id: input.id },
        data: { kind, display_name: principal.display_name, sponsor: principal.sponsor, attributes: input.attributes ?? {}, roles: bindings, password: input.password !== undefined },
      }),
    );
    return this.get(input.id);
  }

  async get(id: string): Promise<Principal> {
    const row = await this.deps.store.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new LoopgateError('LOOPGATE_ERR_PRINCIPAL_NOT_FOUND', `no principal named ${id}`);
    return principalOf(row);
  }

  /** Every principal (up to 1,000) with its bindings in force: two queries, not one per principal. */
  async list(): Promise<Array<Principal & { roles: RoleBinding[] }>> {
    const rows = await this.deps.store.db.selectFrom('principals').selectAll().orderBy('id').limit(1000).execute();
    const bindings = await this.bindingsIn(rows.map((r) => r.id));
    return rows.map((r) => ({ ...principalOf(r), roles: bindings.get(r.id) ?? [] }));
  }

  /** The principal's bindings that have not expired. */
  async bindings(principalId: string): Promise<RoleBinding[]> {
    return (await this.bindingsIn([principalId])).get(principalId) ?? [];
  }

  private async bindingsIn(principalIds: string[]): Promise<Map<string, RoleBinding[]>> {
    const out = new Map<string, RoleBinding[]>();
    if (principalIds.length === 0) return out;
    const now = this.deps.clock.now();
    const rows = await this.deps.store.db
      .selectFrom('role_bindings')
      .selectAll()
      .where('principal_id', 'in', principalIds)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('created_at')
      .execute();
    for (const r of rows) {
      const list = out.get(r.principal_id) ?? [];
      list.push({ id: r.id, role: r.role, condition: r.condition, expires_at: iso(r.expires_at) });
      out.set(r.principal_id, list);
    }
    return out;
  }

  async addBinding(principalId: string, binding: NewBinding, actor: AuditActor): Promise<RoleBinding> {
    await this.get(principalId);
    const [b] = await this.checkBindings([binding]);
    const now = this.deps.clock.now();
    const query = this.bindingInsert(principalId, b!, now, actor.id);
    await this.write([query], this.audit({ action: 'role.granted', actor, target: { type: 'principal', id: principalId }, data: { binding: b } }));
    return (await this.bindings(principalId)).find((x) => x.id === b!.id)!;
  }

  async removeBinding(principalId: string, bindingId: string, actor: AuditActor): Promise<void> {
    const row = await this.deps.store.db.selectFrom('role_bindings').selectAll().where('id', '=', bindingId).where('principal_id', '=', principalId).executeTakeFirst();
    if (row === undefined) throw new LoopgateError('LOOPGATE_ERR_NOT_FOUND', `principal ${principalId} has no role binding ${bindingId}`);
    await this.write(
      [{ query: this.deps.store.db.deleteFrom('role_bindings').where('id', '=', bindingId).compile(), expectRows: 1 }],
      this.audit({ action: 'role.revoked', actor, target: { type: 'principal', id: principalId }, links: { previous: { role: row.role, condition: row.condition, expires_at: iso(row.expires_at) } } }),
    );
  }

  async setPassword(principalId: string, password: string, actor: AuditActor): Promise<void> {
    await this.get(principalId);
    checkPassword(password);
    const now = this.deps.clock.now();
    await this.write(
      [this.deps.store.db.deleteFrom('credentials').where('principal_id', '=', principalId).where('type', '=', 'password').compile(), await this.passwordInsert(principalId, password, now)],
      this.audit({ action: 'credential.password_set', actor, target: { type: 'principal', id: principalId } }),
    );
  }

  /** A new API key: `lgk_<id>_<secret>`, shown once; stored as the SHA-256 of the whole key. */
  async createApiKey(input: { principal_id: string; roles: string[]; label?: string; expires_at?: string }, actor: AuditActor): Promise<{ key: string; info: ApiKeyInfo }> {
    const principal = await this.get(input.principal_id);
    if (principal.status !== 'active') throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `${principal.id} is disabled`);
    const held = new Set((await this.bindings(principal.id)).map((b) => b.role));
    const notHeld = input.roles.filter((r) => !held.has(r));
    if (notHeld.length > 0) throw invalid('/roles', `${principal.id} does not hold ${notHeld.join(', ')}; a key carries a subset of its principal's roles`);
    if (input.roles.length === 0) throw invalid('/roles', 'a key needs at least one role');
    const now = this.deps.clock.now();
    const expires = input.expires_at === undefined ? null : Date.parse(input.expires_at);
    if (expires !== null && (Number.isNaN(expires) || expires <= now)) throw invalid('/expires_at', 'must be a date-time in the future');
    const id = randomBytes(9).toString('base64url');
    const key = `lgk_${id}_${randomBytes(32).toString('base64url')}`;
    const row = {
      id,
      principal_id: principal.id,
      hash: sha256Url(key),
      roles: JSON.stringify(input.roles),
      label: input.label ?? '',
      created_at: now,
      created_by: actor.id,
      expires_at: expires,
      revoked_at: null,
      last_used_at: null,
    };
    await this.write(
      [this.deps.store.db.insertInto('api_keys').values(row).compile()],
      this.audit({ action: 'apikey.created', actor, target: { type: 'principal', id: principal.id }, data: { key_id: id, roles: input.roles, label: row.label, expires_at: iso(expires) } }),
    );
    return { key, info: apiKeyInfo(row) };
  }

  async apiKeys(principalId?: string): Promise<ApiKeyInfo[]> {
    let q = this.deps.store.db.selectFrom('api_keys').selectAll().orderBy('created_at');
    if (principalId !== undefined) q = q.where('principal_id', '=', principalId);
    return (await q.execute()).map(apiKeyInfo);
  }

  async revokeApiKey(id: string, actor: AuditActor): Promise<void> {
    const row = await this.deps.store.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new LoopgateError('LOOPGATE_ERR_NOT_FOUND', `no API key ${id}`);
    const now = this.deps.clock.now();
    await this.write(
      [{ query: this.deps.store.db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).compile(), expectRows: 1, conflict: `API key ${id} is already revoked` }],
      this.audit({ action: 'apikey.revoked', actor, target: { type: 'principal', id: row.principal_id }, data: { key_id: id } }),
    );
  }

  private async checkBindings(bindings: NewBinding[]): Promise<Array<{ id: string; role: string; condition: string | null; expires_at: number | null }>> {
    const known = new Set((await this.roles()).map((r) => r.name));
    const now = this.deps.clock.now();
    return bindings.map((b, i) => {
      if (!known.has(b.role)) throw invalid(`/roles/${i}/role`, `unknown role ${b.role}`);
      if (b.condition !== undefined) {
        const problem = checkExpression(scopeEnv, b.condition, true);
        if (problem !== undefined) throw invalid(`/roles/${i}/condition`, `not a valid CEL condition over case and reviewer: ${problem.message}`);
      }
      const expires = b.expires_at === undefined ? null : Date.parse(b.expires_at);
      if (expires !== null && (Number.isNaN(expires) || expires <= now)) throw invalid(`/roles/${i}/expires_at`, 'must be a date-time in the future');
      return { id: uuidv7(now, this.deps.random), role: b.role, condition: b.condition ?? null, expires_at: expires };
    });
  }

  private bindingInsert(principalId: string, b: { id: string; role: string; condition: string | null; expires_at: number | null }, now: number, by: string) {
    return this.deps.store.db
      .insertInto('role_bindings')
      .values({ id: b.id, principal_id: principalId, role: b.role, condition: b.condition, expires_at: b.expires_at, created_at: now, created_by: by })
      .compile();
  }

  private async passwordInsert(principalId: string, password: string, now: number) {
    return this.deps.store.db
      .insertInto('credentials')
      .values({ id: uuidv7(now, this.deps.random), principal_id: principalId, type: 'password', label: 'password', secret: await hashPassword(password), counter: 0, confirmed: 1, created_at: now, last_used_at: null })
      .compile();
  }

  private async write(...args: Parameters<Store['write']>): Promise<void> {
    try {
      await this.deps.store.write(...args);
    } finally {
      this.changed();
    }
  }

  private audit(input: AuditInput) {
    return { inputs: [input], timeMs: this.deps.clock.now() };
  }
}

function principalOf(row: { id: string; kind: string; display_name: string; sponsor: string | null; attributes: string; status: string; created_at: number }): Principal {
  return {
    id: row.id,
    kind: row.kind as PrincipalKind,
    display_name: row.display_name,
    sponsor: row.sponsor,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    status: row.status as Principal['status'],
    created_at: new Date(row.created_at).toISOString(),
  };
}

function apiKeyInfo(r: { id: string; principal_id: string; roles: string; label: string; created_at: number; expires_at: number | null; revoked_at: number | null; last_used_at: number | null }): ApiKeyInfo {
  return {
    id: r.id,
    principal_id: r.principal_id,
    roles: JSON.parse(r.roles) as string[],
    label: r.label,
    created_at: new Date(r.created_at).toISOString(),
    expires_at: iso(r.expires_at),
    revoked_at: iso(r.revoked_at),
    last_used_at: iso(r.last_used_at),
  };
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) throw invalid('/password', `must be at least ${MIN_PASSWORD} characters`);
  if (password.length > 1024) throw invalid('/password', 'must be at most 1024 characters');
}

export function invalid(pointer: string, detail: string): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_VALIDATION', `${pointer.slice(1)} ${detail}`, { errors: [{ pointer: `#${pointer}`, detail }] });
}
