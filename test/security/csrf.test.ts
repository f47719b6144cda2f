/**
 * Threat: cross-site request forgery against a reviewer signed in to the console: another site makes the browser
 * send the session cookie with a request that claims, comments on or decides a case.
 *
 * Checked, on both stores, through the HTTP API with the session cookie only (no bearer credential): every unsafe
 * case endpoint (claim, comments, verdict challenge, verdict, release), and completing the sign-in's second factor,
 * is refused without the session's X-CSRF-Token, with a wrong one, and with the token of another session (of
 * another person, or of the same person) (403 LOOPGATE_ERR_CSRF), and nothing changes (case, verdicts, labels,
 * decision, audit trail); with the right token they work, and reads (GET) work without it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, PASSWORD, reviewer, totpAt, TOTP_STEP_MS } from '../helpers/reviewers.js';
import { caseState, expectProblem, expectUnchanged, largePayment } from './support.js';

const DENY = { verdict: 'deny', label: 'confirmed_risk', reason: 'mule account' };

interface CookieSession {
  /** Headers that carry only the cookie (the test client's key is dropped). */
  jar: Record<string, string>;
  csrf: string;
}

describe.each(STORES)('CSRF on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  /** Signs in with the password as a browser would: the session comes back as a cookie, with its CSRF token. */
  async function cookieSignIn(id: string): Promise<CookieSession> {
    const res = await t.post('/v1/auth/password', { id, password: PASSWORD }, { authorization: '' });
    expect(res.statusCode, res.body).toBe(201);
    const cookie = res.cookies.find((c) => c.name === 'loopgate_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    return { jar: { authorization: '', cookie: `loopgate_session=${cookie!.value}` }, csrf: res.json().csrf_token as string };
  }

  async function expectCsrfRefused(send: (headers: Record<string, string>) => Promise<LightMyRequestResponse>, s: CookieSession, foreign: string[]): Promise<void> {
    for (const token of [undefined, '', 'guess', `${s.csrf}x`, ...foreign]) {
      const res = await send(token === undefined ? s.jar : { ...s.jar, 'x-csrf-token': token });
      expectProblem(res, 403, 'LOOPGATE_ERR_CSRF');
    }
  }

  it('unsafe case endpoints need the session’s CSRF token with the cookie; reads do not', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    await reviewer(t, 'gus', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin'))).id);

    // fay's browser session: password, then the second factor (itself an unsafe request that needs the token).
    t.clock.advance(TOTP_STEP_MS);
    const s = await cookieSignIn('fay');
    const otherOfFay = await cookieSignIn('fay');
    const ofGus = await cookieSignIn('gus');
    const foreign = [otherOfFay.csrf, ofGus.csrf];
    const code = await totpAt(fay.totpSecret, t.clock.now());
    await expectCsrfRefused((h) => t.post('/v1/auth/totp', { code }, h), s, foreign);
    expect((await t.get('/v1/me', s.jar)).json().code).toBe('LOOPGATE_ERR_MFA_REQUIRED');
    const done = await t.post('/v1/auth/totp', { code }, { ...s.jar, 'x-csrf-token': s.csrf });
    expect(done.statusCode, done.body).toBe(200);

    // Reads need no token.
    const list = await t.get('/v1/cases', s.jar);
    expect(list.statusCode).toBe(200);
    expect(list.json().cases.map((x: { id: string }) => x.id)).toEqual([c.id]);
    expect((await t.get(`/v1/cases/${c.id}`, s.jar)).json().you).toEqual({ can_decide: true, roles: ['fraud_analyst'] });

    // Claiming.
    const open = await caseState(t, c.id);
    await expectCsrfRefused((h) => t.post(`/v1/cases/${c.id}/claim`, {}, h), s, foreign);
    await expectUnchanged(t, c.id, open);
    expect((await t.post(`/v1/cases/${c.id}/claim`, {}, { ...s.jar, 'x-csrf-token': s.csrf })).json()).toMatchObject({ status: 'claimed', claimed_by: 'fay' });

    // Everything else on the claimed case.
    const claimed = await caseState(t, c.id);
    await expectCsrfRefused((h) => t.post(`/v1/cases/${c.id}/comments`, { text: 'forged' }, h), s, foreign);
    await expectCsrfRefused((h) => t.post(`/v1/cases/${c.id}/verdicts/challenge`, DENY, h), s, foreign);
    await expectCsrfRefused((h) => t.post(`/v1/cases/${c.id}/verdicts`, DENY, h), s, foreign);
    await expectCsrfRefused((h) => t.post(`/v1/cases/${c.id}/release`, {}, h), s, foreign);
    await expectUnchanged(t, c.id, claimed);
    expect(await t.lg.store.db.selectFrom('challenges').select('id').where('purpose', '=', 'verdict').execute()).toEqual([]);

    // With the token: comment, challenge, verdict.
    const ok = { ...s.jar, 'x-csrf-token': s.csrf };
    expect((await t.post(`/v1/cases/${c.id}/comments`, { text: 'called the bank' }, ok)).statusCode).toBe(204);
    const challenge = await t.post(`/v1/cases/${c.id}/verdicts/challenge`, DENY, ok);
    expect(challenge.statusCode, challenge.body).toBe(201);
    const v = await t.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce: challenge.json().nonce }, ok);
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().case).toMatchObject({ status: 'decided', outcome: 'deny' });
    const timeline = (await t.get(`/v1/cases/${c.id}`, s.jar)).json().timeline.map((e: { action: string }) => e.action);
    expect(timeline).toEqual(['case.opened', 'case.claimed', 'case.commented', 'case.verdict', 'decision.resolved']);
  });

  it('a cookie without its token is ignored by sign-in (a tab that lost the token signs in again), and still refused elsewhere', async () => {
    t = await startTestLoopgate({ store });
    await reviewer(t, 'hal', ['fraud_analyst']);
    t.clock.advance(TOTP_STEP_MS);
    const s = await cookieSignIn('hal');
    const again = await t.post('/v1/auth/password', { id: 'hal', password: PASSWORD }, s.jar);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json().csrf_token).not.toBe(s.csrf);
    expectProblem(await t.post('/v1/auth/sign-out', {}, s.jar), 403, 'LOOPGATE_ERR_CSRF');
  });
});
