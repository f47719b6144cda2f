/**
 * Threat: a reviewer approves their own case (self-approval), directly or through an agent they sponsor.
 *
 * Checked, on both stores, through the HTTP API: a reviewer in scope, with a fresh second factor, cannot claim,
 * ask a verdict challenge for, or decide a case whose subject is them, or one raised by their own action
 * (403 LOOPGATE_ERR_SELF_REVIEW), or one raised by an agent they sponsor (403 LOOPGATE_ERR_SPONSOR_CONFLICT), also
 * when the event names a different sponsor (Loopgate's own record of the agent wins, in both directions); the case
 * view tells them why they cannot decide; an admin cannot assign the case to a conflicted reviewer. After every
 * refusal the case, its verdicts, labels, decision and audit trail are unchanged, and a reviewer without the
 * conflict can claim the same case (so the refusal is the conflict, not something else).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer, type Reviewer } from '../helpers/reviewers.js';
import { caseState, expectProblem, expectUnchanged, largePayment } from './support.js';

const APPROVE = { verdict: 'approve', label: 'confirmed_safe', reason: 'I know this payment' };

/** The conflicted reviewer can neither claim nor decide, nor be handed the case; nothing changes. */
async function expectConflict(t: TestLoopgate, who: Reviewer, caseId: string, code: string): Promise<void> {
  const view = await who.get(`/v1/cases/${caseId}`);
  expect(view.statusCode).toBe(200);
  expect(view.json().you).toEqual({ can_decide: false, roles: ['fraud_analyst'], conflict: code });

  const before = await caseState(t, caseId);
  expectProblem(await who.post(`/v1/cases/${caseId}/claim`), 403, code);
  expectProblem(await who.post(`/v1/cases/${caseId}/verdicts/challenge`, APPROVE), 403, code);
  expectProblem(await who.post(`/v1/cases/${caseId}/verdicts`, APPROVE), 403, code);
  expectProblem(await who.post(`/v1/cases/${caseId}/verdicts`, { verdict: 'deny', label: 'confirmed_risk', reason: 'no' }), 403, code);
  // An admin (the test client) cannot hand the case to them either.
  expectProblem(await t.post(`/v1/cases/${caseId}/assign`, { reviewer: who.id, reason: 'you know the account' }), 403, code);
  await expectUnchanged(t, caseId, before);
}

describe.each(STORES)('self-approval on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  it('nobody decides a case about themselves (LOOPGATE_ERR_SELF_REVIEW)', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('fay'))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SELF_REVIEW');
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ status: 'claimed', claimed_by: 'fred' });
  });

  it('nobody decides a case raised by their own action (actor is them)', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin', { actor: { kind: 'human', id: 'fay' } }))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SELF_REVIEW');
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ claimed_by: 'fred' });
  });

  it('nobody decides a case raised by an agent they sponsor (LOOPGATE_ERR_SPONSOR_CONFLICT)', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const agent = await t.post('/v1/principals', { id: 'pay-bot', kind: 'agent', sponsor: 'fay' });
    expect(agent.statusCode, agent.body).toBe(201);
    const c = await caseOf(t, (await decide(t, largePayment('erin', { actor: { kind: 'agent', id: 'pay-bot' } }))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SPONSOR_CONFLICT');
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ claimed_by: 'fred' });
  });

  it('the sponsor Loopgate records wins over the one the event claims, both ways', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    expect((await t.post('/v1/principals', { id: 'pay-bot', kind: 'agent', sponsor: 'fay' })).statusCode).toBe(201);
    // The event blames fred; Loopgate knows fay sponsors the agent.
    const c = await caseOf(t, (await decide(t, largePayment('erin', { actor: { kind: 'agent', id: 'pay-bot', sponsor: 'fred' } }))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SPONSOR_CONFLICT');
    // And fred, whom the event names, is not the sponsor: he may decide.
    expect((await fred.get(`/v1/cases/${c.id}`)).json().you).toEqual({ can_decide: true, roles: ['fraud_analyst'] });
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ claimed_by: 'fred' });
  });

  it('the sponsor an event names counts when Loopgate does not know the agent', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin', { actor: { kind: 'agent', id: 'stray-bot', sponsor: 'fay' } }))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SPONSOR_CONFLICT');
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ claimed_by: 'fred' });
  });

  // The actor's kind is the event's claim too: Loopgate's record of who the actor is must win over it.
  // Both tests below fail today (see services/cases.ts conflict() and core/review/conflicts.ts).
  it('an agent the reviewer sponsors is still their agent when the event calls it a human', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    expect((await t.post('/v1/principals', { id: 'pay-bot', kind: 'agent', sponsor: 'fay' })).statusCode).toBe(201);
    const c = await caseOf(t, (await decide(t, largePayment('erin', { actor: { kind: 'human', id: 'pay-bot' } }))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SPONSOR_CONFLICT');
  });

  it('a case raised by the reviewer’s own account is still their own action when the event calls the actor an agent', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin', { actor: { kind: 'agent', id: 'fay' } }))).id);
    await expectConflict(t, fay, c.id, 'LOOPGATE_ERR_SELF_REVIEW');
  });

  it('a conflicted reviewer cannot decide a case someone else handed them, and the admin’s assignment to a free reviewer works', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('fay'))).id);
    const assigned = await t.post(`/v1/cases/${c.id}/assign`, { reviewer: 'fred' });
    expect(assigned.json()).toMatchObject({ status: 'claimed', claimed_by: 'fred' });
    const before = await caseState(t, c.id);
    // fay cannot take it over, nor decide it while fred holds it.
    expectProblem(await fay.post(`/v1/cases/${c.id}/claim`), 403, 'LOOPGATE_ERR_SELF_REVIEW');
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, APPROVE), 403, 'LOOPGATE_ERR_SELF_REVIEW');
    expectProblem(await t.post(`/v1/cases/${c.id}/assign`, { reviewer: 'fay' }), 403, 'LOOPGATE_ERR_SELF_REVIEW');
    await expectUnchanged(t, c.id, before);
    // fred decides.
    const v = await fred.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'deny', label: 'confirmed_risk', reason: 'the account holder does not approve her own payments' });
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().decision).toMatchObject({ status: 'final', resolution: { outcome: 'deny', by: 'review' } });
  });
});
