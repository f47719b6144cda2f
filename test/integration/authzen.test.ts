/**
 * OpenID AuthZEN Authorization API 1.0 on both stores: single evaluation, the three batch semantics, metadata,
 * requestable denials for decisions that need a human, and per-item errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROME_WINDOWS, T0, iso, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { STORES } from '../helpers/stores.js';

const at = iso(T0 - 3_600_000);
const user = (id: string, properties: Record<string, unknown> = {}) => ({ type: 'user', id, properties });
const context = { ip: '81.2.69.160', user_agent: CHROME_WINDOWS, device_id: 'kim-laptop', time: at };

describe.each(STORES)('AuthZEN on %s', (store) => {
  let t: TestLoopgate;
  beforeAll(async () => {
    t = await startTestLoopgate({ store });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('publishes PDP metadata from the configuration, whatever Host header the caller sends', async () => {
    const res = await t.get('/.well-known/authzen-configuration', { host: 'attacker.example' });
    expect(res.statusCode).toBe(200);
    const base = `http://127.0.0.1:${t.config.server.port}`;
    expect(res.json()).toEqual({
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
      capabilities: [],
    });
  });

  it('uses server.public_url as the PDP identifier when it is set', async () => {
    const other = await startTestLoopgate({ store, db: t.db, overrides: { 'server.public_url': 'https://pdp.example.com/' } });
    try {
      const meta = (await other.get('/.well-known/authzen-configuration')).json();
      expect(meta.policy_decision_point).toBe('https://pdp.example.com');
      expect(meta.access_evaluation_endpoint).toBe('https://pdp.example.com/access/v1/evaluation');
    } finally {
      await other.stop();
    }
  });

  it('permits a low-risk login and records it as a decision', async () => {
    const before = await t.lg.store.countDecisions();
    const res = await t.post('/access/v1/evaluation', { subject: user('kim'), action: { name: 'login' }, resource: { type: 'application', id: 'portal' }, context }, { 'x-request-id': 'az-1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('az-1');
    const body = res.json();
    expect(body.decision).toBe(true);
    expect(body.context.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await t.lg.store.countDecisions()).toBe(before + 1);
    const stored = (await t.get(`/v1/decisions/${body.context.id}`)).json();
    expect(stored.event.type).toBe('login');
    expect(stored.event.subject.id).toBe('kim');
    expect(stored.event.context.device_id).toBe('kim-laptop');
  });

  it('denies with 200 and reasons in context, never 403', async () => {
    const res = await t.post('/access/v1/evaluation', {
      subject: user('kim'),
      action: { name: 'session.signal', properties: { signal: { kind: 'caep.credential-change', level: 'high', source: 'idp' } } },
      resource: { type: 'session', id: 's-1' },
      context,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.decision).toBe(false);
    expect(body.context.reason_admin.en).toMatch(/^deny by rule sessions\/deny-on-high-signal/);
    expect(body.context.reason_user['en-403']).toBeTypeOf('string');
    expect(body.context.loopgate.outcome).toBe('deny');
  });

  it('answers a decision that needs a human as a requestable denial', async () => {
    const res = await t.post('/access/v1/evaluation', {
      subject: { type: 'agent', id: 'provisioning-bot', properties: { sponsor: 'sam' } },
      action: { name: 'role.assign', properties: { impact: 'high', tool: 'scim' } },
      resource: user('kim', { region: 'EU' }),
      context: { time: at, authorization_details: [{ type: 'urn:loopgate:grant-role', role: 'admin' }] },
    });
    const body = res.json();
    expect(body.decision).toBe(false);
    expect(body.context.reason).toBe('approval_required');
    expect(body.context.evaluation_id).toBe(body.context.id);
    expect(Date.parse(body.context.evaluated_at)).toBe(T0);
    const stored = (await t.get(`/v1/decisions/${body.context.id}`)).json();
    expect(stored.event.type).toBe('agent.action');
    expect(stored.event.actor).toEqual({ kind: 'agent', id: 'provisioning-bot', sponsor: 'sam' });
    expect(stored.event.subject).toEqual({ id: 'kim', region: 'EU' });
    expect(stored.event.authorization_details).toEqual([{ type: 'urn:loopgate:grant-role', role: 'admin' }]);
    expect(stored.review.route.name).toBe('iam-approval');
  });

  it('carries step-up parameters on a challenge', async () => {
    // A first sign-in from a new country for someone with history asks for MFA.
    for (let d = 10; d >= 1; d--) {
      await t.post('/access/v1/evaluation', { subject: user('lee'), action: { name: 'login' }, resource: { type: 'app', id: 'portal' }, context: { ...context, device_id: 'lee-laptop', time: iso(T0 - d * 86_400_000) } });
    }
    const res = await t.post('/access/v1/evaluation', {
      subject: user('lee'),
      action: { name: 'authenticate' },
      resource: { type: 'app', id: 'portal' },
      context: { ...context, ip: '90.84.1.1', device_id: 'lee-laptop' },
    });
    const body = res.json();
    expect(body.decision).toBe(false);
    expect(body.context.acr_values).toBe('urn:loopgate:acr:aal2');
    expect(body.context.reason_user['en-401']).toBeTypeOf('string');
  });

  it('rejects a request without a subject with 400 problem+json and stores nothing', async () => {
    const before = await t.lg.store.countDecisions();
    const res = await t.post('/access/v1/evaluation', { action: { name: 'login' }, resource: { type: 'app', id: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.json().errors).toContainEqual({ pointer: '#/subject', detail: 'is required' });
    const unmappable = await t.post('/access/v1/evaluation', { subject: user('x'), action: { name: 'transfer' }, resource: { type: 'payee', id: 'p1' }, context: { time: at } });
    expect(unmappable.statusCode).toBe(400);
    expect(unmappable.json().mapped_event_type).toBe('transaction');
    expect(unmappable.json().errors.map((e: { pointer: string }) => e.pointer)).toEqual(expect.arrayContaining(['#/event/amount', '#/event/currency']));
    expect(await t.lg.store.countDecisions()).toBe(before);
  });

  it('ignores unknown fields, as the specification requires', async () => {
    const res = await t.post('/access/v1/evaluation', { subject: { ...user('kim'), nickname: 'k' }, action: { name: 'login', verb: 'x' }, resource: { type: 'app', id: 'portal' }, context, extension: { a: 1 } });
    expect(res.statusCode).toBe(200);
    expect(res.json().decision).toBe(true);
  });

  describe('evaluations (batch)', () => {
    // Three items against the default policy: allow (small payment), review (large payment), allow.
    const batch = (semantic?: string) => ({
      subject: user('noor'),
      action: { name: 'transfer', properties: { currency: 'EUR' } },
      context: { ...context, device_id: 'noor-phone' },
      ...(semantic === undefined ? {} : { options: { evaluations_semantic: semantic } }),
      evaluations: [
        { resource: { type: 'payee', id: 'grocer', properties: { amount: 12 } } },
        { resource: { type: 'payee', id: 'acme', properties: { amount: 50000 } } },
        { resource: { type: 'payee', id: 'baker', properties: { amount: 7 } } },
      ],
    });

    it('execute_all (the default) answers every item in order', async () => {
      const res = await t.post('/access/v1/evaluations', batch());
      expect(res.statusCode).toBe(200);
      expect(res.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, false, true]);
      expect(res.json().evaluations[1].context.reason).toBe('approval_required');
    });

    it('deny_on_first_deny stops after the first denial', async () => {
      const before = await t.lg.store.countDecisions();
      const res = await t.post('/access/v1/evaluations', batch('deny_on_first_deny'));
      expect(res.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, false]);
      expect(await t.lg.store.countDecisions()).toBe(before + 2);
    });

    it('permit_on_first_permit stops after the first permit', async () => {
      const res = await t.post('/access/v1/evaluations', batch('permit_on_first_permit'));
      expect(res.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true]);
    });

    it('reports a bad item as a denial with an error, without failing the others', async () => {
      const res = await t.post('/access/v1/evaluations', {
        action: { name: 'login' },
        resource: { type: 'app', id: 'portal' },
        context,
        evaluations: [{ subject: user('kim') }, {}, { subject: user('kim'), context: { ...context, ip: 'not-an-ip' } }],
      });
      expect(res.statusCode).toBe(200);
      const [ok, missing, invalid] = res.json().evaluations;
      expect(ok.decision).toBe(true);
      expect(missing).toEqual({ decision: false, context: { error: { status: 400, message: 'missing subject (neither in the item nor as a default)' } } });
      expect(invalid.decision).toBe(false);
      expect(invalid.context.error.status).toBe(400);
      expect(invalid.context.error.message).toMatch(/ip/);
    });

    it('rejects an unknown semantic', async () => {
      const unknown = await t.post('/access/v1/evaluations', { ...batch(), options: { evaluations_semantic: 'first_one' } });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().errors[0].pointer).toBe('#/options/evaluations_semantic');
    });

    it('treats a request without an evaluations array as a single evaluation', async () => {
      const single = await t.post('/access/v1/evaluations', { subject: user('kim'), action: { name: 'login' }, resource: { type: 'app', id: 'portal' }, context });
      expect(single.statusCode).toBe(200);
      expect(single.json().decision).toBe(true);
      expect(single.json().evaluations).toBeUndefined();
      const incomplete = await t.post('/access/v1/evaluations', { subject: user('x'), evaluations: [] });
      expect(incomplete.statusCode).toBe(400);
      expect(incomplete.json().errors.map((e: { pointer: string }) => e.pointer)).toEqual(['#/action', '#/resource']);
    });
  });
});
