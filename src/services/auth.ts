/**
 * Authentication: sign-in with a password, a second factor (TOTP, passkey), sessions (bearer token or cookie with
 * a CSRF token), API keys, the first-admin setup code, and rate limits with lockout on every credential check.
 *
 * What is stored: argon2id hashes of passwords, SHA-256 of session tokens, CSRF tokens, API keys and the setup
 * code; never the secrets themselves. Every sign-in, step-up, lockout and enrolment is recorded in the audit log
 * with the assurance it reached (acr, amr, auth time).
 */
import { randomBytes } from 'node:crypto';
import { uuidv7, type Clock, type Random } from '../core/clock.js';
import type { AuditActor, AuditInput } from '../core/audit/entry.js';
import { ACR, type Assurance } from '../core/auth/assurance.js';
import type { Permission } from '../core/auth/roles.js';
import { LoopgateError } from '../core/errors.js';
import { newTotpSecret, sameSecret, sha256Url, totpUri, verifyPassword, verifyTotp } from '../adapters/credentials.js';
import type { Store } from '../store/store.js';
import type { Logger } from './logger.js';
import { checkPassword, type Principal, type PrincipalService, type RoleBinding } from './principals.js';

export interface AuthOptions {
  sessionTtlMs: number;
  maxFailures: number;
  maxFailuresPerIp: number;
  failureWindowMs: number;
  lockoutMs: number;
  setupCodeTtlMs: number;
  /** Shown in authenticator apps. */
  issuer: string;
}

export interface SessionInfo {
  id: string;
  state: 'mfa_pending' | 'active';
  assurance: Assurance;
  expiresAtMs: number;
}

/** Who is calling, resolved from a credential. */
export interface Caller {
  principal: Principal;
  via: 'session' | 'api_key';
  /** Role bindings in force for this call (an API key narrows them to its roles). */
  bindings: RoleBinding[];
  permissions: Set<Permission>;
  session?: SessionInfo;
  apiKeyId?: string;
}

export interface SignedIn {
  token: string;
  csrf: string;
  session: SessionInfo;
  /** Second factors the principal can use to complete a pending sign-in. */
  factors: string[];
}

const SETUP_STATE = 'setup_code';

/** How long a verified API key is remembered: every decision request carries one, and three reads each cost. */
const API_KEY_CACHE_MS = 5_000;

export class AuthService {
  /** Verified API keys by hash. Cleared on any change made through this process; another instance's revocation takes effect within API_KEY_CACHE_MS. */
  private readonly keyCache = new Map<string, { caller: Caller; until: number; expiresAt: number | null }>();

  constructor(
    private readonly deps: { store: Store; clock: Clock; random: Random; logger: Logger; principals: PrincipalService },
    private readonly options: AuthOptions,
  ) {
    deps.principals.onChange(() => this.keyCache.clear());
  }

  // ---- first start ----

  /**
   * When no human holds the admin role, issues a new one-time setup code (only its hash is kept) and returns it
   * to print; otherwise undefined.
   */
  async issueSetupCode(): Promise<string | undefined> {
    if ((await this.deps.principals.countHumansWithRole('admin')) > 0) return undefined;
    const code = randomBytes(18).toString('base64url');
    const value = JSON.stringify({ hash: sha256Url(code), expires_at: this.deps.clock.now() + this.options.setupCodeTtlMs });
    await this.deps.store.setState(SETUP_STATE, value);
    return code;
  }

  async setupPending(): Promise<boolean> {
    return (await this.deps.principals.countHumansWithRole('admin')) === 0;
  }

  /** Creates the first admin with the one-time code; the code is then spent. */
  async completeSetup(input: { code: string; id: string; display_name?: string; password: string }, ip: string): Promise<Principal> {
    await this.throttleCheck([`ip:${ip}`]);
    if (!(await this.setupPending())) throw new LoopgateError('LOOPGATE_ERR_SETUP_DONE', 'an admin exists already; sign in instead');
    const stored = await this.deps.store.getState(SETUP_STATE);
    const parsed = stored === undefined ? undefined : (JSON.parse(stored) as { hash: string; expires_at: number } | { spent: true });
    const valid = parsed !== undefined && 'hash' in parsed && parsed.expires_at > this.deps.clock.now() && sameSecret(parsed.hash, sha256Url(input.code));
    if (!valid) {
      await this.recordFailure([`ip:${ip}`], { kind: 'anonymous', id: `ip:${ip}` }, 'setup');
      throw new LoopgateError('LOOPGATE_ERR_INVALID_CREDENTIALS', 'the setup code is not valid (it is printed at start, and is spent once used)');
    }
    checkPassword(input.password);
    const actor: AuditActor = { kind: 'anonymous', id: `setup:${ip}` };
    const principal = await this.deps.principals.create(
      { id: input.id, kind: 'human', display_name: input.display_name ?? input.id, password: input.password, roles: [{ role: 'admin' }] },
      actor,
    );
    await this.deps.store.setState(SETUP_STATE, JSON.stringify({ spent: true }), this.audit({ action: 'setup.completed', actor, target: { type: 'principal', id: principal.id } }));
    return principal;
  }

