/**
 * Passkeys through the public API, on both stores, with a software authenticator playing browser and device:
 * enrolment on a recent sign-in, named and usernameless sign-in, step-up, what is refused (replays, other
 * challenges, no user verification, bad signatures, unknown and cloned passkeys), lockout, the audit entries, and
 * verifyPasskeyFor, the verification other services commit with their own writes.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { passkeyRegistrationOptions } from '../../src/adapters/passkeys.js';
import { LoopgateError } from '../../src/core/errors.js';
import { passkeyRelyingParty } from '../../src/services/passkey-rp.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';

const NONE = { authorization: '' };
const PASSWORD = 'correct horse battery staple';
const AAL2 = 'urn:loopgate:acr:aal2';
const AAL3 = 'urn:loopgate:acr:aal3';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The relying party the test Loopgate resolves from its (default) configuration: http://localhost:7470. */
function relyingParty(t: TestLoopgate) {
  const rp = passkeyRelyingParty(t.config);
  if (!rp.ok) throw new Error(rp.problem);
  return rp.config;
}

function authenticator(t: TestLoopgate, options: { backupEligible?: boolean } = {}): SoftAuthenticator {
  const rp = relyingParty(t);
  return new SoftAuthenticator({ origin: rp.origins[0]!, rpId: rp.rpId, ...options });
}

async function person(t: TestLoopgate, id: string): Promise<void> {
  const res = await t.post('/v1/principals', { id, password: PASSWORD, roles: [{ role: 'security_analyst' }] });
  expect(res.statusCode, res.body).toBe(201);
}

/** Signs in with the password; returns the session token. */
async function signIn(t: TestLoopgate, id: string): Promise<string> {
  const res = await t.post('/v1/auth/password', { id, password: PASSWORD }, NONE);
  expect(res.statusCode, res.body).toBe(201);
  return res.json().token as string;
}

async function enrol(t: TestLoopgate, token: string, device: SoftAuthenticator, label?: string) {
  const options = await t.post('/v1/me/passkeys/options', {}, bearer(token));
  expect(options.statusCode, options.body).toBe(200);
  const response = device.create(options.json().options);
  return t.post('/v1/me/passkeys', { challenge_id: options.json().challenge_id, response, ...(label === undefined ? {} : { label }) }, bearer(token));
}

/** Asks for sign-in options (named when `id` is given) and answers them with the device. */
async function passkeyAnswer(t: TestLoopgate, device: SoftAuthenticator, id?: string, overrides: Parameters<SoftAuthenticator['get']>[1] = {}) {
  const options = await t.post('/v1/auth/passkey/options', id === undefined ? {} : { id }, NONE);
  expect(options.statusCode, options.body).toBe(200);
  return { challenge_id: options.json().challenge_id as string, response: device.get(options.json().options, overrides) };
}

async function passkeySignIn(t: TestLoopgate, device: SoftAuthenticator, id?: string, overrides: Parameters<SoftAuthenticator['get']>[1] = {}) {
  return t.post('/v1/auth/passkey', await passkeyAnswer(t, device, id, overrides), NONE);
}

