/**
 * Credentials through the public API, on both stores: every endpoint needs one (but the public few), first-admin
 * setup, password + TOTP sign-in with the replay guard, lockout, CSRF on cookie sessions, API keys and roles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generate } from 'otplib';
import { ACCESS } from '../../src/http/auth.js';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';

const NONE = { authorization: '' };
const PASSWORD = 'correct horse battery staple';

async function totpAt(secret: string, ms: number): Promise<string> {
  return generate({ secret, epoch: Math.floor(ms / 1000) });
}

/** Creates a human with a password (through the admin API) and signs them in; returns the session token. */
async function person(t: TestLoopgate, id: string, roles: Array<{ role: string; condition?: string }> = [], attributes: Record<string, unknown> = {}) {
  const res = await t.post('/v1/principals', { id, password: PASSWORD, roles, attributes });
  expect(res.statusCode, res.body).toBe(201);
}

async function signIn(t: TestLoopgate, id: string, password = PASSWORD, headers: Record<string, string> = {}) {
  return t.post('/v1/auth/password', { id, password }, { ...NONE, ...headers });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(STORES)('authentication on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  it('refuses every endpoint without a credential, except the public ones, with 401 problem+json', async () => {
    t = await startTestLoopgate({ store });
    for (const path of ['/v1/decisions/0190c0de-0000-7000-8000-000000000000', '/v1/audit/checkpoint', '/v1/policies', '/v1/principals', '/v1/me']) {
      const res = await t.get(path, NONE);
      expect(res.statusCode, path).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json().code).toBe('LOOPGATE_ERR_UNAUTHENTICATED');
    }
    const post = await t.post('/v1/decisions', { event: { type: 'login', subject: { id: 'a' } } }, NONE);
    expect(post.statusCode).toBe(401);
    expect(await t.lg.store.countDecisions()).toBe(0);
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/.well-known/authzen-configuration']) {
      expect((await t.get(path, NONE)).statusCode, path).toBe(200);
    }
    const forged = await t.get('/v1/policies', { authorization: 'Bearer lgk_nope_nope' });
    expect(forged.statusCode).toBe(401);
  });

  it('has an access rule for every route (a route without one would be refused to everyone)', async () => {
    t = await startTestLoopgate({ store });
    // Every route is in the OpenAPI document (built from the route schemas); each needs an access rule.
    const routes: string[] = [];
    const doc = (await t.get('/openapi.json', NONE)).json() as { paths: Record<string, Record<string, unknown>> };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) routes.push(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
    }
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => ACCESS[r] === undefined)).toEqual([]);
  });

  it('first start: a one-time setup code creates the first admin, once', async () => {
    t = await startTestLoopgate({ store });
    // The test client holds admin but is a service: a human admin is still missing.
    const code = await t.lg.auth.issueSetupCode();
    expect(code).toBeDefined();
    expect((await t.get('/v1/setup', NONE)).json()).toEqual({ pending: true });
    const wrong = await t.post('/v1/setup', { code: 'not-the-code', id: 'root', password: PASSWORD }, NONE);
    expect(wrong.statusCode).toBe(401);
    const ok = await t.post('/v1/setup', { code, id: 'ada', display_name: 'Ada', password: PASSWORD }, NONE);
    expect(ok.statusCode, ok.body).toBe(201);
    expect((await t.get('/v1/setup', NONE)).json()).toEqual({ pending: false });
    const again = await t.post('/v1/setup', { code, id: 'eve', password: PASSWORD }, NONE);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('LOOPGATE_ERR_SETUP_DONE');
    expect(await t.lg.auth.issueSetupCode()).toBeUndefined();
    const s = await signIn(t, 'ada');
    expect(s.statusCode).toBe(201);
    const me = (await t.get('/v1/me', bearer(s.json().token))).json();
    expect(me.roles.map((r: { role: string }) => r.role)).toEqual(['admin']);
    const entries = (await t.get('/v1/audit/search?action=setup.completed')).json().entries;
    expect(entries).toHaveLength(1);
    expect(JSON.stringify(entries)).not.toContain(PASSWORD);
    expect(JSON.stringify(entries)).not.toContain(code);
  });

  it('password then TOTP: enrolment, a pending session that can do nothing else, step-up, and a code accepted once', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'sam', [{ role: 'security_analyst' }]);
    const first = (await signIn(t, 'sam')).json();
    expect(first).toMatchObject({ state: 'active', acr: 'urn:loopgate:acr:aal1', amr: ['pwd'] });
    const enrol = await t.post('/v1/me/totp', {}, bearer(first.token));
    expect(enrol.statusCode).toBe(201);
    const { secret, uri } = enrol.json();
    expect(uri).toMatch(/^otpauth:\/\/totp\/Loopgate:sam\?/);
    const confirmed = await t.post('/v1/me/totp/confirm', { code: await totpAt(secret, t.clock.now()) }, bearer(first.token));
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json()).toMatchObject({ acr: 'urn:loopgate:acr:aal2', amr: ['pwd', 'otp'] });

    // The next sign-in waits for the second factor.
    t.clock.advance(60_000);
    const second = (await signIn(t, 'sam')).json();
    expect(second).toMatchObject({ state: 'mfa_pending', factors: ['totp'] });
    const blocked = await t.get('/v1/roles', bearer(second.token));
    expect(blocked.statusCode).toBe(401);
    expect(blocked.json().code).toBe('LOOPGATE_ERR_MFA_REQUIRED');
    const code = await totpAt(secret, t.clock.now());
    const done = await t.post('/v1/auth/totp', { code }, bearer(second.token));
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ state: 'active', acr: 'urn:loopgate:acr:aal2' });
    expect((await t.get('/v1/me', bearer(second.token))).statusCode).toBe(200);

    // The same code again (within its 30 s window) is refused: a code is accepted once.
    const replay = await t.post('/v1/auth/totp', { code }, bearer(second.token));
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('LOOPGATE_ERR_TOTP_REPLAYED');
    t.clock.advance(30_000);
    const next = await t.post('/v1/auth/totp', { code: await totpAt(secret, t.clock.now()) }, bearer(second.token));
    expect(next.statusCode).toBe(200);

    const signIns = (await t.get('/v1/audit/search?action=session.signed_in')).json().entries;
    expect(signIns.at(-1).entry.actor).toMatchObject({ kind: 'human', id: 'sam', assurance: { acr: 'urn:loopgate:acr:aal2', amr: ['pwd', 'otp'] } });
    const stepUps = (await t.get('/v1/audit/search?action=session.stepped_up')).json().entries;
    // Confirming the app raised the first (active) session; the last code raised the second one.
    expect(stepUps).toHaveLength(2);
  });

  it('locks an account out after repeated failures, and says when to retry', async () => {
    t = await startTestLoopgate({ store, overrides: { 'auth.max_failures': 3, 'auth.lockout_minutes': 10 } });
    await person(t, 'lee');
    for (let i = 0; i < 3; i++) expect((await signIn(t, 'lee', 'wrong password!!')).statusCode).toBe(401);
    const locked = await signIn(t, 'lee');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('LOOPGATE_ERR_LOCKED_OUT');
    expect(Number(locked.headers['retry-after'])).toBe(600);
    // Unknown accounts fail the same way (no account enumeration by status).
    expect((await signIn(t, 'nobody', PASSWORD)).json().code).toBe('LOOPGATE_ERR_INVALID_CREDENTIALS');
    t.clock.advance(10 * 60_000 + 1);
    expect((await signIn(t, 'lee')).statusCode).toBe(201);
    const audit = (await t.get('/v1/audit/search?action=auth.locked_out')).json().entries;
    expect(audit.some((e: { entry: { target: { id: string } } }) => e.entry.target.id === 'lee')).toBe(true);
    expect(JSON.stringify((await t.get('/v1/audit/search?action=auth.failed')).json())).not.toContain('wrong password');
  });

  it('a cookie session needs its CSRF token on unsafe requests', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'kim');
    const s = await signIn(t, 'kim');
    const cookie = s.cookies.find((c) => c.name === 'loopgate_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    const jar = { ...NONE, cookie: `loopgate_session=${cookie.value}` };
    expect((await t.get('/v1/me', jar)).statusCode).toBe(200);
    const noCsrf = await t.post('/v1/me/totp', {}, jar);
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().code).toBe('LOOPGATE_ERR_CSRF');
    const wrongCsrf = await t.post('/v1/me/totp', {}, { ...jar, 'x-csrf-token': 'guess' });
    expect(wrongCsrf.statusCode).toBe(403);
    const ok = await t.post('/v1/me/totp', {}, { ...jar, 'x-csrf-token': s.json().csrf_token });
    expect(ok.statusCode).toBe(201);
    // Signing out ends the session.
    expect((await t.post('/v1/auth/sign-out', {}, { ...jar, 'x-csrf-token': s.json().csrf_token })).statusCode).toBe(204);
    expect((await t.get('/v1/me', jar)).statusCode).toBe(401);
  });

  it('API keys carry a subset of their principal’s roles, expire and can be revoked; a pep key cannot read the log', async () => {
    t = await startTestLoopgate({ store });
    await person(t, 'owner');
    expect((await t.post('/v1/principals', { id: 'idp', kind: 'service', roles: [{ role: 'pep' }] })).json().code).toBe('LOOPGATE_ERR_VALIDATION');
    expect((await t.post('/v1/principals', { id: 'idp', kind: 'service', sponsor: 'owner', roles: [{ role: 'pep' }] })).statusCode).toBe(201);
    const tooMuch = await t.post('/v1/api-keys', { principal_id: 'idp', roles: ['admin'] });
    expect(tooMuch.statusCode).toBe(400);
    const created = await t.post('/v1/api-keys', { principal_id: 'idp', roles: ['pep'], expires_at: new Date(t.clock.now() + 3_600_000).toISOString() });
    expect(created.statusCode).toBe(201);
    const key = created.json().key as string;
    expect(key).toMatch(/^lgk_/);
    const ev = { event: { type: 'login', subject: { id: 'alice' }, context: { ip: '81.2.69.160' } } };
    expect((await t.post('/v1/decisions', ev, bearer(key))).statusCode).toBe(201);
    const audit = await t.get('/v1/audit/checkpoint', bearer(key));
    expect(audit.statusCode).toBe(403);
    expect(audit.json().code).toBe('LOOPGATE_ERR_FORBIDDEN');
    expect(JSON.stringify((await t.get('/v1/api-keys')).json())).not.toContain(key.slice(-32));
    t.clock.advance(3_600_001);
    expect((await t.post('/v1/decisions', ev, bearer(key))).statusCode).toBe(401);
    const other = (await t.post('/v1/api-keys', { principal_id: 'idp', roles: ['pep'] })).json();
    expect((await t.post('/v1/decisions', ev, bearer(other.key))).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${other.id}`, headers: bearer(t.apiKey) })).statusCode).toBe(204);
    expect((await t.post('/v1/decisions', ev, bearer(other.key))).statusCode).toBe(401);
  });

  it('role bindings: scoped by a valid CEL condition, expiring, custom roles with known permissions only', async () => {
    t = await startTestLoopgate({ store });
    const bad = await t.post('/v1/principals', { id: 'eu', roles: [{ role: 'security_analyst', condition: 'case.subject.region ==' }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].pointer).toBe('#/roles/0/condition');
    expect(await t.lg.principals.exists('eu')).toBe(false);
    const ok = await t.post('/v1/principals', {
      id: 'eu',
      password: PASSWORD,
      attributes: { region: 'EU' },
      roles: [{ role: 'security_analyst', condition: 'case.subject.region == reviewer.region', expires_at: new Date(t.clock.now() + 86_400_000).toISOString() }],
    });
    expect(ok.statusCode, ok.body).toBe(201);
    const token = (await signIn(t, 'eu')).json().token;
    expect((await t.get('/v1/me', bearer(token))).json().roles).toHaveLength(1);
    t.clock.advance(86_400_001);
    // The session itself has expired by now (12 h); a new one has no role in force.
    expect((await t.get('/v1/me', bearer(token))).statusCode).toBe(401);
    const later = (await signIn(t, 'eu')).json().token;
    expect((await t.get('/v1/me', bearer(later))).json().roles).toHaveLength(0);
    expect((await t.app.inject({ method: 'PUT', url: '/v1/roles/risk_reader', headers: { ...bearer(t.apiKey), 'content-type': 'application/json' }, payload: { permissions: ['fly'] } })).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'PUT', url: '/v1/roles/risk_reader', headers: { ...bearer(t.apiKey), 'content-type': 'application/json' }, payload: { permissions: ['policies:read'] } })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'PUT', url: '/v1/roles/admin', headers: { ...bearer(t.apiKey), 'content-type': 'application/json' }, payload: { permissions: [] } })).statusCode).toBe(409);
  });
});
