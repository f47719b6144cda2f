/**
 * The decision API on both stores: every event type, explanations, learning only from trusted outcomes,
 * challenges, and bad input that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROME_WINDOWS,
  FIREFOX_LINUX,
  SAFARI_MAC,
  T0,
  buildHistory,
  iso,
  login,
  startTestLoopgate,
  type TestLoopgate,
} from '../helpers/app.js';
import { STORES } from '../helpers/stores.js';

const HOUR = 3_600_000;

// Scored in the scoring thread (the default) and in the main thread (risk.scoring_thread: false): same answers.
const STORES_AND_SCORING = STORES.flatMap((store) => [
  [store, 'scoring thread'],
  [store, 'main thread'],
] as const);

describe.each(STORES_AND_SCORING)('decisions on %s, %s', (store, scoring) => {
  let t: TestLoopgate;
  beforeAll(async () => {
    t = await startTestLoopgate({ store, overrides: { 'risk.scoring_thread': scoring === 'scoring thread' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const decide = async (event: unknown, headers?: Record<string, string>) => {
    const res = await t.post('/v1/decisions', { event }, headers);
    return { res, body: res.json() as Record<string, any> };
  };

  it('decides a login, stores it and returns it again by id', async () => {
    const { res, body } = await decide(login('newcomer', T0 - HOUR));
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers.location).toBe(`/v1/decisions/${body.id}`);
    expect(body.outcome).toBe('allow');
    expect(body.status).toBe('final');
    expect(body.risk.level).toBe('low');
    expect(body.risk.reasons[0].sentence).toMatch(/no trusted history for newcomer/);
    expect(body.policy.version).toBe(t.lg.policies.current().version);
    expect(body.event.actor).toEqual({ kind: 'human', id: 'newcomer' });
    expect(body.features.country).toBe('GB');
    expect(body.learned).toBe(true);

    const again = await t.get(`/v1/decisions/${body.id}`);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(body);
  });

  it('decides every event type with the default policy bundle', async () => {
    const subject = { id: 'erin', region: 'EU', manager: 'mona' };
    const context = { ip: '81.2.69.170', user_agent: CHROME_WINDOWS, device_id: 'erin-laptop' };
    const at = iso(T0 - 2 * HOUR);

    const mfa = await decide({ type: 'mfa', subject, time: at, context, method: 'totp', result: 'success' });
    expect(mfa.res.statusCode).toBe(201);
    expect(mfa.body.outcome).toBe('allow');

    const small = await decide({ type: 'transaction', subject, time: at, context, amount: 40, currency: 'EUR', payee: { id: 'grocer' } });
    expect(small.body.outcome).toBe('allow');

    const large = await decide({ type: 'transaction', subject, time: at, context, amount: 25000, currency: 'EUR', payee: { id: 'acme-ltd', name: 'ACME Ltd' } });
    expect(large.body.outcome).toBe('review');
    expect(large.body.status).toBe('pending');
    expect(large.body.review.route.name).toBe('fraud-review');
    expect(large.body.review.route.reviewers.roles).toEqual(['fraud_analyst']);
    expect(large.body.policy.rules).toContainEqual({ policy: 'transactions', rule: 'review-large-payment', outcome: 'review' });

    const role = await decide({ type: 'role.change', subject, time: at, context, roles: { before: ['analyst'], after: ['analyst', 'billing_admin'] } });
    expect(role.body.outcome).toBe('review');
    expect(role.body.event.roles.added).toEqual(['billing_admin']);
    expect(role.body.event.roles.removed).toEqual([]);
    expect(role.body.review.route).toMatchObject({ name: 'privileged-change', quorum: 2, distinct_roles: true });

    const access = await decide({ type: 'access.request', subject, time: at, context, entitlement: { id: 'finance-reports', application: 'erp' }, justification: 'quarter close' });
    expect(access.body.outcome).toBe('review');
    expect(access.body.review.route.name).toBe('manager-approval');
    expect(access.body.review.route.reviewers.scope).toContain('case.subject.manager == reviewer.id');

    const sensitive = await decide({ type: 'access.request', subject, time: at, context, entitlement: { id: 'prod-db-admin', application: 'postgres', sensitivity: 'critical' } });
    expect(sensitive.body.review.route.name).toBe('iam-approval');
    expect(sensitive.body.policy.decisive).toEqual({ policy: 'access', rule: 'iam-reviews-sensitive-access' });

    const agent = await decide({
      type: 'agent.action',
      subject,
      actor: { kind: 'agent', id: 'provisioning-bot', sponsor: 'sam' },
      time: at,
      action: { name: 'role.assign', tool: 'scim', target: { type: 'user', id: 'erin' }, impact: 'high' },
      authorization_details: [{ type: 'urn:loopgate:grant-role', role: 'billing_admin', identifier: 'erin' }],
    });
    expect(agent.res.statusCode).toBe(201);
    expect(agent.body.outcome).toBe('review');
    expect(agent.body.review.route.name).toBe('iam-approval');
    expect(agent.body.review.route.assurance).toEqual({ acr_values: ['urn:loopgate:acr:aal3'], max_age: 300 });

    const signal = await decide({ type: 'session.signal', subject, time: at, context, signal: { kind: 'caep.session-revoked', source: 'okta', level: 'high', reason: 'admin revoked' } });
    expect(signal.body.outcome).toBe('deny');
    expect(signal.body.risk.reasons.map((r: { signal: string }) => r.signal)).toContain('session_signal');
  });

  it('explains a risky login signal by signal and sends it to review', async () => {
    const now = T0;
    await buildHistory(t, 'alice', 30, now);
    const known = await decide(login('alice', now - HOUR, { ip: '81.2.69.161' }));
    expect(known.body.outcome).toBe('allow');
    expect(known.body.risk.level).toBe('low');
    expect(known.body.risk.reasons.every((r: { contribution: number }) => r.contribution <= 0)).toBe(true);

    const newLaptop = await decide(login('alice', now - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'alice-new-laptop' }));
    expect(newLaptop.body.risk.level).toBe('high');
    expect(newLaptop.body.outcome).toBe('review');
    expect(newLaptop.body.status).toBe('pending');
    const sentences = newLaptop.body.risk.reasons.map((r: { sentence: string }) => r.sentence);
    expect(sentences).toContainEqual(expect.stringMatching(/^device alice-new-laptop never seen for alice in 3\d logins/));
    expect(sentences).toContainEqual(expect.stringMatching(/^Firefox on Linux never seen for alice/));
    // Reasons are ordered by contribution and the contributions explain the score.
    const contributions = newLaptop.body.risk.reasons.map((r: { contribution: number }) => r.contribution);
    expect([...contributions].sort((a, b) => b - a)).toEqual(contributions);
    expect(newLaptop.body.learned).toBe(false);
  });

  it('never learns from denied, failed or pending events', async () => {
    const now = T0;
    await buildHistory(t, 'bob', 20, now);
    const learnedBefore = await t.lg.store.countLearning('human:bob');
    expect(learnedBefore).toBe(20);

    // Everything new, from the other side of the world ten minutes after the last trusted login: denied.
    const lastTrusted = now - 1 * 86_400_000 + HOUR;
    const attack = await decide(login('bob', lastTrusted + 10 * 60_000, { ip: '200.160.2.9', user_agent: SAFARI_MAC, device_id: 'attacker-mac' }));
    expect(attack.body.outcome).toBe('deny');
    expect(attack.body.risk.level).toBe('critical');
    expect(attack.body.risk.facts.impossible_travel).toBe(true);

    // A failed password attempt from the home context is allowed (the app rejects it anyway) but not learned.
    const failed = await decide(login('bob', now - HOUR, {}, { result: 'failure' }));
    expect(failed.body.learned).toBe(false);

    // A login sent to review is not learned while pending.
    const review = await decide(login('bob', now - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'bob-tablet' }));
    expect(review.body.outcome).toBe('review');

    expect(await t.lg.store.countLearning('human:bob')).toBe(learnedBefore);
    // The attacker's country is still unknown to bob's baseline.
    const again = await decide(login('bob', now, { ip: '200.160.2.9', user_agent: SAFARI_MAC, device_id: 'attacker-mac' }), {});
    expect(again.body.risk.reasons.map((r: { sentence: string }) => r.sentence)).toContainEqual(
      expect.stringMatching(/country BR never seen for bob in 20 logins/),
    );
  });

  it('learns from a passed challenge and not from a failed one', async () => {
    const now = T0;
    await buildHistory(t, 'carol', 25, now);
    // A business trip: known laptop, new country. The policy asks for step-up MFA.
    const trip = await decide(login('carol', now - 2 * HOUR, { ip: '90.84.10.1' }));
    expect(trip.body.outcome).toBe('challenge');
    expect(trip.body.status).toBe('pending');
    expect(trip.body.challenge.acr_values).toEqual(['urn:loopgate:acr:aal2']);
    const before = await t.lg.store.countLearning('human:carol');

    const failedMfa = await decide({ type: 'mfa', subject: { id: 'carol' }, time: iso(now - 2 * HOUR + 60_000), context: { ip: '90.84.10.1', user_agent: CHROME_WINDOWS, device_id: 'carol-laptop' }, method: 'totp', result: 'failure', decision_id: trip.body.id });
    expect(failedMfa.res.statusCode).toBe(201);
    expect(failedMfa.body.outcome).toBe('deny'); // a failed credential check is a denial
    expect(failedMfa.body.answers).toMatchObject({ decision_id: trip.body.id, resolution: { outcome: 'deny', by: 'challenge', learned: false } });
    const afterFailure = (await t.get(`/v1/decisions/${trip.body.id}`)).json();
    expect(afterFailure.status).toBe('final');
    expect(afterFailure.resolution).toMatchObject({ outcome: 'deny', by: 'challenge', reference: failedMfa.body.id });
    expect(await t.lg.store.countLearning('human:carol')).toBe(before);

    // A second trip login, this time answered correctly.
    const trip2 = await decide(login('carol', now - HOUR, { ip: '90.84.10.2' }));
    expect(trip2.body.outcome).toBe('challenge');
    const okMfa = await decide({ type: 'mfa', subject: { id: 'carol' }, time: iso(now - HOUR + 30_000), context: { ip: '90.84.10.2', user_agent: CHROME_WINDOWS, device_id: 'carol-laptop' }, method: 'totp', result: 'success', decision_id: trip2.body.id });
    expect(okMfa.body.outcome).toBe('allow');
    expect(okMfa.body.answers).toMatchObject({ decision_id: trip2.body.id, resolution: { outcome: 'allow', learned: true } });
    const resolved = (await t.get(`/v1/decisions/${trip2.body.id}`)).json();
    expect(resolved.resolution).toMatchObject({ outcome: 'allow', by: 'challenge', learned: true });
    // The policy's own challenge is untouched by the decisions that used it.
    const rules = (await t.get('/v1/policies')).json().policies.flatMap((p: { rules: Array<{ challenge?: object }> }) => p.rules);
    expect(rules.filter((r: { challenge?: object }) => r.challenge !== undefined && 'expires_at' in r.challenge)).toEqual([]);
    expect(await t.lg.store.countLearning('human:carol')).toBe(before + 1);

    // A dry-run answer to a pending challenge learns nothing and refers to nothing stored.
    // Brussels: a new country, close enough to Paris that it is not a travel signal.
    const brussels = { country: 'BE', city: 'Brussels', latitude: 50.85, longitude: 4.35, asn: 5432, as_org: 'Proximus' };
    const trip3 = await decide(login('carol', now - HOUR / 2, { ip: '194.78.0.1', geo: brussels }));
    expect(trip3.body.outcome).toBe('challenge');
    const dry = await t.post('/v1/decisions', { dry_run: true, event: { type: 'mfa', subject: { id: 'carol' }, time: iso(now - HOUR / 2 + 10_000), method: 'totp', result: 'success', decision_id: trip3.body.id.toUpperCase() } });
    expect(dry.json().answers).toMatchObject({ decision_id: trip3.body.id, resolution: { outcome: 'allow', learned: false } });
    expect(dry.json().answers.resolution.reference).toBeUndefined();
    expect((await t.get(`/v1/decisions/${trip3.body.id}`)).json().status).toBe('pending');

    // Answering the same challenge twice is a conflict; answering someone else's is invalid.
    const twice = await t.post('/v1/decisions', { event: { type: 'mfa', subject: { id: 'carol' }, time: iso(now - HOUR + 60_000), method: 'totp', result: 'success', decision_id: trip2.body.id } });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('LOOPGATE_ERR_CONFLICT');
    const foreign = await t.post('/v1/decisions', { event: { type: 'mfa', subject: { id: 'mallory' }, method: 'totp', result: 'success', decision_id: trip.body.id } });
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json().errors).toEqual([{ pointer: '#/event/decision_id', detail: 'names a decision about another subject' }]);

    // France is now part of carol's baseline: the next login there is no longer a new country.
    const next = await decide(login('carol', now, { ip: '90.84.10.3' }));
    expect(next.body.risk.facts.new_country).toBe(false);
    expect(next.body.risk.score).toBeLessThan(trip.body.risk.score);
  });

  describe('bad input gets problem+json and changes nothing', () => {
    const cases: Array<{ name: string; body: string; headers?: Record<string, string>; status: number; code: string; pointers?: string[] }> = [
      { name: 'malformed JSON', body: '{"event": {"type": "login",', status: 400, code: 'LOOPGATE_ERR_MALFORMED_JSON' },
      { name: 'prototype poisoning', body: '{"event":{"type":"login","subject":{"id":"x"}},"__proto__":{"admin":true}}', status: 400, code: 'LOOPGATE_ERR_MALFORMED_JSON' },
      { name: 'not JSON', body: 'type=login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'LOOPGATE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'JSON sent as text/plain', body: '{"event":{"type":"login","subject":{"id":"x"}}}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'LOOPGATE_ERR_UNSUPPORTED_MEDIA_TYPE' },
      { name: 'no event', body: '{}', status: 400, code: 'LOOPGATE_ERR_VALIDATION', pointers: ['#/event'] },
      { name: 'unknown top-level field', body: '{"event":{"type":"login","subject":{"id":"x"}},"evnt":1}', status: 400, code: 'LOOPGATE_ERR_VALIDATION', pointers: ['#/evnt'] },
      { name: 'unknown event type', body: '{"event":{"type":"logon","subject":{"id":"x"}}}', status: 400, code: 'LOOPGATE_ERR_UNKNOWN_EVENT_TYPE', pointers: ['#/event/type'] },
      { name: 'missing subject', body: '{"event":{"type":"login"}}', status: 400, code: 'LOOPGATE_ERR_INVALID_EVENT', pointers: ['#/event/subject'] },
      {
        name: 'wrong types, each field named',
        body: JSON.stringify({ event: { type: 'transaction', subject: { id: 'x' }, amount: '100', currency: 'euro', payee: {}, time: 'yesterday', context: { ip: '300.1.1.1' } } }),
        status: 400,
        code: 'LOOPGATE_ERR_INVALID_EVENT',
        pointers: ['#/event/amount', '#/event/currency', '#/event/payee/id', '#/event/time', '#/event/context/ip'],
      },
      { name: 'a typo in a field', body: JSON.stringify({ event: { type: 'transaction', subject: { id: 'x' }, ammount: 5, amount: 5, currency: 'EUR', payee: { id: 'p' } } }), status: 400, code: 'LOOPGATE_ERR_INVALID_EVENT', pointers: ['#/event/ammount'] },
      { name: 'agent action by a human', body: JSON.stringify({ event: { type: 'agent.action', subject: { id: 'x' }, actor: { kind: 'human', id: 'x' }, action: { name: 'a' } } }), status: 400, code: 'LOOPGATE_ERR_INVALID_EVENT', pointers: ['#/event/actor/kind'] },
      { name: 'a time in the future', body: JSON.stringify({ event: { type: 'login', subject: { id: 'x' }, time: iso(T0 + 3_600_000) } }), status: 400, code: 'LOOPGATE_ERR_INVALID_EVENT', pointers: ['#/event/time'] },
      { name: 'an oversized body', body: JSON.stringify({ event: { type: 'login', subject: { id: 'x', properties: { blob: 'x'.repeat(70_000) } } } }), status: 413, code: 'LOOPGATE_ERR_BODY_TOO_LARGE' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const before = await t.lg.store.countDecisions();
        const res = await t.app.inject({ method: 'POST', url: '/v1/decisions', payload: c.body, headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}`, ...c.headers } });
        expect(res.statusCode).toBe(c.status);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        const problem = res.json();
        expect(problem).toMatchObject({ status: c.status, code: c.code, type: expect.stringMatching(/^https:\/\/loopgate\.dev\/problems\//), title: expect.any(String) });
        if (c.pointers !== undefined) expect(problem.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([...c.pointers].sort());
        expect(await t.lg.store.countDecisions()).toBe(before);
      });
    }
  });

  it('finds a decision by id in any letter case', async () => {
    const d = (await t.post('/v1/decisions', { event: login('casey', T0 - HOUR) })).json();
    expect((await t.get(`/v1/decisions/${d.id.toUpperCase()}`)).json().id).toBe(d.id);
  });

  it('denies a challenge nobody answered in time', async () => {
    await buildHistory(t, 'olga', 12, T0);
    const trip = (await t.post('/v1/decisions', { event: login('olga', T0 - HOUR, { ip: '90.84.9.9' }) })).json();
    expect(trip.outcome).toBe('challenge');
    expect(Date.parse(trip.challenge.expires_at)).toBe(T0 + t.config.risk.challenge_ttl_seconds * 1000);
    expect(await t.lg.decisions.expireChallenges()).toBe(0); // not expired yet
    t.clock.advance(t.config.risk.challenge_ttl_seconds * 1000 + 1);
    try {
      expect(await t.lg.decisions.expireChallenges()).toBeGreaterThanOrEqual(1);
      const after = (await t.get(`/v1/decisions/${trip.id}`)).json();
      expect(after.status).toBe('final');
      expect(after.resolution).toMatchObject({ outcome: 'deny', by: 'timeout', learned: false });
      // A late answer finds nothing left to answer.
      const late = await t.post('/v1/decisions', { event: { type: 'mfa', subject: { id: 'olga' }, method: 'totp', result: 'success', decision_id: trip.id } });
      expect(late.statusCode).toBe(409);
      expect(late.json().errors).toEqual([{ pointer: '#/event/decision_id', detail: 'names a challenge that expired unanswered' }]);
    } finally {
      t.clock.advance(-(t.config.risk.challenge_ttl_seconds * 1000 + 1));
    }
  });

  it('answers 404 problem+json for an unknown decision and an unknown route', async () => {
    const res = await t.get('/v1/decisions/01a20d38-b95e-7867-a776-2bf9b828c9dc');
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('LOOPGATE_ERR_DECISION_NOT_FOUND');
    const bad = await t.get('/v1/decisions/../../etc/passwd');
    expect(bad.statusCode).toBe(404);
    const none = await t.get('/v2/nothing');
    expect(none.statusCode).toBe(404);
    expect(none.headers['content-type']).toMatch(/problem\+json/);
  });

  it('evaluates without storing or learning on a dry run', async () => {
    const before = await t.lg.store.countDecisions();
    const res = await t.post('/v1/decisions', { event: login('dryrun-user', T0 - HOUR), dry_run: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'allow', learned: false, dry_run: true });
    expect(await t.lg.store.countDecisions()).toBe(before);
    expect(await t.lg.store.countLearning('human:dryrun-user')).toBe(0);
  });

  it('echoes X-Request-ID and generates one when absent', async () => {
    const res = await t.post('/v1/decisions', { event: login('echo', T0 - HOUR) }, { 'x-request-id': 'req-42' });
    expect(res.headers['x-request-id']).toBe('req-42');
    const generated = await t.get('/healthz');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe.each(STORES)('ordinary changes stay quiet on %s', (store) => {
  let t: TestLoopgate;
  beforeAll(async () => {
    t = await startTestLoopgate({ store });
    await buildHistory(t, 'dana', 30, T0);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('allows a new version of the usual browser at low risk', async () => {
    const res = await t.post('/v1/decisions', {
      event: login('dana', T0 - HOUR, { user_agent: CHROME_WINDOWS.replace('Chrome/120.0', 'Chrome/121.0') }),
    });
    const d = res.json();
    expect(d.risk.facts.new_user_agent).toBe(true);
    expect(d.risk.facts.new_client).toBe(false);
    expect(d.risk.level).toBe('low');
    expect(d.outcome).toBe('allow');
  });

  it('does not review a new device on the usual browser and network', async () => {
    const d = (await t.post('/v1/decisions', { event: login('dana', T0 - HOUR / 2, { device_id: 'dana-new-phone' }) })).json();
    expect(d.risk.facts.new_device).toBe(true);
    expect(['low', 'medium']).toContain(d.risk.level);
    expect(['allow', 'challenge']).toContain(d.outcome);
  });
});