async function audited(t: TestLoopgate, action: string): Promise<Array<{ entry: { actor: Record<string, unknown>; target: { id: string }; data: Record<string, unknown> } }>> {
  const res = await t.get(`/v1/audit/search?action=${action}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().entries;
}

function expectPasskeyInvalid(res: { statusCode: number; json(): { code: string; detail: string } }, detail?: RegExp): void {
  expect(res.statusCode).toBe(401);
  expect(res.json().code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');
  if (detail !== undefined) expect(res.json().detail).toMatch(detail);
}

describe('the passkey relying party', () => {
  const config = (server: Record<string, unknown>, auth: Record<string, unknown> = {}) =>
    ({ server: { port: 7470, ...server }, auth: { rp_origins: [], ...auth } }) as Parameters<typeof passkeyRelyingParty>[0];

  it('is localhost on the configured port by default, else the public URL, else what auth.rp_id and auth.rp_origins say', () => {
    expect(passkeyRelyingParty(config({}))).toEqual({ ok: true, config: { rpId: 'localhost', rpName: 'Loopgate', origins: ['http://localhost:7470'] } });
    expect(passkeyRelyingParty(config({ public_url: 'https://Review.Example.com:8443/loopgate/' }))).toEqual({
      ok: true,
      config: { rpId: 'review.example.com', rpName: 'Loopgate', origins: ['https://review.example.com:8443'] },
    });
    expect(
      passkeyRelyingParty(config({ public_url: 'https://api.example.com' }, { rp_id: 'example.com', rp_origins: ['https://console.example.com', 'https://console.example.com/'] })),
    ).toEqual({ ok: true, config: { rpId: 'example.com', rpName: 'Loopgate', origins: ['https://console.example.com'] } });
  });

  it('reports a configuration that cannot work instead of refusing to start', () => {
    const problem = (c: Parameters<typeof passkeyRelyingParty>[0]) => {
      const rp = passkeyRelyingParty(c);
      return rp.ok ? undefined : rp.problem;
    };
    expect(problem(config({ public_url: 'http://10.0.0.5:7470' }))).toMatch(/IP address/);
    expect(problem(config({ public_url: 'http://review.example.com' }))).toMatch(/plain HTTP/);
    expect(problem(config({ public_url: 'https://review.example.com' }, { rp_origins: ['https://evil.example.net'] }))).toMatch(/not within/);
    expect(problem(config({}, { rp_origins: ['not a url'] }))).toMatch(/not a URL/);
  });
});

describe.each(STORES)('passkeys on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  it('enrols a passkey after password sign-in, then signs in with it, named and usernameless, at AAL3', async () => {
    t = await startTestLoopgate({ store });
    expect(relyingParty(t)).toEqual({ rpId: 'localhost', rpName: 'Loopgate', origins: ['http://localhost:7470'] });
    await person(t, 'ana');
    const token = await signIn(t, 'ana');
    const device = authenticator(t);

    const enrolled = await enrol(t, token, device, 'work laptop');
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    expect(enrolled.json().passkey).toMatchObject({ label: 'work laptop', credential_id: device.credentialId, synced: false });
    // The session that enrolled it is raised to what the passkey proves.
    expect(enrolled.json().session).toMatchObject({ state: 'active', acr: AAL3, amr: ['hwk', 'user'] });
    expect((await t.get('/v1/me', bearer(token))).json().factors).toEqual(['webauthn']);

    const named = await passkeySignIn(t, device, 'ana');
    expect(named.statusCode, named.body).toBe(201);
    expect(named.json()).toMatchObject({ state: 'active', acr: AAL3, amr: ['hwk', 'user'], factors: ['webauthn'] });
    expect(named.cookies.find((c) => c.name === 'loopgate_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect((await t.get('/v1/me', bearer(named.json().token))).json().principal.id).toBe('ana');

    const usernameless = await passkeySignIn(t, device);
    expect(usernameless.statusCode, usernameless.body).toBe(201);
    expect(usernameless.json()).toMatchObject({ state: 'active', acr: AAL3 });
    expect((await t.get('/v1/me', bearer(usernameless.json().token))).json().principal.id).toBe('ana');

    // With a passkey enrolled, a password alone no longer opens an active session.
    const password = await t.post('/v1/auth/password', { id: 'ana', password: PASSWORD }, NONE);
    expect(password.json()).toMatchObject({ state: 'mfa_pending', factors: ['webauthn'] });

    const enrolments = await audited(t, 'credential.passkey_enrolled');
    expect(enrolments).toHaveLength(1);
    expect(enrolments[0]!.entry).toMatchObject({ actor: { kind: 'human', id: 'ana' }, target: { id: 'ana' }, data: { label: 'work laptop', credential_id: device.credentialId, synced: false } });
    const signIns = (await audited(t, 'session.signed_in')).filter((e) => e.entry.data.method === 'passkey');
    expect(signIns).toHaveLength(2);
    expect(signIns[0]!.entry).toMatchObject({ actor: { id: 'ana', assurance: { acr: AAL3, amr: ['hwk', 'user'] } }, data: { credential_id: device.credentialId } });
    expect(JSON.stringify(signIns)).not.toContain(named.json().token);
  });

  it('rates a synced (backup-eligible) passkey AAL2', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ben');
    const device = authenticator(t, { backupEligible: true });
    const enrolled = await enrol(t, await signIn(t, 'ben'), device);
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    expect(enrolled.json()).toMatchObject({ passkey: { label: 'passkey', synced: true }, session: { acr: AAL2, amr: ['swk', 'user'] } });
    const s = await passkeySignIn(t, device);
    expect(s.statusCode, s.body).toBe(201);
    expect(s.json()).toMatchObject({ state: 'active', acr: AAL2, amr: ['swk', 'user'] });
  });

  it('refuses a replayed answer, an answer to another challenge or account, an expired challenge, no user verification, a bad signature and an unknown passkey', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');
    await person(t, 'bob');
    const device = authenticator(t);
    expect((await enrol(t, await signIn(t, 'ana'), device)).statusCode).toBe(201);

    // The challenge is spent by the sign-in: the same answer again is refused.
    const answer = await passkeyAnswer(t, device);
    expect((await t.post('/v1/auth/passkey', answer, NONE)).statusCode).toBe(201);
    expectPasskeyInvalid(await t.post('/v1/auth/passkey', answer, NONE), /already used/);

    // An answer to one challenge sent with the id of another.
    const first = await passkeyAnswer(t, device);
    const second = await passkeyAnswer(t, device);
    expectPasskeyInvalid(await t.post('/v1/auth/passkey', { challenge_id: second.challenge_id, response: first.response }, NONE), /different challenge/);

    // A challenge issued for bob accepts none of ana's passkeys.
    const forBob = await t.post('/v1/auth/passkey/options', { id: 'bob' }, NONE);
    const anaAnswers = device.get({ ...forBob.json().options, allowCredentials: [] });
    expectPasskeyInvalid(await t.post('/v1/auth/passkey', { challenge_id: forBob.json().challenge_id, response: anaAnswers }, NONE));

    // Five minutes to answer.
    const late = await passkeyAnswer(t, device);
    t.clock.advance(5 * 60_000 + 1);
    expectPasskeyInvalid(await t.post('/v1/auth/passkey', late, NONE), /expired/);

    expectPasskeyInvalid(await passkeySignIn(t, device, 'ana', { userVerified: false }), /verify the user/);
    const tampered = await passkeySignIn(t, device, undefined, { tamper: 'signature' });
    expectPasskeyInvalid(tampered, /signature/);

    // A passkey Loopgate never registered fails exactly like a bad signature.
    const stranger = authenticator(t);
    const rp = relyingParty(t);
    stranger.create(await passkeyRegistrationOptions(rp, { id: 'x', name: 'x', displayName: 'x' }, [], new Uint8Array(randomBytes(32))));
    const unknown = await passkeySignIn(t, stranger);
    expectPasskeyInvalid(unknown);
    expect(unknown.json().detail).toBe(tampered.json().detail);

    // Malformed answers are the same error, never a 500.
    const options = await t.post('/v1/auth/passkey/options', {}, NONE);
    expectPasskeyInvalid(await t.post('/v1/auth/passkey', { challenge_id: options.json().challenge_id, response: {} }, NONE));

    // None of these opened a session.
    expect((await audited(t, 'session.signed_in')).filter((e) => e.entry.data.method === 'passkey')).toHaveLength(1);
  });

  it('uses a challenge once even when the same answer arrives twice at the same time', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');
    const device = authenticator(t);
    expect((await enrol(t, await signIn(t, 'ana'), device)).statusCode).toBe(201);
    const answer = await passkeyAnswer(t, device, 'ana');
    const results = await Promise.all([t.post('/v1/auth/passkey', answer, NONE), t.post('/v1/auth/passkey', answer, NONE)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 401]);
    expect(results.find((r) => r.statusCode === 401)!.json().code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');
  });

  it('refuses a cloned authenticator: a signature counter that does not increase', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');
    const device = authenticator(t);
    expect((await enrol(t, await signIn(t, 'ana'), device)).statusCode).toBe(201);
    // The clone answers later with an older count than the original has already shown.
    const fromClone = await passkeyAnswer(t, device);
    const fromOriginal = await passkeyAnswer(t, device);
    expect((await t.post('/v1/auth/passkey', fromOriginal, NONE)).statusCode).toBe(201);
    expectPasskeyInvalid(await t.post('/v1/auth/passkey', fromClone, NONE), /counter/);
  });

  it('named sign-in options do not tell which accounts have a passkey', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');
    await person(t, 'cy');
    const device = authenticator(t);
    expect((await enrol(t, await signIn(t, 'ana'), device)).statusCode).toBe(201);
    const allowed = async (id?: string) => (await t.post('/v1/auth/passkey/options', id === undefined ? {} : { id }, NONE)).json().options.allowCredentials;
    expect((await allowed('ana')).map((c: { id: string }) => c.id)).toEqual([device.credentialId]);
    // Someone without a passkey, and someone who does not exist, are offered one stand-in each, the same every time.
    for (const id of ['cy', 'nobody']) {
      const once = await allowed(id);
      expect(once).toHaveLength(1);
      expect(await allowed(id)).toEqual(once);
      expect(once[0].id).not.toBe(device.credentialId);
    }
    expect(await allowed()).toEqual([]);
  });

  it('steps a session up: acr and auth_time rise, with its audit entry; the challenge belongs to the session', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');
    const older = await signIn(t, 'ana');
    const enrolling = await signIn(t, 'ana');
    const device = authenticator(t);
    expect((await enrol(t, enrolling, device)).statusCode).toBe(201);

    // The older session was opened with the password alone, before the passkey existed.
    t.clock.advance(30 * 60_000);
    expect((await t.get('/v1/me', bearer(older))).json().session).toMatchObject({ acr: 'urn:loopgate:acr:aal1', amr: ['pwd'] });
    const options = await t.post('/v1/me/step-up/passkey/options', {}, bearer(older));
    expect(options.statusCode, options.body).toBe(200);
    expect(options.json().options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([device.credentialId]);
    const answer = { challenge_id: options.json().challenge_id, response: device.get(options.json().options) };

    // Bound to the session that asked for it.
    expectPasskeyInvalid(await t.post('/v1/me/step-up/passkey', answer, bearer(enrolling)), /challenge/);

    const stepped = await t.post('/v1/me/step-up/passkey', answer, bearer(older));
    expect(stepped.statusCode, stepped.body).toBe(200);
    expect(stepped.json()).toMatchObject({ state: 'active', acr: AAL3, amr: ['hwk', 'user'], auth_time: new Date(t.clock.now()).toISOString() });
    expect((await t.get('/v1/me', bearer(older))).json().session).toMatchObject({ acr: AAL3, auth_time: new Date(t.clock.now()).toISOString() });
    expectPasskeyInvalid(await t.post('/v1/me/step-up/passkey', answer, bearer(older)), /already used/);

    const stepUps = (await audited(t, 'session.stepped_up')).filter((e) => e.entry.data.method === 'passkey');
    // The enrolment raised the enrolling session; the step-up the older one.
    expect(stepUps).toHaveLength(2);
    expect(stepUps[1]!.entry).toMatchObject({ actor: { id: 'ana', assurance: { acr: AAL3 } }, data: { credential_id: device.credentialId } });

    // Sessions only: an API key has nothing to step up. A session still waiting for its second factor cannot either
    // (it signs in with the passkey instead).
    expect((await t.post('/v1/me/step-up/passkey/options', {})).json().code).toBe('LOOPGATE_ERR_FORBIDDEN');
    const pending = (await t.post('/v1/auth/password', { id: 'ana', password: PASSWORD }, NONE)).json();
    expect(pending.state).toBe('mfa_pending');
    expect((await t.post('/v1/me/step-up/passkey/options', {}, bearer(pending.token))).json().code).toBe('LOOPGATE_ERR_MFA_REQUIRED');
    // Nobody steps up with a passkey they do not have.
    await person(t, 'bob');
    expect((await t.post('/v1/me/step-up/passkey/options', {}, bearer(await signIn(t, 'bob')))).statusCode).toBe(409);
  });

  it('adds a passkey only on a recent sign-in, and a further one only on a session proven with a second factor', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');

    // No second factor yet: the password sign-in must be less than 10 minutes old.
    const stale = await signIn(t, 'ana');
    t.clock.advance(10 * 60_000 + 1);
    const refused = await t.post('/v1/me/passkeys/options', {}, bearer(stale));
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'LOOPGATE_ERR_STEP_UP_REQUIRED', max_age: 600, factors: [] });
    expect(refused.headers['www-authenticate']).toMatch(/error="insufficient_user_authentication"/);
    expect(refused.headers['www-authenticate']).toMatch(/max_age="600"/);
    expect(refused.headers['www-authenticate']).not.toMatch(/acr_values/);

    // Freshness is checked again when the passkey arrives, not only when the options are issued.
    const fresh = await signIn(t, 'ana');
    const options = await t.post('/v1/me/passkeys/options', {}, bearer(fresh));
    const device = authenticator(t);
    const response = device.create(options.json().options);
    t.clock.advance(10 * 60_000 + 1);
    expect((await t.post('/v1/me/passkeys', { challenge_id: options.json().challenge_id, response }, bearer(fresh))).statusCode).toBe(401);

    const passwordOnly = await signIn(t, 'ana');
    const now = await signIn(t, 'ana');
    expect((await enrol(t, now, device)).statusCode).toBe(201);

    // With a passkey enrolled, a password-only session (opened just before) may not add another, however recent.
    const second = authenticator(t);
    const aal1 = await t.post('/v1/me/passkeys/options', {}, bearer(passwordOnly));
    expect(aal1.statusCode).toBe(401);
    expect(aal1.json()).toMatchObject({ code: 'LOOPGATE_ERR_STEP_UP_REQUIRED', acr_values: [AAL2, AAL3], factors: ['webauthn'] });
    expect(aal1.headers['www-authenticate']).toMatch(/acr_values="urn:loopgate:acr:aal2 urn:loopgate:acr:aal3"/);

    // The session that enrolled the first passkey is AAL3, but ten minutes later no longer recent; a step-up renews it.
    t.clock.advance(10 * 60_000 + 1);
    expect((await t.post('/v1/me/passkeys/options', {}, bearer(now))).statusCode).toBe(401);
    const stepOptions = (await t.post('/v1/me/step-up/passkey/options', {}, bearer(now))).json();
    const stepped = await t.post('/v1/me/step-up/passkey', { challenge_id: stepOptions.challenge_id, response: device.get(stepOptions.options) }, bearer(now));
    expect(stepped.statusCode, stepped.body).toBe(200);
    const added = await enrol(t, now, second, 'security key');
    expect(added.statusCode, added.body).toBe(201);

    const allowed = (await t.post('/v1/auth/passkey/options', { id: 'ana' }, NONE)).json().options.allowCredentials.map((c: { id: string }) => c.id);
    expect(allowed).toEqual([device.credentialId, second.credentialId]);
    expect((await passkeySignIn(t, second, 'ana')).statusCode).toBe(201);
    expect(await audited(t, 'credential.passkey_enrolled')).toHaveLength(2);
  });

  it('counts failures toward lockout like password sign-in, and says when to retry', async () => {
    t = await startTestLoopgate({ store, overrides: { 'auth.max_failures': 3, 'auth.lockout_minutes': 10 } });
    await person(t, 'ana');
    const device = authenticator(t);
    expect((await enrol(t, await signIn(t, 'ana'), device)).statusCode).toBe(201);
    for (let i = 0; i < 3; i++) expectPasskeyInvalid(await passkeySignIn(t, device, undefined, { tamper: 'signature' }));
    const locked = await passkeySignIn(t, device);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('LOOPGATE_ERR_LOCKED_OUT');
    expect(Number(locked.headers['retry-after'])).toBe(600);
    // One account, one lock: the password is refused too.
    expect((await t.post('/v1/auth/password', { id: 'ana', password: PASSWORD }, NONE)).statusCode).toBe(429);
    const failures = (await audited(t, 'auth.failed')).filter((e) => e.entry.data.method === 'passkey');
    expect(failures).toHaveLength(3);
    expect((await audited(t, 'auth.locked_out')).some((e) => e.entry.target.id === 'ana')).toBe(true);
    t.clock.advance(10 * 60_000 + 1);
    expect((await passkeySignIn(t, device)).statusCode).toBe(201);
  });

  it('verifyPasskeyFor: an assurance, and a counter update that the caller commits once', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'ana');
    await person(t, 'bob');
    const device = authenticator(t);
    expect((await enrol(t, await signIn(t, 'ana'), device)).statusCode).toBe(201);
    const ana = await t.lg.principals.get('ana');
    const bob = await t.lg.principals.get('bob');

    // A verdict's challenge is the digest of what is signed; any 32 bytes here.
    const challenge = new Uint8Array(randomBytes(32));
    const options = await t.lg.auth.passkeyRequestOptions(ana, challenge);
    expect(options).toBeDefined();
    expect(await t.lg.auth.passkeyRequestOptions(bob, challenge)).toBeUndefined();
    const response = device.get(options!);

    const verified = await t.lg.auth.verifyPasskeyFor(ana, response, challenge, '203.0.113.9');
    expect(verified.assurance).toEqual({ acr: AAL3, amr: ['hwk', 'user'], authTimeMs: t.clock.now() });
    expect(verified.credentialId).toBe(device.credentialId);
    expect(verified.counterUpdate).toMatchObject({ expectRows: 1, conflict: 'this passkey response was already used' });

    // Nothing is written until the caller commits.
    expect((await t.lg.auth.verifyPasskeyFor(ana, response, challenge, '203.0.113.9')).credentialId).toBe(device.credentialId);
    const wrong = async (p: Promise<unknown>, detail?: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LoopgateError);
      expect((err as LoopgateError).code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');
      if (detail !== undefined) expect((err as LoopgateError).message).toMatch(detail);
    };
    await wrong(t.lg.auth.verifyPasskeyFor(ana, response, new Uint8Array(randomBytes(32)), '203.0.113.9'), /different challenge/);
    await wrong(t.lg.auth.verifyPasskeyFor(bob, response, challenge, '203.0.113.9'));

    await t.lg.store.write([verified.counterUpdate]);
    await wrong(t.lg.auth.verifyPasskeyFor(ana, response, challenge, '203.0.113.9'), /counter/);
    const again = await t.lg.store.write([verified.counterUpdate]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(again).toBeInstanceOf(LoopgateError);
    expect((again as LoopgateError).code).toBe('LOOPGATE_ERR_CONFLICT');
    expect((again as LoopgateError).message).toBe('this passkey response was already used');

    // The committed update moved the counter on, and the next assertion verifies against it.
    const next = new Uint8Array(randomBytes(32));
    const fresh = await t.lg.auth.verifyPasskeyFor(ana, device.get((await t.lg.auth.passkeyRequestOptions(ana, next))!), next, '203.0.113.9');
    await t.lg.store.write([fresh.counterUpdate]);
  });
});
