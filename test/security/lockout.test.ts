/**
 * Threat: online guessing of passwords and one-time codes (brute force, password spraying across accounts,
 * rotating addresses).
 *
 * Checked, on both stores, through the HTTP API (requests from chosen client addresses through Fastify's inject):
 * repeated wrong passwords lock the account (429 LOOPGATE_ERR_LOCKED_OUT with Retry-After), from any address and
 * even for the right password, until the lockout ends; wrong passwords from one address across different accounts
 * lock the address (auth.max_failures_per_ip), for every account, while other addresses are unaffected, and a
 * forged X-Forwarded-For does not escape it; wrong TOTP codes count too, and a locked account can neither complete
 * its pending sign-in nor step up with the right code; signing in with the password again does not forgive the
 * wrong codes (this one fails today: see the test). Each lockout is recorded (auth.locked_out), and a locked
 * account never gets a session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { PASSWORD, reviewer, totpAt, TOTP_STEP_MS } from '../helpers/reviewers.js';
import { expectProblem, wrongCode } from './support.js';

const MINUTE = 60_000;
const WRONG = 'not the password at all';

describe.each(STORES)('lockout on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  /** POST /v1/auth/password from a given client address, without the test client's key. */
  function signIn(id: string, password: string, remoteAddress: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return t.app.inject({ method: 'POST', url: '/v1/auth/password', payload: { id, password }, headers: { 'content-type': 'application/json', ...headers }, remoteAddress });
  }

  async function person(id: string): Promise<void> {
    const res = await t.post('/v1/principals', { id, password: PASSWORD });
    expect(res.statusCode, res.body).toBe(201);
  }

  async function sessionsOf(id: string): Promise<number> {
    return (await t.lg.store.db.selectFrom('sessions').select('id').where('principal_id', '=', id).execute()).length;
  }

  async function lockouts(): Promise<Array<{ type: string; id: string }>> {
    const entries = (await t.get('/v1/audit/search?action=auth.locked_out')).json().entries as Array<{ entry: { target: { type: string; id: string } } }>;
    return entries.map((e) => e.entry.target);
  }

  function expectLocked(res: LightMyRequestResponse, retryAfterSeconds: number): void {
    expectProblem(res, 429, 'LOOPGATE_ERR_LOCKED_OUT');
    expect(res.json().retry_after).toBe(retryAfterSeconds);
    expect(res.headers['retry-after']).toBe(String(retryAfterSeconds));
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.json().token).toBeUndefined();
  }

  it('wrong passwords lock the account, from any address and even for the right password, until the lockout ends', async () => {
    t = await startTestLoopgate({ store, overrides: { 'auth.max_failures': 3, 'auth.lockout_minutes': 10 } });
    await person('lee');
    // The guesses come from three addresses: the account locks all the same.
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) expectProblem(await signIn('lee', WRONG, ip), 401, 'LOOPGATE_ERR_INVALID_CREDENTIALS');

    expectLocked(await signIn('lee', PASSWORD, '203.0.113.50'), 600);
    t.clock.advance(4 * MINUTE);
    expectLocked(await signIn('lee', PASSWORD, '203.0.113.51'), 360);
    expect(await sessionsOf('lee')).toBe(0);
    expect(await lockouts()).toEqual([{ type: 'principal', id: 'lee' }]);

    // Still locked a moment before the end; the right password works after it.
    t.clock.advance(6 * MINUTE - 1_000);
    expectLocked(await signIn('lee', PASSWORD, '203.0.113.52'), 1);
    expect(await sessionsOf('lee')).toBe(0);
    t.clock.advance(1_000);
    const ok = await signIn('lee', PASSWORD, '203.0.113.53');
    expect(ok.statusCode, ok.body).toBe(201);
    expect(await sessionsOf('lee')).toBe(1);
  });

  it('wrong passwords from one address across accounts lock the address for every account; other addresses are unaffected', async () => {
    t = await startTestLoopgate({ store, overrides: { 'auth.max_failures': 10, 'auth.max_failures_per_ip': 4, 'auth.lockout_minutes': 10 } });
    for (const id of ['amy', 'bob', 'cat', 'dan', 'eve']) await person(id);
    const attacker = '198.51.100.66';
    // Password spraying: one guess per account, none of them locked.
    for (const id of ['amy', 'bob', 'cat', 'nobody']) expectProblem(await signIn(id, WRONG, attacker), 401, 'LOOPGATE_ERR_INVALID_CREDENTIALS');

    // Now even a right password from that address is refused, for an account never tried, and no session opens.
    expectLocked(await signIn('eve', PASSWORD, attacker), 600);
    // A forged X-Forwarded-For does not make it another address (no proxy is trusted by default).
    expectLocked(await signIn('eve', PASSWORD, attacker, { 'x-forwarded-for': '192.0.2.9' }), 600);
    expect(await sessionsOf('eve')).toBe(0);
    expect(await lockouts()).toEqual([{ type: 'network', id: attacker }]);

    // The accounts themselves are not locked: from another address the same sign-ins work.
    const elsewhere = await signIn('eve', PASSWORD, '203.0.113.7');
    expect(elsewhere.statusCode, elsewhere.body).toBe(201);
    expect((await signIn('amy', PASSWORD, '203.0.113.7')).statusCode).toBe(201);

    t.clock.advance(10 * MINUTE);
    expect((await signIn('dan', PASSWORD, attacker)).statusCode).toBe(201);
  });

  it('wrong TOTP codes lock the account: the pending sign-in cannot be completed, nor a session stepped up, with the right code', async () => {
    t = await startTestLoopgate({ store, overrides: { 'auth.max_failures': 3, 'auth.lockout_minutes': 10 } });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    t.clock.advance(TOTP_STEP_MS);
    const pending = await signIn('fay', PASSWORD, '203.0.113.20');
    expect(pending.json().state).toBe('mfa_pending');
    const pendingAuth = { authorization: `Bearer ${pending.json().token}` };

    for (let i = 0; i < 3; i++) {
      expectProblem(await t.post('/v1/auth/totp', { code: await wrongCode(fay.totpSecret, t.clock.now()) }, pendingAuth), 401, 'LOOPGATE_ERR_INVALID_CREDENTIALS');
    }
    const right = await totpAt(fay.totpSecret, t.clock.now());
    expectLocked(await t.post('/v1/auth/totp', { code: right }, pendingAuth), 600);
    expectProblem(await t.get('/v1/me', pendingAuth), 401, 'LOOPGATE_ERR_MFA_REQUIRED');
    // The already active session cannot step up either, and a new sign-in is refused.
    const before = (await fay.get('/v1/me')).json().session.auth_time;
    expectLocked(await fay.post('/v1/auth/totp', { code: right }), 600);
    expect((await fay.get('/v1/me')).json().session.auth_time).toBe(before);
    const sessions = await sessionsOf('fay');
    expectLocked(await signIn('fay', PASSWORD, '203.0.113.21'), 600);
    expect(await sessionsOf('fay')).toBe(sessions);
    expect(await lockouts()).toEqual([{ type: 'principal', id: 'fay' }]);

    // After the lockout, a fresh code completes the pending sign-in.
    t.clock.advance(10 * MINUTE);
    const done = await t.post('/v1/auth/totp', { code: await totpAt(fay.totpSecret, t.clock.now()) }, pendingAuth);
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ state: 'active', acr: 'urn:loopgate:acr:aal2' });
  });

  // Fails today: a correct password clears the account's failure count (auth.ts signInWithPassword), second-factor
  // failures included, so someone who knows the password can guess codes for ever from rotating addresses.
  it('wrong TOTP codes are not forgiven by signing in with the password again', async () => {
    t = await startTestLoopgate({ store, overrides: { 'auth.max_failures': 3, 'auth.lockout_minutes': 10 } });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    t.clock.advance(TOTP_STEP_MS);
    const totp = (token: string, code: string, remoteAddress: string) =>
      t.app.inject({ method: 'POST', url: '/v1/auth/totp', payload: { code }, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, remoteAddress });

    // Each round from a new address: the password (known to the attacker), then guesses at the code.
    let last = '';
    for (const [round, guesses] of [[1, 2], [2, 1]] as const) {
      const ip = `198.51.100.${round}`;
      const pending = await signIn('fay', PASSWORD, ip);
      expect(pending.statusCode, pending.body).toBe(201);
      last = pending.json().token;
      for (let i = 0; i < guesses; i++) expectProblem(await totp(last, await wrongCode(fay.totpSecret, t.clock.now()), ip), 401, 'LOOPGATE_ERR_INVALID_CREDENTIALS');
    }
    // Three wrong codes for the account: it is locked, and the right code does not complete the sign-in.
    expectLocked(await totp(last, await totpAt(fay.totpSecret, t.clock.now()), '198.51.100.3'), 600);
    expectProblem(await t.get('/v1/me', { authorization: `Bearer ${last}` }), 401, 'LOOPGATE_ERR_MFA_REQUIRED');
    expect(await lockouts()).toEqual([{ type: 'principal', id: 'fay' }]);
  });
});
