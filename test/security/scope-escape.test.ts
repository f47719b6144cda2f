/**
 * Threat: a reviewer reaches a case outside their route's roles or scope (escaping the review scope).
 *
 * Checked, on both stores, through the HTTP API: a reviewer of another region (the shipped security-review scope)
 * and a reviewer whose role binding's condition does not hold cannot list, read, claim, comment on, ask a verdict
 * challenge for, or decide the case, and the answer is the same 404 as for a case that does not exist (no
 * existence leak); an auditor (cases:read_all) reads but cannot claim, comment or decide (403); an API key cannot
 * decide even when it carries admin and a reviewer role (403: people decide with a session); a role binding that
 * expires stops working even for a case claimed while it was in force. After every refusal the case, its
 * verdicts, labels, decision and audit trail are unchanged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer, type Reviewer } from '../helpers/reviewers.js';
import { caseState, expectProblem, expectUnchanged, mediumSignal } from './support.js';

const MINUTE = 60_000;
const APPROVE = { verdict: 'approve', label: 'confirmed_safe', reason: 'checked with the subject' };
/** A well-formed case id that no case has. */
const NO_SUCH_CASE = '01900000-0000-7000-8000-000000000000';

/** Every way into a case, each expected to answer 404 LOOPGATE_ERR_CASE_NOT_FOUND like a case that does not exist. */
async function expectInvisible(t: TestLoopgate, who: Reviewer, caseId: string): Promise<void> {
  const list = await who.get('/v1/cases?limit=200');
  expect(list.statusCode).toBe(200);
  expect(list.json().cases.map((c: { id: string }) => c.id)).not.toContain(caseId);
  const calls = [
    () => who.get(`/v1/cases/${caseId}`),
    () => who.post(`/v1/cases/${caseId}/claim`),
    () => who.post(`/v1/cases/${caseId}/comments`, { text: 'looking at this' }),
    () => who.post(`/v1/cases/${caseId}/verdicts/challenge`, APPROVE),
    () => who.post(`/v1/cases/${caseId}/verdicts`, APPROVE),
    () => who.post(`/v1/cases/${caseId}/release`),
  ];
  const missing = await who.get(`/v1/cases/${NO_SUCH_CASE}`);
  expectProblem(missing, 404, 'LOOPGATE_ERR_CASE_NOT_FOUND');
  for (const call of calls) {
    const res = await call();
    expectProblem(res, 404, 'LOOPGATE_ERR_CASE_NOT_FOUND');
    // Word for word the answer about a case that does not exist (only the id in the detail, and the request path, differ).
    const { instance: _path, ...body } = res.json();
    const { instance: _missingPath, ...missingBody } = missing.json();
    expect(body).toEqual({ ...missingBody, detail: missingBody.detail.replace(NO_SUCH_CASE, caseId) });
  }
  // The event stream's visibility check agrees.
  expect(await t.lg.cases.canSee((await t.lg.auth.authenticateBearer(who.token, '127.0.0.1'))!, caseId)).toBe(false);
}

