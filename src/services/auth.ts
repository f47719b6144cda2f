/**
 * Authentication: sign-in with a password, a second factor (TOTP, passkey), sessions (bearer token or cookie with
 * a CSRF token), API keys, the first-admin setup code, and rate limits with lockout on every credential check.
 *
 * What is stored: argon2id hashes of passwords, SHA-256 of session tokens, CSRF tokens, API keys and the setup
 * code; never the secrets themselves. Every sign-in, step-up, lockout and enrolment is recorded in the audit log
 * with the assurance it reached (acr, amr, auth time).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { CompiledQuery } from 'kysely';
import { uuidv7, type Clock, type Random } from '../core/clock.js';
import type { AuditActor, AuditInput } from '../core/audit/entry.js';
import { ACR, missingAssurance, stepUpChallenge, type Assurance, type AssuranceRequirement } from '../core/auth/assurance.js';
import type { Permission } from '../core/auth/roles.js';
import { LoopgateError } from '../core/errors.js';
import { newTotpSecret, sameSecret, sha256Url, totpUri, verifyPassword, verifyTotp } from '../adapters/credentials.js';
import {
  credentialIdOf,
  passkeyAuthenticationOptions,
  passkeyRegistrationOptions,
  verifyPasskeyAssertion,
  verifyPasskeyRegistration,
  type PasskeyConfig,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type StoredPasskey,
} from '../adapters/passkeys.js';
import type { GuardedQuery, Store } from '../store/store.js';
import type { Logger } from './logger.js';
import type { PasskeyRelyingParty } from './passkey-rp.js';
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
  /** The WebAuthn relying party (passkeyRelyingParty(config)); without one, passkey calls answer LOOPGATE_ERR_CONFIG_INVALID. */
  passkeys?: PasskeyRelyingParty;
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

/** A passkey ceremony's parameters, and the id of its one-time challenge, which the client sends back. */
export interface PasskeyCeremony<Options> {
  challengeId: string;
  expiresAtMs: number;
  options: Options;
}

export interface PasskeyEnrolled {
  /** The credentials row. */
  id: string;
  label: string;
  /** The WebAuthn credential id (base64url). */
  credentialId: string;
  /** Synced (backup eligible) passkeys reach AAL2, device-bound ones AAL3. */
  synced: boolean;
  createdAtMs: number;
  /** The session, raised to what the new passkey proves. */
  session: SessionInfo;
}

/** What a verified passkey assertion proves, and the counter update its caller commits with the effect. */
export interface PasskeyVerified {
  assurance: Assurance;
  /** The WebAuthn credential id (base64url) that signed. */
  credentialId: string;
  /** Guarded: applies once, and only if nobody used the passkey since it was read. */
  counterUpdate: GuardedQuery;
}

const SETUP_STATE = 'setup_code';

const PASSKEY_PURPOSE = { signIn: 'passkey.sign_in', enrol: 'passkey.enrol', stepUp: 'passkey.step_up' } as const;
type PasskeyPurpose = (typeof PASSKEY_PURPOSE)[keyof typeof PASSKEY_PURPOSE];
/** Long enough to find the authenticator and touch it; short enough that an unanswered challenge is soon gone. */
const PASSKEY_CHALLENGE_TTL_MS = 5 * 60_000;
/** WebAuthn asks for at least 16 random bytes; 32 leaves no doubt. */
const PASSKEY_CHALLENGE_BYTES = 32;
/** A passkey is a way in that outlives the session: adding one needs a recent proof of who is asking. */
const PASSKEY_ENROL_MAX_AGE_S = 600;
// Conflict details of the guarded writes, recognised to answer a lost race as the failed passkey check it is.
const PASSKEY_CHALLENGE_SPENT = 'this passkey challenge is unknown, expired or already used; ask for new options';
const PASSKEY_RESPONSE_USED = 'this passkey response was already used';
/** Word for word the adapter's answer to a bad signature: an unknown passkey must not be told apart from it. */
const PASSKEY_NOT_VERIFIED = 'the passkey signature is not valid';

/** How long a verified API key is remembered: every decision request carries one, and three reads each cost. */
const API_KEY_CACHE_MS = 5_000;