  // ---- sign-in ----

  async signInWithPassword(id: string, password: string, ip: string): Promise<SignedIn> {
    const keys = [`account:${id}`, `ip:${ip}`];
    await this.throttleCheck(keys);
    const principal = await this.deps.principals.get(id).catch(() => undefined);
    const credential = principal === undefined ? undefined : await this.credential(principal.id, 'password');
    // Verified even when the account does not exist, against a decoy hash: the answer takes as long either way.
    const ok = (await verifyPassword(credential?.secret, password)) && principal !== undefined && principal.status === 'active';
    if (!ok || principal === undefined) {
      await this.recordFailure(keys, { kind: 'anonymous', id: `ip:${ip}` }, 'password', id);
      throw new LoopgateError('LOOPGATE_ERR_INVALID_CREDENTIALS', 'the account name or password is not valid');
    }
    await this.clearFailures([`account:${id}`]);
    const factors = await this.secondFactors(principal.id);
    const now = this.deps.clock.now();
    const assurance: Assurance = { acr: ACR.aal1, amr: ['pwd'], authTimeMs: now };
    return this.openSession(principal, factors.length > 0 ? 'mfa_pending' : 'active', assurance, factors, ip);
  }

  /** The second factors a principal has enrolled (confirmed). */
  async secondFactors(principalId: string): Promise<string[]> {
    const rows = await this.deps.store.db
      .selectFrom('credentials')
      .select('type')
      .where('principal_id', '=', principalId)
      .where('type', 'in', ['totp', 'webauthn'])
      .where('confirmed', '=', 1)
      .execute();
    return [...new Set(rows.map((r) => r.type))];
  }