describe.each(STORES)('scope escape on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  it('a security analyst of another region cannot list, read, claim, comment on or decide a case (404, as if it did not exist)', async () => {
    t = await startTestLoopgate({ store });
    const eu = await reviewer(t, 'sam', ['security_analyst'], { region: 'EU' });
    const us = await reviewer(t, 'kim', ['security_analyst'], { region: 'US' });
    const d = await decide(t, mediumSignal({ id: 'alice', region: 'EU' }));
    expect(d.outcome).toBe('review');
    const c = await caseOf(t, d.id);
    expect(c.route).toBe('security-review');
    // The EU analyst, in scope, sees it: the case exists and the refusals below are about scope.
    expect((await eu.get(`/v1/cases/${c.id}`)).json()).toMatchObject({ id: c.id, you: { can_decide: true } });

    const before = await caseState(t, c.id);
    await expectInvisible(t, us, c.id);
    await expectUnchanged(t, c.id, before);
  });

  it('a role binding whose condition does not hold reaches no case outside it', async () => {
    t = await startTestLoopgate({ store });
    // No region attribute: the route's scope lets this reviewer through; only the binding's own condition limits it.
    const euOnly = await reviewer(t, 'cora', [{ role: 'security_analyst', condition: 'case.subject.region == "EU"' }]);
    const usCase = await caseOf(t, (await decide(t, mediumSignal({ id: 'bob', region: 'US' }))).id);
    const euCase = await caseOf(t, (await decide(t, mediumSignal({ id: 'eve', region: 'EU' }))).id);

    expect((await euOnly.get(`/v1/cases/${euCase.id}`)).json()).toMatchObject({ id: euCase.id, you: { can_decide: true, roles: ['security_analyst'] } });
    const before = await caseState(t, usCase.id);
    await expectInvisible(t, euOnly, usCase.id);
    await expectUnchanged(t, usCase.id, before);
  });

  it('an auditor reads every case but cannot claim, comment on or decide one (403)', async () => {
    t = await startTestLoopgate({ store });
    const auditor = await reviewer(t, 'aud', ['auditor'], { region: 'US' });
    const c = await caseOf(t, (await decide(t, mediumSignal({ id: 'alice', region: 'EU' }))).id);

    // Out of every reviewer scope, yet visible: cases:read_all.
    expect((await auditor.get('/v1/cases')).json().cases.map((x: { id: string }) => x.id)).toContain(c.id);
    const view = await auditor.get(`/v1/cases/${c.id}`);
    expect(view.statusCode).toBe(200);
    expect(view.json().you).toMatchObject({ can_decide: false, roles: [] });

    const before = await caseState(t, c.id);
    expectProblem(await auditor.post(`/v1/cases/${c.id}/claim`), 403, 'LOOPGATE_ERR_FORBIDDEN');
    expectProblem(await auditor.post(`/v1/cases/${c.id}/comments`, { text: 'approve it' }), 403, 'LOOPGATE_ERR_FORBIDDEN');
    expectProblem(await auditor.post(`/v1/cases/${c.id}/verdicts/challenge`, APPROVE), 403, 'LOOPGATE_ERR_FORBIDDEN');
    expectProblem(await auditor.post(`/v1/cases/${c.id}/verdicts`, APPROVE), 403, 'LOOPGATE_ERR_FORBIDDEN');
    await expectUnchanged(t, c.id, before);
  });

  it('an API key never decides, even one carrying admin and the route’s reviewer role (403: people decide with a session)', async () => {
    t = await startTestLoopgate({ store });
    const c = await caseOf(t, (await decide(t, mediumSignal({ id: 'alice', region: 'EU' }))).id);
    // A person who holds the reviewer role and admin, and an API key with both.
    const created = await t.post('/v1/principals', { id: 'hal', roles: [{ role: 'admin' }, { role: 'security_analyst' }] });
    expect(created.statusCode, created.body).toBe(201);
    const issued = await t.post('/v1/api-keys', { principal_id: 'hal', roles: ['admin', 'security_analyst'] });
    expect(issued.statusCode, issued.body).toBe(201);
    const halKey = { authorization: `Bearer ${issued.json().key}` };

    const before = await caseState(t, c.id);
    for (const headers of [{}, halKey]) {
      // The test client's own key (admin, auditor, pep) and the person's key: both may read, neither may decide.
      expect((await t.get(`/v1/cases/${c.id}`, headers)).json().you.can_decide).toBe(false);
      expectProblem(await t.post(`/v1/cases/${c.id}/claim`, {}, headers), 403, 'LOOPGATE_ERR_FORBIDDEN');
      expectProblem(await t.post(`/v1/cases/${c.id}/verdicts/challenge`, APPROVE, headers), 403, 'LOOPGATE_ERR_FORBIDDEN');
      expectProblem(await t.post(`/v1/cases/${c.id}/verdicts`, APPROVE, headers), 403, 'LOOPGATE_ERR_FORBIDDEN');
    }
    await expectUnchanged(t, c.id, before);
  });

  it('an expired role binding stops working, even on a case claimed while it was in force', async () => {
    t = await startTestLoopgate({ store });
    const temp = await reviewer(t, 'tia', [{ role: 'security_analyst', expires_at: new Date(t.clock.now() + 10 * MINUTE).toISOString() }]);
    const c = await caseOf(t, (await decide(t, mediumSignal({ id: 'alice' }))).id);
    expect((await temp.get('/v1/cases')).json().cases.map((x: { id: string }) => x.id)).toEqual([c.id]);
    expect((await temp.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ status: 'claimed', claimed_by: 'tia' });

    // The binding ends; the session, the lease (15 minutes) and a fresh second factor are all still good.
    t.clock.advance(10 * MINUTE);
    await temp.stepUp();
    const me = (await temp.get('/v1/me')).json();
    expect(me.roles).toEqual([]);
    const before = await caseState(t, c.id);
    expect(before).toMatchObject({ status: 'claimed', claimed_by: 'tia' });
    expect(before.lease_until).toBeGreaterThan(t.clock.now());
    await expectInvisible(t, temp, c.id);
    await expectUnchanged(t, c.id, before);
  });
});