export class AuthService {
  /** Verified API keys by hash. Cleared on any change made through this process; another instance's revocation takes effect within API_KEY_CACHE_MS. */
  private readonly keyCache = new Map<string, { caller: Caller; until: number; expiresAt: number | null }>();
  private passkeyRp: PasskeyRelyingParty | undefined;
  /**
   * Keys the stand-in passkey offered for an account that has none, so that the sign-in options do not tell who
   * has a passkey. Per process: the stand-in for an account changes when Loopgate restarts.
   */
  private readonly decoyKey = randomBytes(32);

  constructor(
    private readonly deps: { store: Store; clock: Clock; random: Random; logger: Logger; principals: PrincipalService },
    private readonly options: AuthOptions,
  ) {
    deps.principals.onChange(() => this.keyCache.clear());
    this.passkeyRp = options.passkeys;
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
    const factors = await this.secondFactors(principal.id);
    // Failures are forgiven only when the whole sign-in succeeds: with a second factor still to come, a correct
    // password must not wipe out the count of wrong codes (guessing them would otherwise never lock the account).
    if (factors.length === 0) await this.clearFailures([`account:${id}`]);
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
  async enrolTotp(session: SessionInfo, principal: Principal): Promise<{ secret: string; uri: string }> {
    // A stale or stolen session must not add a way in (and with it mint a fresh step-up): see requireRecentProof.
    await this.requireRecentProof(session, principal);
    const secret = newTotpSecret();
    const now = this.deps.clock.now();
    const { store } = this.deps;
    await store.write([
      store.db.deleteFrom('credentials').where('principal_id', '=', principal.id).where('type', '=', 'totp').where('confirmed', '=', 0).compile(),
      store.db
        .insertInto('credentials')
        .values({ id: uuidv7(now, this.deps.random), principal_id: principal.id, type: 'totp', label: 'authenticator app', secret, credential_id: null, counter: 0, confirmed: 0, created_at: now, last_used_at: null })
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
    await this.requireRecentProof(session, principal);
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

  // ---- passkeys ----

  /**
   * Options to create a passkey for the signed-in person. Only on a recent sign-in (see requireRecentProof), since
   * whoever holds the session could otherwise add their own way in.
   */
  async passkeyEnrolmentOptions(session: SessionInfo, principal: Principal): Promise<PasskeyCeremony<PublicKeyCredentialCreationOptionsJSON>> {
    const rp = this.relyingParty();
    await this.requireRecentProof(session, principal);
    const existing = (await this.passkeysOf(principal.id)).map((p) => p.stored);
    const challenge = newPasskeyChallenge();
    const user = { id: passkeyUserHandle(principal.id), name: principal.id, displayName: principal.display_name };
    const options = await passkeyRegistrationOptions(rp, user, existing, challenge);
    return { ...(await this.issuePasskeyChallenge(PASSKEY_PURPOSE.enrol, challenge, principal.id, { session: session.id })), options };
  }

  /**
   * Stores the passkey the browser created for the options' challenge, and raises the session to what it proves;
   * the challenge is spent, the passkey stored, the session raised and both recorded in one transaction.
   */
  async enrolPasskey(session: SessionInfo, principal: Principal, input: { challengeId: string; response: unknown; label?: string }): Promise<PasskeyEnrolled> {
    const rp = this.relyingParty();
    await this.requireRecentProof(session, principal);
    const opened = await this.openPasskeyChallenge(input.challengeId, PASSKEY_PURPOSE.enrol, { principalId: principal.id, session: session.id });
    if (opened === undefined) throw passkeyInvalid(PASSKEY_CHALLENGE_SPENT);
    const stored = await verifyPasskeyRegistration(rp, input.response, opened.challenge);
    // Credential ids are chosen by the authenticator, so a second registration of one is a mistake or a trick; either
    // way, sign-in finds a passkey by its id and that id must lead to one person.
    if ((await this.findPasskey(stored.credentialId)) !== undefined) throw new LoopgateError('LOOPGATE_ERR_CONFLICT', 'this passkey is registered already');
    const now = this.deps.clock.now();
    const id = uuidv7(now, this.deps.random);
    const label = input.label ?? 'passkey';
    const synced = isSynced(stored);
    const assurance: Assurance = { acr: synced ? ACR.aal2 : ACR.aal3, amr: synced ? ['swk', 'user'] : ['hwk', 'user'], authTimeMs: now };
    const raised = this.elevation(session, principal, assurance, 'passkey', { credential_id: stored.credentialId });
    const { store } = this.deps;
    // The unique index on credential_id refuses a racing second registration of the same id.
    await this.commitPasskeyUse(
      [
        this.spendPasskeyChallenge(input.challengeId, PASSKEY_PURPOSE.enrol),
        store.db
          .insertInto('credentials')
          .values({ id, principal_id: principal.id, type: 'webauthn', label, secret: JSON.stringify(stored), credential_id: stored.credentialId, counter: stored.counter, confirmed: 1, created_at: now, last_used_at: null })
          .compile(),
        raised.query,
      ],
      [
        {
          action: 'credential.passkey_enrolled',
          actor: this.actorOf(principal, session),
          target: { type: 'principal', id: principal.id },
          data: { credential: id, credential_id: stored.credentialId, label, synced, aaguid: stored.aaguid },
        },
        raised.audit,
      ],
    ).catch((e: unknown) => {
      const m = (e as { message?: string; code?: string }).message ?? '';
      if ((e as { code?: string }).code === '23505' || m.includes('credentials.credential_id')) {
        throw new LoopgateError('LOOPGATE_ERR_CONFLICT', 'this passkey is registered already');
      }
      throw e;
    });
    return { id, label, credentialId: stored.credentialId, synced, createdAtMs: now, session: raised.next };
  }

  /**
   * Options to sign in with a passkey: usernameless (the browser offers any passkey of this site) or for a named
   * account (its passkeys are listed). An unknown account, or one without a passkey, is offered a stand-in passkey
   * derived from its name, so the answer does not tell which accounts exist or have one.
   */
  async passkeySignInOptions(account: string | undefined, ip: string): Promise<PasskeyCeremony<PublicKeyCredentialRequestOptionsJSON>> {
    const rp = this.relyingParty();
    await this.throttleCheck(account === undefined ? [`ip:${ip}`] : [`account:${account}`, `ip:${ip}`]);
    let allow: StoredPasskey[] = [];
    if (account !== undefined) {
      const principal = await this.deps.principals.get(account).catch(() => undefined);
      const own = principal?.status === 'active' ? (await this.passkeysOf(principal.id)).map((p) => p.stored) : [];
      allow = own.length > 0 ? own : [this.decoyPasskey(account)];
    }
    const challenge = newPasskeyChallenge();
    const options = await passkeyAuthenticationOptions(rp, allow, challenge);
    return { ...(await this.issuePasskeyChallenge(PASSKEY_PURPOSE.signIn, challenge, null, account === undefined ? {} : { account })), options };
  }

  /**
   * Signs in with a passkey: an active session at the passkey's assurance (a passkey with user verification is two
   * factors in one). Throttled and locked out like password sign-in; every failure is LOOPGATE_ERR_PASSKEY_INVALID,
   * and a passkey Loopgate does not know fails exactly like a bad signature.
   */
  async signInWithPasskey(input: { challengeId: string; response: unknown }, ip: string): Promise<SignedIn> {
    this.relyingParty(); // refused before anything is counted when passkeys cannot work here
    const anonymous: AuditActor = { kind: 'anonymous', id: `ip:${ip}` };
    await this.throttleCheck([`ip:${ip}`]);
    const opened = await this.openPasskeyChallenge(input.challengeId, PASSKEY_PURPOSE.signIn, {});
    if (opened === undefined) {
      await this.recordFailure([`ip:${ip}`], anonymous, 'passkey');
      throw passkeyInvalid(PASSKEY_CHALLENGE_SPENT);
    }
    const { account } = opened;
    const keys = account === undefined ? [`ip:${ip}`] : [`account:${account}`, `ip:${ip}`];
    await this.throttleCheck(keys);
    const credentialId = credentialIdOf(input.response);
    const found = credentialId === undefined ? undefined : await this.findPasskey(credentialId);
    const owner = found === undefined || (account !== undefined && found.principalId !== account) ? undefined : await this.deps.principals.get(found.principalId).catch(() => undefined);
    if (owner === undefined) {
      await this.recordFailure(keys, anonymous, 'passkey', account);
      throw passkeyInvalid(PASSKEY_NOT_VERIFIED);
    }
    const verified = await this.verifyPasskeyFor(owner, input.response, opened.challenge, ip);
    const opening = this.sessionOpening(owner, 'active', verified.assurance, ip, 'passkey', { credential_id: verified.credentialId });
    await this.commitPasskeyUse(
      [this.spendPasskeyChallenge(input.challengeId, PASSKEY_PURPOSE.signIn), verified.counterUpdate, opening.query],
      [opening.audit],
      { keys: [`account:${owner.id}`, `ip:${ip}`], actor: anonymous, account: owner.id },
    );
    await this.clearFailures([`account:${owner.id}`]);
    return { token: opening.token, csrf: opening.csrf, session: opening.session, factors: await this.secondFactors(owner.id) };
  }

  /** Options to step an active session up with one of the person's passkeys. */
  async passkeyStepUpOptions(session: SessionInfo, principal: Principal): Promise<PasskeyCeremony<PublicKeyCredentialRequestOptionsJSON>> {
    const challenge = newPasskeyChallenge();
    const options = await this.passkeyRequestOptions(principal, challenge);
    if (options === undefined) throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `${principal.id} has no passkey enrolled`);
    return { ...(await this.issuePasskeyChallenge(PASSKEY_PURPOSE.stepUp, challenge, principal.id, { session: session.id })), options };
  }

  /**
   * Options for an assertion over `challenge` by one of the person's passkeys (a step-up, a signed verdict), or
   * undefined when they have none. The caller keeps the challenge and verifies with verifyPasskeyFor.
   */
  async passkeyRequestOptions(principal: Principal, challenge: Uint8Array): Promise<PublicKeyCredentialRequestOptionsJSON | undefined> {
    const own = (await this.passkeysOf(principal.id)).map((p) => p.stored);
    if (own.length === 0) return undefined;
    return passkeyAuthenticationOptions(this.relyingParty(), own, challenge);
  }

  /** Steps a session up with a passkey: its assurance becomes the passkey's, with auth time now. */
  async stepUpWithPasskey(session: SessionInfo, principal: Principal, input: { challengeId: string; response: unknown }, ip: string): Promise<SessionInfo> {
    this.relyingParty(); // refused before anything is counted when passkeys cannot work here
    const keys = [`account:${principal.id}`, `ip:${ip}`];
    const actor = this.actorOf(principal, session);
    await this.throttleCheck(keys);
    const opened = await this.openPasskeyChallenge(input.challengeId, PASSKEY_PURPOSE.stepUp, { principalId: principal.id, session: session.id });
    if (opened === undefined) {
      await this.recordFailure(keys, actor, 'passkey', principal.id);
      throw passkeyInvalid(PASSKEY_CHALLENGE_SPENT);
    }
    const verified = await this.verifyPasskeyFor(principal, input.response, opened.challenge, ip);
    const raised = this.elevation(session, principal, verified.assurance, 'passkey', { credential_id: verified.credentialId });
    await this.commitPasskeyUse(
      [this.spendPasskeyChallenge(input.challengeId, PASSKEY_PURPOSE.stepUp), verified.counterUpdate, raised.query],
      [raised.audit],
      { keys, actor, account: principal.id },
    );
    await this.clearFailures([`account:${principal.id}`]);
    return raised.next;
  }

  /**
   * The one passkey verification path (sign-in, step-up, signed verdicts): checks that `response` is an assertion
   * over `challenge` by one of the principal's passkeys. Throttled per account and address like every credential
   * check; a failure counts toward lockout and is LOOPGATE_ERR_PASSKEY_INVALID.
   *
   * Nothing is written on success: the caller commits `counterUpdate` in the transaction of whatever the assertion
   * authorises, so the effect and the use of the passkey happen together or not at all, and a response cannot be
   * used twice (the second commit fails with LOOPGATE_ERR_CONFLICT). Spending the challenge is the caller's too.
   */
  async verifyPasskeyFor(principal: Principal, response: unknown, challenge: Uint8Array, ip: string): Promise<{ assurance: Assurance; credentialId: string; counterUpdate: GuardedQuery }> {
    const rp = this.relyingParty();
    const keys = [`account:${principal.id}`, `ip:${ip}`];
    const actor = this.actorOf(principal);
    await this.throttleCheck(keys);
    const credentialId = credentialIdOf(response);
    const found = credentialId === undefined || principal.status !== 'active' ? undefined : (await this.passkeysOf(principal.id)).find((p) => p.stored.credentialId === credentialId);
    if (found === undefined) {
      await this.recordFailure(keys, actor, 'passkey', principal.id);
      throw passkeyInvalid(PASSKEY_NOT_VERIFIED);
    }
    let result: Awaited<ReturnType<typeof verifyPasskeyAssertion>>;
    try {
      result = await verifyPasskeyAssertion(rp, response, challenge, found.stored);
    } catch (e) {
      if (e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_PASSKEY_INVALID') {
        // The library's own words (the cause) name expected values: for the log at debug level, never the caller.
        this.deps.logger.debug({ reason: e.message, cause: e.cause instanceof Error ? e.cause.message : undefined }, 'passkey assertion refused');
        await this.recordFailure(keys, actor, 'passkey', principal.id);
      }
      throw e;
    }
    const now = this.deps.clock.now();
    const next: StoredPasskey = { ...found.stored, counter: result.newCounter, backedUp: result.backedUp };
    // Guarded on the counter and on last_used_at as read: authenticators that do not count (they always report 0,
    // as most synced passkeys do) would otherwise let the same update apply twice. last_used_at moves strictly
    // forward so that two uses within one millisecond still differ.
    const lastUsedAt = Math.max(now, (found.lastUsedAt ?? 0) + 1);
    let update = this.deps.store.db
      .updateTable('credentials')
      .set({ secret: JSON.stringify(next), counter: result.newCounter, last_used_at: lastUsedAt })
      .where('id', '=', found.id)
      .where('confirmed', '=', 1)
      .where('counter', '=', found.counter);
    update = found.lastUsedAt === null ? update.where('last_used_at', 'is', null) : update.where('last_used_at', '=', found.lastUsedAt);
    return {
      assurance: { acr: result.acr, amr: result.amr, authTimeMs: now },
      credentialId: found.stored.credentialId,
      counterUpdate: { query: update.compile(), expectRows: 1, conflict: PASSKEY_RESPONSE_USED },
    };
  }

  private relyingParty(): PasskeyConfig {
    const rp = this.passkeyRp;
    if (rp === undefined) throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', 'passkeys are not configured (no relying party)');
    if (!rp.ok) throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `passkeys are not available: ${rp.problem}`);
    return rp.config;
  }

  /**
   * Adding a second factor (a passkey, an authenticator app) needs a sign-in within PASSKEY_ENROL_MAX_AGE_S, and, for a person who already has a second
   * factor, a session proven with one (AAL2 or more): a stolen session, or one opened before the person enrolled
   * their first factor, must not be able to add a way in. Answered with the RFC 9470 step-up challenge.
   */
  private async requireRecentProof(session: SessionInfo, principal: Principal): Promise<void> {
    const factors = await this.secondFactors(principal.id);
    const need: AssuranceRequirement = { acr_values: factors.length > 0 ? [ACR.aal2, ACR.aal3] : [], max_age: PASSKEY_ENROL_MAX_AGE_S };
    const missing = missingAssurance(session.assurance, need, this.deps.clock.now());
    if (missing === undefined) return;
    const how =
      factors.length > 0
        ? 'step up with a second factor first (POST /v1/me/step-up/passkey, or POST /v1/auth/totp)'
        : 'sign in again with your password first';
    throw new LoopgateError('LOOPGATE_ERR_STEP_UP_REQUIRED', `adding a second factor needs an authentication within the last ${PASSKEY_ENROL_MAX_AGE_S / 60} minutes: ${how}`, {
      extra: { factors, ...missing, www_authenticate: stepUpChallenge(missing) },
    });
  }

  /** The person's confirmed passkeys, with what the counter update guards on. */
  private async passkeysOf(principalId: string) {
    const rows = await this.deps.store.db
      .selectFrom('credentials')
      .select(['id', 'secret', 'counter', 'last_used_at'])
      .where('principal_id', '=', principalId)
      .where('type', '=', 'webauthn')
      .where('confirmed', '=', 1)
      .orderBy('created_at')
      .execute();
    return rows.flatMap((r) => {
      const stored = parseStoredPasskey(r.secret);
      return stored === undefined ? [] : [{ id: r.id, stored, counter: r.counter, lastUsedAt: r.last_used_at }];
    });
  }

  /** The confirmed passkey with this credential id, and whose it is. */
  private async findPasskey(credentialId: string): Promise<{ principalId: string } | undefined> {
    const rows = await this.deps.store.db
      .selectFrom('credentials')
      .select(['principal_id', 'secret'])
      .where('credential_id', '=', credentialId)
      .where('type', '=', 'webauthn')
      .where('confirmed', '=', 1)
      .execute();
    const matches = rows.filter((r) => parseStoredPasskey(r.secret)?.credentialId === credentialId);
    // Never more than one (enrolment refuses a known id); if the data says otherwise, no owner is better than a guess.
    return matches.length === 1 ? { principalId: matches[0]!.principal_id } : undefined;
  }

  /** A stand-in for an account without passkeys: a credential id that is stable for the account, and unknown to any authenticator. */
  private decoyPasskey(account: string): StoredPasskey {
    const credentialId = createHmac('sha256', this.decoyKey).update(account).digest().subarray(0, 16).toString('base64url');
    return { credentialId, publicKey: '', counter: 0, transports: ['internal'], backedUp: false, deviceType: 'singleDevice', aaguid: '00000000-0000-0000-0000-000000000000' };
  }

  private async issuePasskeyChallenge(purpose: PasskeyPurpose, challenge: Uint8Array, principalId: string | null, bound: { session?: string; account?: string }) {
    const now = this.deps.clock.now();
    const id = uuidv7(now, this.deps.random);
    const expiresAtMs = now + PASSKEY_CHALLENGE_TTL_MS;
    const { store } = this.deps;
    await store.write([
      // Anyone may ask for sign-in options, so expired ceremonies are swept as new ones begin.
      store.db.deleteFrom('challenges').where('purpose', 'in', Object.values(PASSKEY_PURPOSE)).where('expires_at', '<=', now).compile(),
      store.db
        .insertInto('challenges')
        .values({ id, purpose, principal_id: principalId, data: JSON.stringify({ challenge: Buffer.from(challenge).toString('base64url'), ...bound }), created_at: now, expires_at: expiresAtMs, used_at: null })
        .compile(),
    ]);
    return { challengeId: id, expiresAtMs };
  }

  /**
   * The challenge bytes when the challenge is of this purpose, unused, unexpired and bound to this person and
   * session; else undefined. Spending it is a guarded write in the transaction of its effect (spendPasskeyChallenge).
   */
  private async openPasskeyChallenge(id: string, purpose: PasskeyPurpose, bound: { principalId?: string; session?: string }): Promise<{ challenge: Uint8Array; account?: string } | undefined> {
    const row = await this.deps.store.db.selectFrom('challenges').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined || row.purpose !== purpose || row.used_at !== null || row.expires_at <= this.deps.clock.now()) return undefined;
    if (bound.principalId !== undefined && row.principal_id !== bound.principalId) return undefined;
    const data = JSON.parse(row.data) as { challenge: string; session?: string; account?: string };
    if (bound.session !== undefined && data.session !== bound.session) return undefined;
    const challenge = new Uint8Array(Buffer.from(data.challenge, 'base64url'));
    return data.account === undefined ? { challenge } : { challenge, account: data.account };
  }

  /** Marks the challenge used; fails the transaction unless this is its first use and it has not expired. */
  private spendPasskeyChallenge(id: string, purpose: PasskeyPurpose): GuardedQuery {
    const now = this.deps.clock.now();
    return {
      query: this.deps.store.db
        .updateTable('challenges')
        .set({ used_at: now })
        .where('id', '=', id)
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .compile(),
      expectRows: 1,
      conflict: PASSKEY_CHALLENGE_SPENT,
    };
  }

  /**
   * Commits a passkey's use with its effect. Losing a race for the challenge or the counter (the same response sent
   * twice at once) is a failed passkey check, counted like any other when `failure` says against whom.
   */
  private async commitPasskeyUse(queries: Array<CompiledQuery | GuardedQuery>, audit: AuditInput[], failure?: { keys: string[]; actor: AuditActor; account: string }): Promise<void> {
    try {
      await this.deps.store.write(queries, { inputs: audit, timeMs: this.deps.clock.now() });
    } catch (e) {
      const lostRace = e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_CONFLICT' && (e.message === PASSKEY_CHALLENGE_SPENT || e.message === PASSKEY_RESPONSE_USED);
      if (!lostRace) throw e;
      if (failure !== undefined) await this.recordFailure(failure.keys, failure.actor, 'passkey', failure.account);
      throw passkeyInvalid(e.message);
    }
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
    const { query, audit, next } = this.elevation(session, principal, assurance, method);
    await this.deps.store.write([query], { inputs: [audit], timeMs: this.deps.clock.now() });
    return next;
  }

  /** The write and audit entry of elevate(), to commit together with what proved the new assurance. */
  private elevation(session: SessionInfo, principal: Principal, assurance: Assurance, method: string, data: Record<string, unknown> = {}) {
    const now = this.deps.clock.now();
    const { store } = this.deps;
    const next: SessionInfo = { ...session, state: 'active', assurance };
    const query: GuardedQuery = {
      query: store.db
        .updateTable('sessions')
        .set({ state: 'active', acr: assurance.acr, amr: JSON.stringify(assurance.amr), auth_time: assurance.authTimeMs })
        .where('id', '=', session.id)
        .where('revoked_at', 'is', null)
        .compile(),
      expectRows: 1,
      conflict: 'the session has ended',
    };
    const audit: AuditInput = {
      action: session.state === 'mfa_pending' ? 'session.signed_in' : 'session.stepped_up',
      actor: this.actorOf(principal, next),
      target: { type: 'session', id: session.id },
      data: { method, acr: assurance.acr, amr: assurance.amr, auth_time: new Date(now).toISOString(), ...data },
    };
    return { query, audit, next };
  }

  private async openSession(principal: Principal, state: SessionInfo['state'], assurance: Assurance, factors: string[], ip: string): Promise<SignedIn> {
    const opening = this.sessionOpening(principal, state, assurance, ip, assurance.amr.join('+'));
    await this.deps.store.write([opening.query], { inputs: [opening.audit], timeMs: this.deps.clock.now() });
    return { token: opening.token, csrf: opening.csrf, session: opening.session, factors };
  }

  /** The new session's row and audit entry, to commit together with what proved who opens it. */
  private sessionOpening(principal: Principal, state: SessionInfo['state'], assurance: Assurance, ip: string, method: string, data: Record<string, unknown> = {}) {
    const now = this.deps.clock.now();
    const token = `lgs_${randomBytes(32).toString('base64url')}`;
    const csrf = randomBytes(24).toString('base64url');
    const session: SessionInfo = { id: uuidv7(now, this.deps.random), state, assurance, expiresAtMs: now + this.options.sessionTtlMs };
    const query = this.deps.store.db
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
      .compile();
    const audit: AuditInput = {
      action: state === 'active' ? 'session.signed_in' : 'session.password_verified',
      actor: this.actorOf(principal, session),
      target: { type: 'session', id: session.id },
      data: { method, acr: assurance.acr, amr: assurance.amr, ip, second_factor_pending: state === 'mfa_pending', ...data },
    };
    return { query, audit, token, csrf, session };
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

function passkeyInvalid(explanation: string): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_PASSKEY_INVALID', explanation);
}

function newPasskeyChallenge(): Uint8Array {
  return new Uint8Array(randomBytes(PASSKEY_CHALLENGE_BYTES));
}

/**
 * The WebAuthn user handle of a person: authenticators keep it and may show it to anyone holding the device, so it
 * is not the account name (which may be an e-mail address) but a digest of it; it also always fits WebAuthn's 64 bytes.
 */
function passkeyUserHandle(principalId: string): string {
  return sha256Url(`loopgate:passkey-user:${principalId}`);
}

/** The same rule as the adapter's assertion check: a synced passkey is AAL2 (NIST SP 800-63B), a device-bound one AAL3. */
function isSynced(stored: StoredPasskey): boolean {
  return stored.deviceType === 'multiDevice' || stored.backedUp;
}

/** Our own JSON; unreadable rows are skipped rather than failing every sign-in. */
function parseStoredPasskey(secret: string): StoredPasskey | undefined {
  try {
    const parsed = JSON.parse(secret) as StoredPasskey;
    return typeof parsed.credentialId === 'string' && typeof parsed.publicKey === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
