/**
 * Typing and pointer rhythm through the decision API, on both stores: logins carrying the collector's signals
 * enrol a profile only when they are trusted; a login typed by someone else gets a reason that says so and a
 * higher score; the profile survives a restart; a payload that would leak a secret's keys is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { T0, login, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { ALICE, MALLORY, collectorPayload, type Style } from '../helpers/signals.js';
import { STORES } from '../helpers/stores.js';

const DAY = 86_400_000;

interface Reason {
  signal: string;
  contribution: number;
  sentence: string;
  detail: Record<string, unknown>;
}

describe.each(STORES)('behavioural signals on %s', (store) => {
  let t: TestLoopgate;
  beforeAll(async () => {
    t = await startTestLoopgate({ store });
    // Other people give the population's pointer profile something to compare with.
    const others: Array<[string, Style]> = [
      ['bob', { ...ALICE, speed: 1.6, bow: 0.03, restMs: 60, gapMs: 120 }],
      ['carol', { ...ALICE, speed: 0.6, bow: 0.13, restMs: 220, holdMs: 120 }],
      ['dave', MALLORY],
    ];
    for (const [who, style] of others) {
      for (let i = 0; i < 4; i++) await trustedLogin(who, style, 100 + i, T0 - (30 - i) * DAY);
    }
    for (let i = 0; i < 10; i++) await trustedLogin('alice', ALICE, i + 1, T0 - (20 - i) * DAY);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function decide(subject: string, style: Style, seed: number, time: number) {
    const res = await t.post('/v1/decisions', { event: login(subject, time, {}, { signals: collectorPayload(style, seed, { account: subject }) }) });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; outcome: string; learned: boolean; risk: { score: number; level: string; reasons: Reason[] } };
  }

  async function trustedLogin(subject: string, style: Style, seed: number, time: number) {
    const d = await decide(subject, style, seed, time);
    if (!d.learned) throw new Error(`${subject}'s login ${seed} was not learned: ${JSON.stringify(d.risk)}`);
  }

  const typing = (reasons: Reason[], field: string) => reasons.find((r) => r.signal === 'typing_rhythm' && r.detail.field === field);

  it('a login typed as usual scores lower, and says so', async () => {
    const d = await decide('alice', ALICE, 500, T0);
    const password = typing(d.risk.reasons, 'password')!;
    expect(password.sentence).toMatch(/^typing rhythm on password as usual for alice \(\d\.\d deviations; 10 trusted entries, positions only\)$/);
    expect(password.contribution).toBeLessThanOrEqual(0);
    expect(typing(d.risk.reasons, 'account')!.sentence).toMatch(/^typing rhythm on account as usual for alice/);
    const pointer = d.risk.reasons.find((r) => r.signal === 'pointer_rhythm')!;
    expect(pointer.sentence).toMatch(/^pointer movement as usual for alice/);
    expect(d.outcome).toBe('allow');
  });

  it('someone else typing alice’s password gets a reason and a higher score, and is not enrolled', async () => {
    const own = await decide('alice', ALICE, 501, T0 + 60_000);
    const other = await decide('alice', MALLORY, 501, T0 + 120_000);
    const password = typing(other.risk.reasons, 'password')!;
    expect(password.sentence).toMatch(/^typing rhythm on password \d+\.\d deviations from alice's usual \(\d+ trusted entries, positions only\)$/);
    expect(password.contribution).toBeGreaterThan(0.5);
    expect(Number(password.detail.deviations)).toBeGreaterThan(3);
    const pointer = other.risk.reasons.find((r) => r.signal === 'pointer_rhythm')!;
    expect(pointer.contribution).toBeGreaterThan(0);
    expect(other.risk.score).toBeGreaterThan(own.risk.score + 0.2);
    expect(other.risk.level).not.toBe('low');
    expect(other.learned).toBe(false);

    // The impostor's entry did not enter alice's profile: the next genuine login counts the same enrolment.
    const entries = (d: { risk: { reasons: Reason[] } }) => Number(typing(d.risk.reasons, 'password')!.detail.enrolled);
    const next = await decide('alice', ALICE, 502, T0 + 180_000);
    expect(entries(next)).toBe(entries(own) + (own.learned ? 1 : 0));
  });

  it('a subject without enough trusted entries is not scored, and the reason says how far enrolment is', async () => {
    const d = await decide('erin', ALICE, 7, T0);
    expect(typing(d.risk.reasons, 'password')).toMatchObject({
      contribution: 0,
      sentence: 'typing rhythm on password not scored: 0 of 5 trusted entries enrolled for erin',
    });
  });

  it('refuses a payload that carries a secret field’s keys, and stores nothing', async () => {
    const before = await t.lg.store.countDecisions();
    const signals = collectorPayload(ALICE, 9) as { fields: Record<string, { keys?: string[] }> };
    signals.fields.password!.keys = ['h', 'u', 'n', 't', 'e', 'r', '2', '!', '!', '!'];
    const res = await t.post('/v1/decisions', { event: login('alice', T0, {}, { signals }) });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'LOOPGATE_ERR_INVALID_EVENT' });
    expect(res.body).toContain('/event/signals/fields/password/keys');
    const malformed = await t.post('/v1/decisions', { event: login('alice', T0, {}, { signals: { v: 1, collector: 'x', timer_resolution_ms: 0.1, fields: { password: { secret: true, strokes: [[0, 'soon', 3]] } } } }) });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.body).toContain('/event/signals/fields/password/strokes/0/1');
    expect(await t.lg.store.countDecisions()).toBe(before);
  });

  it('keeps the profiles across a restart', async () => {
    const probe = () => decide('alice', MALLORY, 900, T0 + 240_000);
    const before = typing((await probe()).risk.reasons, 'password')!;
    await t.stop();
    t = await startTestLoopgate({ store, db: t.db, clock: t.clock });
    const after = typing((await probe()).risk.reasons, 'password')!;
    expect(after.detail.enrolled).toBe(before.detail.enrolled);
    expect(after.detail.deviations).toBeCloseTo(Number(before.detail.deviations), 3);
  });
});