  /**
   * Checks a TOTP code for the session's principal: completes a pending sign-in, or steps an active session up
   * (AAL2, auth time now). A code is accepted once: its time step must be later than the last one accepted.
   */
  async verifySessionTotp(session: SessionInfo, principal: Principal, code: string, ip: string): Promise<SessionInfo> {
    const keys = [`account:${principal.id}`, `ip:${ip}`];
    await this.throttleCheck(keys);
    const credential = await this.credential(principal.id, 'totp', true);
    if (credential === undefined) throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `${principal.id} has no authenticator app enrolled`);
    await this.acceptTotp(credential, code, keys, principal.id);
    const now = this.deps.clock.now();
    // The session's assurance is what was proven last: AAL2 with auth time now (RFC 9470 max_age compares to it).
    const assurance: Assurance = { acr: ACR.aal2, amr: ['pwd', 'otp'], authTimeMs: now };
    return this.elevate(session, principal, assurance, 'totp');
  }

  /** Starts TOTP enrolment: a new secret (unconfirmed until a code from it is verified). */
  async enrolTotp(principal: Principal): Promise<{ secret: string; uri: string }> {
    const secret = newTotpSecret();
    const now = this.deps.clock.now();
    const { store } = this.deps;
    await store.write([
      store.db.deleteFrom('credentials').where('principal_id', '=', principal.id).where('type', '=', 'totp').where('confirmed', '=', 0).compile(),
      store.db
        .insertInto('credentials')
        .values({ id: uuidv7(now, this.deps.random), principal_id: principal.id, type: 'totp', label: 'authenticator app', secret, counter: 0, confirmed: 0, created_at: now, last_used_at: null })
        .compile(),
    ]);
    return { secret, uri: totpUri(secret, principal.id, this.options.issuer) };
  }

  /** Confirms a TOTP enrolment with a first code; replaces any earlier authenticator app. */
  async confirmTotp(session: SessionInfo, principal: Principal, code: string, ip: string): Promise<SessionInfo> {
    const keys = [`account:${principal.id}`, `ip:${ip}`];
    await this.throttleCheck(keys);
    const pending = await this.deps.store.db
      .selectFrom('credentials')
      .selectAll()
      .where('principal_id', '=', principal.id)
      .where('type', '=', 'totp')
      .where('confirmed', '=', 0)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (pending === undefined) throw new LoopgateError('LOOPGATE_ERR_CONFLICT', 'no authenticator app enrolment is in progress; start one first');
    const step = await verifyTotp(pending.secret, code, this.deps.clock.now(), 0);
    if (step === undefined) {
      await this.recordFailure(keys, this.actorOf(principal, session), 'totp', principal.id);
      throw new LoopgateError('LOOPGATE_ERR_INVALID_CREDENTIALS', 'the code does not match the new authenticator app');
    }
    const { store } = this.deps;
    const now = this.deps.clock.now();
    await store.write(
      [
        store.db.deleteFrom('credentials').where('principal_id', '=', principal.id).where('type', '=', 'totp').where('confirmed', '=', 1).compile(),
        { query: store.db.updateTable('credentials').set({ confirmed: 1, counter: step, last_used_at: now }).where('id', '=', pending.id).where('confirmed', '=', 0).compile(), expectRows: 1 },
      ],
      this.audit({ action: 'credential.totp_enrolled', actor: this.actorOf(principal, session), target: { type: 'principal', id: principal.id } }),
    );
    return this.elevate(session, principal, { acr: ACR.aal2, amr: ['pwd', 'otp'], authTimeMs: now }, 'totp');
  }

  async signOut(session: SessionInfo, principal: Principal): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.write(
      [this.deps.store.db.updateTable('sessions').set({ revoked_at: now }).where('id', '=', session.id).compile()],
      this.audit({ action: 'session.ended', actor: this.actorOf(principal, session), target: { type: 'session', id: session.id } }),
    );
  }

  // ---- resolving a credential ----

  /** Resolves a bearer token (session token or API key) to its caller; undefined when it is not valid. */
  async authenticateBearer(token: string, ip: string): Promise<Caller | undefined> {
    if (token.startsWith('lgk_')) return this.authenticateApiKey(token, ip);
    if (token.startsWith('lgs_')) return this.authenticateSession(token);
    return undefined;
  }

  /** Resolves a session cookie; unsafe methods must echo the session's CSRF token in a header. */
  async authenticateCookie(token: string, csrf: string | undefined, unsafe: boolean): Promise<Caller | undefined> {
    const caller = await this.authenticateSession(token);
    if (caller === undefined || !unsafe) return caller;
    const row = await this.deps.store.db.selectFrom('sessions').select('csrf_hash').where('id', '=', caller.session!.id).executeTakeFirst();
    if (csrf === undefined || row === undefined || !sameSecret(row.csrf_hash, sha256Url(csrf))) {
      throw new LoopgateError('LOOPGATE_ERR_CSRF', 'a request with the session cookie must carry the session\u2019s CSRF token in X-CSRF-Token');
    }
    return caller;
  }

  private async authenticateSession(token: string): Promise<Caller | undefined> {
    const now = this.deps.clock.now();
    const row = await this.deps.store.db.selectFrom('sessions').selectAll().where('token_hash', '=', sha256Url(token)).executeTakeFirst();
    if (row === undefined || row.revoked_at !== null || row.expires_at <= now) return undefined;
    const principal = await this.deps.principals.get(row.principal_id).catch(() => undefined);
    if (principal === undefined || principal.status !== 'active') return undefined;
    const session: SessionInfo = {
      id: row.id,
      state: row.state as SessionInfo['state'],
      assurance: { acr: row.acr, amr: JSON.parse(row.amr) as string[], authTimeMs: row.auth_time },
      expiresAtMs: row.expires_at,
    };
    // A session waiting for its second factor can do nothing but complete it.
    const bindings = session.state === 'active' ? await this.deps.principals.bindings(principal.id) : [];
    const permissions = await this.deps.principals.permissionsOf(bindings.map((b) => b.role));
    return { principal, via: 'session', bindings, permissions, session };
  }

  private async authenticateApiKey(key: string, ip: string): Promise<Caller | undefined> {
    const now = this.deps.clock.now();
    const hash = sha256Url(key);
    const cached = this.keyCache.get(hash);
    if (cached !== undefined && cached.until > now && (cached.expiresAt === null || cached.expiresAt > now)) return cached.caller;
    const keys = [`ip:${ip}`];
    await this.throttleCheck(keys);
    const row = await this.deps.store.db.selectFrom('api_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
    const principal = row === undefined ? undefined : await this.deps.principals.get(row.principal_id).catch(() => undefined);
    if (row === undefined || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now) || principal?.status !== 'active') {
      await this.recordFailure(keys, { kind: 'anonymous', id: `ip:${ip}` }, 'api_key');
      return undefined;
    }
    const keyRoles = new Set(JSON.parse(row.roles) as string[]);
    // The key's roles, as far as its principal still holds them.
    const bindings = (await this.deps.principals.bindings(principal.id)).filter((b) => keyRoles.has(b.role));
    const permissions = await this.deps.principals.permissionsOf(bindings.map((b) => b.role));
    const caller: Caller = { principal, via: 'api_key', bindings, permissions, apiKeyId: row.id };
    if (this.keyCache.size > 10_000) this.keyCache.clear();
    this.keyCache.set(hash, { caller, until: now + API_KEY_CACHE_MS, expiresAt: row.expires_at });
    return caller;
  }

  /** The audit actor for a caller: who, and how strongly they had proven it. */
  actorOf(principal: Principal, session?: SessionInfo, apiKeyId?: string): AuditActor {
    const kind = principal.kind === 'human' ? 'human' : principal.kind === 'agent' ? 'agent' : 'service';
    if (session !== undefined) {
      return {
        kind,
        id: principal.id,
        assurance: { acr: session.assurance.acr, amr: session.assurance.amr, auth_time: new Date(session.assurance.authTimeMs).toISOString(), session: session.id },
      };
    }
    return apiKeyId === undefined ? { kind, id: principal.id } : { kind, id: principal.id, assurance: { amr: ['api_key'], session: `key:${apiKeyId}` } };
  }

  callerActor(caller: Caller): AuditActor {
    return this.actorOf(caller.principal, caller.session, caller.apiKeyId);
  }

  // ---- internals ----

  /** Sets a session's assurance to what was just proven (completing a pending sign-in), with its audit entry. */
  async elevate(session: SessionInfo, principal: Principal, assurance: Assurance, method: string): Promise<SessionInfo> {
    const now = this.deps.clock.now();
    const { store } = this.deps;
    const next: SessionInfo = { ...session, state: 'active', assurance };
    await store.write(
      [
        {
          query: store.db
            .updateTable('sessions')
            .set({ state: 'active', acr: assurance.acr, amr: JSON.stringify(assurance.amr), auth_time: assurance.authTimeMs })
            .where('id', '=', session.id)
            .where('revoked_at', 'is', null)
            .compile(),
          expectRows: 1,
          conflict: 'the session has ended',
        },
      ],
      this.audit({
        action: session.state === 'mfa_pending' ? 'session.signed_in' : 'session.stepped_up',
        actor: this.actorOf(principal, next),
        target: { type: 'session', id: session.id },
        data: { method, acr: assurance.acr, amr: assurance.amr, auth_time: new Date(now).toISOString() },
      }),
    );
    return next;
  }

  private async openSession(principal: Principal, state: SessionInfo['state'], assurance: Assurance, factors: string[], ip: string): Promise<SignedIn> {
    const now = this.deps.clock.now();
    const token = `lgs_${randomBytes(32).toString('base64url')}`;
    const csrf = randomBytes(24).toString('base64url');
    const session: SessionInfo = { id: uuidv7(now, this.deps.random), state, assurance, expiresAtMs: now + this.options.sessionTtlMs };
    const { store } = this.deps;
    await store.write(
      [
        store.db
          .insertInto('sessions')
          .values({
            id: session.id,
            token_hash: sha256Url(token),
            principal_id: principal.id,
            state,
            acr: assurance.acr,
            amr: JSON.stringify(assurance.amr),
            auth_time: assurance.authTimeMs,
            csrf_hash: sha256Url(csrf),
            created_at: now,
            expires_at: session.expiresAtMs,
            revoked_at: null,
          })
          .compile(),
      ],
      this.audit({
        action: state === 'active' ? 'session.signed_in' : 'session.password_verified',
        actor: this.actorOf(principal, session),
        target: { type: 'session', id: session.id },
        data: { method: assurance.amr.join('+'), acr: assurance.acr, amr: assurance.amr, ip, second_factor_pending: state === 'mfa_pending' },
      }),
    );
    return { token, csrf, session, factors };
  }

  async credential(principalId: string, type: string, confirmedOnly = true) {
    let q = this.deps.store.db.selectFrom('credentials').selectAll().where('principal_id', '=', principalId).where('type', '=', type);
    if (confirmedOnly) q = q.where('confirmed', '=', 1);
    return q.orderBy('created_at', 'desc').executeTakeFirst();
  }

  /** Verifies a TOTP code and moves the credential's replay guard forward, atomically (a race accepts one). */
  async acceptTotp(credential: { id: string; secret: string; counter: number }, code: string, keys: string[], principalId: string): Promise<void> {
    const now = this.deps.clock.now();
    const step = await verifyTotp(credential.secret, code, now, 0);
    const actor: AuditActor = { kind: 'human', id: principalId };
    if (step === undefined) {
      await this.recordFailure(keys, actor, 'totp', principalId);
      throw new LoopgateError('LOOPGATE_ERR_INVALID_CREDENTIALS', 'the one-time code is not valid');
    }
    if (step <= credential.counter) {
      await this.recordFailure(keys, actor, 'totp_replay', principalId);
      throw new LoopgateError('LOOPGATE_ERR_TOTP_REPLAYED', 'this one-time code was already used; wait for the next one');
    }
    const { store } = this.deps;
    try {
      await store.write([
        {
          query: store.db.updateTable('credentials').set({ counter: step, last_used_at: now }).where('id', '=', credential.id).where('counter', '<', step).compile(),
          expectRows: 1,
        },
      ]);
    } catch (e) {
      if (e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_CONFLICT') {
        throw new LoopgateError('LOOPGATE_ERR_TOTP_REPLAYED', 'this one-time code was already used; wait for the next one');
      }
      throw e;
    }
    await this.clearFailures([`account:${principalId}`]);
  }

  /** Refuses a credential check while an account or address is locked out (429 with Retry-After). */
  async throttleCheck(keys: string[]): Promise<void> {
    const now = this.deps.clock.now();
    const rows = await this.deps.store.db.selectFrom('auth_failures').selectAll().where('key', 'in', keys).execute();
    for (const r of rows) {
      if (r.locked_until !== null && r.locked_until > now) {
        const seconds = Math.ceil((r.locked_until - now) / 1000);
        throw new LoopgateError('LOOPGATE_ERR_LOCKED_OUT', `too many failed attempts for ${r.key.split(':')[0]}; try again in ${seconds} s`, { extra: { retry_after: seconds } });
      }
    }
  }

  /** Counts a failure against each key; locks a key that reaches its limit within the window (and records it). */
  async recordFailure(keys: string[], actor: AuditActor, method: string, account?: string): Promise<void> {
    const now = this.deps.clock.now();
    const { store } = this.deps;
    const rows = new Map((await store.db.selectFrom('auth_failures').selectAll().where('key', 'in', keys).execute()).map((r) => [r.key, r]));
    const queries = [];
    const locked: string[] = [];
    for (const key of keys) {
      const limit = key.startsWith('ip:') ? this.options.maxFailuresPerIp : this.options.maxFailures;
      const r = rows.get(key);
      const fresh = r === undefined || now - r.window_start > this.options.failureWindowMs;
      const failures = fresh ? 1 : r.failures + 1;
      const lockedUntil = failures >= limit ? now + this.options.lockoutMs : null;
      if (lockedUntil !== null) locked.push(key);
      const values = { key, failures: lockedUntil !== null ? 0 : failures, window_start: fresh || lockedUntil !== null ? now : r.window_start, locked_until: lockedUntil };
      queries.push(
        store.db
          .insertInto('auth_failures')
          .values(values)
          .onConflict((oc) => oc.column('key').doUpdateSet({ failures: values.failures, window_start: values.window_start, locked_until: values.locked_until }))
          .compile(),
      );
    }
    const inputs: AuditInput[] = [
      { action: 'auth.failed', actor, target: { type: account === undefined ? 'network' : 'principal', id: account ?? actor.id }, data: { method } },
      ...locked.map((key) => ({ action: 'auth.locked_out', actor, target: { type: key.startsWith('ip:') ? 'network' : 'principal', id: key.slice(key.indexOf(':') + 1) }, data: { until: new Date(now + this.options.lockoutMs).toISOString() } })),
    ];
    await store.write(queries, { inputs, timeMs: now });
    this.deps.logger.warn({ method, keys, locked }, 'credential check failed');
  }

  private async clearFailures(keys: string[]): Promise<void> {
    await this.deps.store.write([this.deps.store.db.deleteFrom('auth_failures').where('key', 'in', keys).where('locked_until', 'is', null).compile()]);
  }

  private audit(input: AuditInput) {
    return { inputs: [input], timeMs: this.deps.clock.now() };
  }
}
