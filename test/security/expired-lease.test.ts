/**
 * Threat: a verdict given without holding the case: after the claim (lease) ended, after someone else took the
 * case over, without ever claiming it, or on a case that is already closed.
 *
 * Checked, on both stores, through the HTTP API with the shipped fraud-review route and a one-minute lease: a
 * verdict after the lease ended is refused (409 LOOPGATE_ERR_LEASE_EXPIRED) even before the sweeper has returned
 * the case to the queue, and a new claim makes it possible again; when someone else claimed the case meanwhile,
 * the first reviewer's verdict is refused (409 LOOPGATE_ERR_NOT_CLAIMED) and their claim too (409
 * LOOPGATE_ERR_CASE_CLAIMED); a verdict or a verdict challenge without a claim is refused (409
 * LOOPGATE_ERR_NOT_CLAIMED); on a decided or cancelled case, claims and verdicts are refused (409
 * LOOPGATE_ERR_CASE_CLOSED). After every refusal the case, its verdicts, labels, decision and audit trail are
 * unchanged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer } from '../helpers/reviewers.js';
import { caseState, expectProblem, expectUnchanged, largePayment } from './support.js';

const MINUTE = 60_000;
const DENY = { verdict: 'deny', label: 'confirmed_risk', reason: 'payee is a known mule account' };

describe.each(STORES)('expired lease on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  const start = async () => {
    t = await startTestLoopgate({ store, overrides: { 'review.lease_minutes': 1 } });
  };

  it('a verdict after the lease ended is refused and writes nothing; claiming again makes it possible', async () => {
    await start();
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin'))).id);
    const claimed = (await fay.post(`/v1/cases/${c.id}/claim`)).json();
    expect(Date.parse(claimed.lease_until)).toBe(t.clock.now() + MINUTE);

    // The lease ends (the sweeper has not run: the row still says claimed by fay); the second factor is still fresh.
    t.clock.advance(MINUTE);
    const before = await caseState(t, c.id);
    expect(before).toMatchObject({ status: 'claimed', claimed_by: 'fay' });
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts/challenge`, DENY), 409, 'LOOPGATE_ERR_LEASE_EXPIRED');
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, DENY), 409, 'LOOPGATE_ERR_LEASE_EXPIRED');
    await expectUnchanged(t, c.id, before);

    expect((await fay.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);
    const v = await fay.post(`/v1/cases/${c.id}/verdicts`, DENY);
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().decision).toMatchObject({ status: 'final', resolution: { outcome: 'deny', by: 'review' } });
  });

  it('when someone else claimed the case meanwhile, the first reviewer can neither decide nor take it back', async () => {
    await start();
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin'))).id);
    expect((await fay.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);
    t.clock.advance(MINUTE + 1);
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ status: 'claimed', claimed_by: 'fred' });

    const before = await caseState(t, c.id);
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, DENY), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts/challenge`, DENY), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    expectProblem(await fay.post(`/v1/cases/${c.id}/claim`), 409, 'LOOPGATE_ERR_CASE_CLAIMED');
    expectProblem(await fay.post(`/v1/cases/${c.id}/release`), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    await expectUnchanged(t, c.id, before);
  });

  it('a verdict or a verdict challenge without a claim is refused', async () => {
    await start();
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await caseOf(t, (await decide(t, largePayment('erin'))).id);
    const before = await caseState(t, c.id);
    expect(before).toMatchObject({ status: 'open', claimed_by: null });
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, DENY), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts/challenge`, DENY), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    await expectUnchanged(t, c.id, before);
    // Nor after the claim was given back.
    expect((await fay.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);
    expect((await fay.post(`/v1/cases/${c.id}/release`)).statusCode).toBe(200);
    const released = await caseState(t, c.id);
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, DENY), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    await expectUnchanged(t, c.id, released);
  });

  it('a closed case (decided, cancelled) takes no claim and no verdict', async () => {
    await start();
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);

    const decided = await caseOf(t, (await decide(t, largePayment('erin'))).id);
    expect((await fay.post(`/v1/cases/${decided.id}/claim`)).statusCode).toBe(200);
    expect((await fay.post(`/v1/cases/${decided.id}/verdicts`, DENY)).statusCode).toBe(201);
    const cancelled = await caseOf(t, (await decide(t, largePayment('otto'))).id);
    expect((await fred.post(`/v1/cases/${cancelled.id}/claim`)).statusCode).toBe(200);
    expect((await t.post(`/v1/cases/${cancelled.id}/cancel`, { reason: 'payment withdrawn by the customer' })).json()).toMatchObject({ status: 'cancelled', outcome: 'deny' });

    for (const id of [decided.id, cancelled.id]) {
      const before = await caseState(t, id);
      expect(before.decision.status).toBe('final');
      for (const who of [fay, fred]) {
        expectProblem(await who.post(`/v1/cases/${id}/claim`), 409, 'LOOPGATE_ERR_CASE_CLOSED');
        expectProblem(await who.post(`/v1/cases/${id}/verdicts/challenge`, DENY), 409, 'LOOPGATE_ERR_CASE_CLOSED');
        expectProblem(await who.post(`/v1/cases/${id}/verdicts`, { verdict: 'approve', label: 'confirmed_safe', reason: 'changed my mind' }), 409, 'LOOPGATE_ERR_CASE_CLOSED');
      }
      expectProblem(await t.post(`/v1/cases/${id}/assign`, { reviewer: 'fred' }), 409, 'LOOPGATE_ERR_CASE_CLOSED');
      await expectUnchanged(t, id, before);
    }
  });
});
