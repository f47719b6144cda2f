/**
 * The dashboard's figures through the API, on both stores: queue depth and ages, decisions by outcome per
 * bucket, time to decision, and overrides of the machine's recommendation; only case managers and auditors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { buildHistory, FIREFOX_LINUX, login, startTestLoopgate, T0, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer } from '../helpers/reviewers.js';

const MINUTE = 60_000;

describe.each(STORES)('review statistics on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  it('counts the queue, the decisions, the time people took and their overrides', async () => {
    t = await startTestLoopgate({ store });
    await buildHistory(t, 'alice', 20, T0);
    const sam = await reviewer(t, 'sam', ['security_analyst']);
    const first = await decide(t, login('alice', t.clock.now() - MINUTE, { user_agent: FIREFOX_LINUX, device_id: 'tab-1' }));
    const second = await decide(t, login('alice', t.clock.now() - MINUTE, { user_agent: FIREFOX_LINUX, device_id: 'tab-2' }));
    expect([first.outcome, second.outcome]).toEqual(['review', 'review']);
    const c = await caseOf(t, first.id);
    t.clock.advance(10 * MINUTE);
    await sam.stepUp();
    await sam.post(`/v1/cases/${c.id}/claim`);
    // The machine recommends deny (high risk): approving is an override.
    const v = await sam.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'approve', label: 'confirmed_safe', reason: 'her new tablet' });
    expect(v.statusCode, v.body).toBe(201);
    t.clock.advance(30 * MINUTE);

    const res = await t.get('/v1/stats/review?window=24h');
    expect(res.statusCode, res.body).toBe(200);
    const s = res.json();
    expect(s.queue).toMatchObject({ open: 1, by_status: { open: 1 }, overdue: 1 });
    expect(s.queue.by_age.find((b: { label: string }) => b.label === '< 1 h').count).toBe(1);
    const totals = s.decisions.reduce((acc: Record<string, number>, b: Record<string, number>) => {
      for (const k of ['allow', 'challenge', 'review', 'deny']) acc[k] = (acc[k] ?? 0) + b[k]!;
      return acc;
    }, {});
    // The 20 history logins are older than the window but one (a day back at most): count only what is in it.
    expect(totals.review).toBe(2);
    expect(s.decisions).toHaveLength(25);
    expect(s.time_to_decision).toMatchObject({ closed: 1, by: { review: 1 } });
    expect(s.time_to_decision.p50_seconds).toBeGreaterThanOrEqual(600);
    expect(s.verdicts).toMatchObject({ total: 1, overrides: 1, by_label: { confirmed_safe: 1 } });

    expect((await sam.get('/v1/stats/review')).statusCode).toBe(403);
    expect((await t.get('/v1/stats/review?window=1y')).statusCode).toBe(400);
  });
});
