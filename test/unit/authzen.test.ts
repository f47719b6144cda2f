import { describe, it, expect } from 'vitest';
import { authzenToEvent, decisionToAuthzen, eventTypeFor, type AuthzenEvaluation } from '../../src/core/authzen.js';
import type { Decision } from '../../src/core/decision.js';
import { parseEvent } from '../../src/core/events/parse.js';

const user = (id = 'alice', properties?: Record<string, unknown>) => ({ type: 'user', id, ...(properties ? { properties } : {}) });

function evaluation(over: Partial<AuthzenEvaluation> = {}): AuthzenEvaluation {
  return { subject: user(), action: { name: 'read' }, resource: { type: 'document', id: '42' }, ...over };
}

describe('eventTypeFor', () => {
  it('uses an action name equal to an event type', () => {
    for (const name of ['login', 'mfa', 'transaction', 'role.change', 'access.request', 'agent.action', 'session.signal'] as const) {
      expect(eventTypeFor(evaluation({ action: { name } }))).toBe(name);
    }
  });

  it('maps aliases, case-insensitively', () => {
    expect(eventTypeFor(evaluation({ action: { name: 'transfer' } }))).toBe('transaction');
    expect(eventTypeFor(evaluation({ action: { name: 'Transfer' } }))).toBe('transaction');
    expect(eventTypeFor(evaluation({ action: { name: 'sign_in' } }))).toBe('login');
    expect(eventTypeFor(evaluation({ action: { name: 'step_up' } }))).toBe('mfa');
    expect(eventTypeFor(evaluation({ action: { name: 'grant_role' } }))).toBe('role.change');
    expect(eventTypeFor(evaluation({ action: { name: 'request_access' } }))).toBe('access.request');
  });

  it('prefers an explicit event_type property', () => {
    expect(eventTypeFor(evaluation({ action: { name: 'transfer', properties: { event_type: 'mfa' } } }))).toBe('mfa');
    // an invalid event_type is ignored
    expect(eventTypeFor(evaluation({ action: { name: 'transfer', properties: { event_type: 'nope' } } }))).toBe('transaction');
  });

  it('maps an unknown action by an agent subject to agent.action', () => {
    for (const type of ['agent', 'ai_agent', 'service', 'workload']) {
      expect(eventTypeFor(evaluation({ subject: { type, id: 'bot-1' }, action: { name: 'reset_password' } }))).toBe('agent.action');
    }
  });

  it('maps any other unknown action to access.request', () => {
    expect(eventTypeFor(evaluation({ action: { name: 'read' } }))).toBe('access.request');
    expect(eventTypeFor(evaluation({ subject: { type: 'group', id: 'g' }, action: { name: 'read' } }))).toBe('access.request');
  });
});

describe('authzenToEvent', () => {
  it('builds an agent.action with the agent as actor and the user resource as subject', () => {
    const e = authzenToEvent({
      subject: { type: 'agent', id: 'bot-1', properties: { sponsor: 'bob' } },
      action: { name: 'reset_password', properties: { tool: 'okta', impact: 'high', other: 1 } },
      resource: { type: 'user', id: 'alice', properties: { email: 'alice@example.com', department: 'eng', shoe_size: 42 } },
    });
    expect(e).toEqual({
      type: 'agent.action',
      actor: { kind: 'agent', id: 'bot-1', sponsor: 'bob' },
      subject: { id: 'alice', email: 'alice@example.com', department: 'eng' },
      action: { name: 'reset_password', target: { type: 'user', id: 'alice' }, tool: 'okta', impact: 'high' },
    });
  });

  it('uses on_behalf_of, else the agent itself, as subject for a non-person resource', () => {
    const base = { action: { name: 'deploy' }, resource: { type: 'repo', id: 'loopgate' } };
    expect(authzenToEvent({ ...base, subject: { type: 'service', id: 'ci', properties: { on_behalf_of: 'carol' } } }).subject).toEqual({
      id: 'carol',
    });
    expect(authzenToEvent({ ...base, subject: { type: 'service', id: 'ci' } }).subject).toEqual({ id: 'ci' });
  });

  it('builds an access.request with entitlement id type:id', () => {
    const e = authzenToEvent({
      subject: user('alice', { department: 'eng', favourite_colour: 'blue' }),
      action: { name: 'read', properties: { justification: 'audit', duration_seconds: 3600 } },
      resource: { type: 'document', id: '42', properties: { sensitivity: 'high' } },
    });
    expect(e).toEqual({
      type: 'access.request',
      subject: { id: 'alice', department: 'eng' },
      entitlement: { id: 'document:42', name: 'read', application: 'document', sensitivity: 'high' },
      justification: 'audit',
      duration_seconds: 3600,
    });
  });

  it('copies known context fields and puts the rest into context.properties', () => {
    const e = authzenToEvent(
      evaluation({
        context: {
          ip: '81.2.69.1',
          user_agent: 'Mozilla/5.0',
          device_id: 'laptop',
          session_id: 's-1',
          geo: { country: 'GB' },
          time: '2026-06-01T09:00:00Z',
          tenant: 'acme',
          channel: 'web',
          signals: { typing: 1 },
          approval: { id: 'x' },
        },
      }),
    );
    expect(e.context).toEqual({
      ip: '81.2.69.1',
      user_agent: 'Mozilla/5.0',
      device_id: 'laptop',
      session_id: 's-1',
      geo: { country: 'GB' },
      properties: { tenant: 'acme', channel: 'web' },
    });
    expect(e.time).toBe('2026-06-01T09:00:00Z');
  });

  it('omits context and time when there is none', () => {
    const e = authzenToEvent(evaluation());
    expect('context' in e).toBe(false);
    expect('time' in e).toBe(false);
  });

  it('maps a transfer to a transaction with the payee', () => {
    const e = authzenToEvent({
      subject: user(),
      action: { name: 'transfer', properties: { amount: 250, currency: 'EUR', channel: 'web' } },
      resource: { type: 'account', id: 'NL91ABNA0417164300' },
    });
    expect(e).toEqual({
      type: 'transaction',
      subject: { id: 'alice' },
      amount: 250,
      currency: 'EUR',
      channel: 'web',
      payee: { id: 'NL91ABNA0417164300' },
    });
  });

  it('maps a login with result, method and signals', () => {
    const e = authzenToEvent({
      subject: user(),
      action: { name: 'authenticate', properties: { result: 'success', method: 'passkey' } },
      resource: { type: 'app', id: 'portal' },
      context: { signals: { typing: 0.3 } },
    });
    expect(e).toEqual({ type: 'login', subject: { id: 'alice' }, result: 'success', method: 'passkey', signals: { typing: 0.3 } });
  });

  it("maps an admin changing another user's roles to an event about that user, with the admin as actor", () => {
    const e = authzenToEvent({
      subject: user('admin-1'),
      action: { name: 'grant_role', properties: { before: ['viewer'], after: ['viewer', 'admin'] } },
      resource: { type: 'user', id: 'alice', properties: { region: 'EU' } },
    });
    expect(e).toEqual({
      type: 'role.change',
      actor: { kind: 'human', id: 'admin-1' },
      subject: { id: 'alice', region: 'EU' },
      roles: { before: ['viewer'], after: ['viewer', 'admin'] },
    });
  });

  it('keeps the subject for a person acting on their own account', () => {
    const e = authzenToEvent({ subject: user('alice'), action: { name: 'request_access' }, resource: { type: 'user', id: 'alice' } });
    expect(e.subject).toEqual({ id: 'alice' });
    expect(e.actor).toBeUndefined();
  });

  it('produces events that parse', () => {
    const now = Date.parse('2026-06-01T09:00:00Z');
    const cases: AuthzenEvaluation[] = [
      evaluation({ context: { ip: '81.2.69.1', tenant: 'acme' } }),
      {
        subject: { type: 'agent', id: 'bot-1' },
        action: { name: 'reset_password', properties: { impact: 'high' } },
        resource: { type: 'user', id: 'alice' },
      },
      { subject: user(), action: { name: 'pay', properties: { amount: 5, currency: 'EUR' } }, resource: { type: 'payee', id: 'p' } },
    ];
    for (const c of cases) {
      const r = parseEvent(authzenToEvent(c), now);
      expect(r.ok ? [] : r.errors).toEqual([]);
    }
  });
});

/** A decision with the fields decisionToAuthzen reads. */
function decision(over: Partial<Decision> & Pick<Decision, 'outcome'>): Decision {
  const base = {
    id: '01970b4e-5a00-7000-8000-000000000001',
    status: 'final',
    created_at: '2026-06-01T09:00:00.000Z',
    risk: {
      score: 0.974,
      level: 'critical',
      reasons: [
        { signal: 'travel', contribution: 6, sentence: 'impossible travel' },
        { signal: 'device', contribution: -0.7, sentence: 'known device' },
        { signal: 'network', contribution: 1.2, sentence: 'new network' },
        { signal: 'hour', contribution: 0.2, sentence: 'unusual hour' },
        { signal: 'client', contribution: 0.1, sentence: 'new browser' },
      ],
      model: { name: 'loopgate-context', version: '1' },
    },
    policy: {
      version: 'v1',
      rules: [{ policy: 'authentication', rule: 'deny-critical', outcome: 'deny' }],
      decisive: { policy: 'authentication', rule: 'deny-critical' },
    },
    learned: false,
  };
  return { ...base, ...over } as unknown as Decision;
}

const DECISION_URL = 'https://loopgate.example/v1/decisions/01970b4e-5a00-7000-8000-000000000001';

describe('decisionToAuthzen', () => {
  it('maps allow to decision true with only the id', () => {
    expect(decisionToAuthzen(decision({ outcome: 'allow' }), DECISION_URL)).toEqual({
      decision: true,
      context: { id: '01970b4e-5a00-7000-8000-000000000001' },
    });
  });

  it('maps deny to decision false with admin and user reasons', () => {
    const r = decisionToAuthzen(decision({ outcome: 'deny' }), DECISION_URL);
    expect(r).toEqual({
      decision: false,
      context: {
        id: '01970b4e-5a00-7000-8000-000000000001',
        // the three largest positive reasons in the given order; 0.974 → "0.97"
        reason_admin: { en: 'deny by rule authentication/deny-critical. risk critical (0.97). impossible travel; new network; unusual hour' },
        reason_user: { 'en-403': 'This request is not allowed.' },
        loopgate: { outcome: 'deny', decision: DECISION_URL, risk: { score: 0.974, level: 'critical' } },
      },
    });
  });

  it('names the fail-closed fallback when it decided', () => {
    const d = decision({
      outcome: 'deny',
      policy: { version: 'v1', rules: [] },
      risk: { score: null, level: 'unknown', reasons: [{ signal: 'model_error', contribution: 0, sentence: 'risk model failed: boom' }], model: { name: 'm', version: '1' } },
      fallback: { outcome: 'deny', reason: 'risk model failed' },
    });
    const r = decisionToAuthzen(d, DECISION_URL);
    expect(r.decision).toBe(false);
    expect(r.context?.reason_admin).toEqual({ en: 'deny by the fail-closed fallback. risk unknown. fallback: risk model failed' });
    expect(r.context?.loopgate).toEqual({ outcome: 'deny', decision: DECISION_URL, risk: { score: null, level: 'unknown' } });
  });

  it('maps challenge to decision false with acr_values as a space-separated string and max_age', () => {
    const r = decisionToAuthzen(
      decision({ outcome: 'challenge', challenge: { acr_values: ['urn:loopgate:acr:aal2', 'urn:loopgate:acr:aal3'], max_age: 0 } }),
      DECISION_URL,
    );
    expect(r.decision).toBe(false);
    expect(r.context?.acr_values).toBe('urn:loopgate:acr:aal2 urn:loopgate:acr:aal3');
    expect(r.context?.max_age).toBe(0);
    expect(r.context?.reason_user).toEqual({ 'en-401': 'Additional verification is required.' });
    expect(r.context?.reason).toBeUndefined();
  });

  it('omits empty acr_values and a missing max_age', () => {
    const r = decisionToAuthzen(decision({ outcome: 'challenge', challenge: { acr_values: [] } }), DECISION_URL);
    expect(r.context).not.toHaveProperty('acr_values');
    expect(r.context).not.toHaveProperty('max_age');
  });

  it('maps review to a requestable denial', () => {
    const r = decisionToAuthzen(decision({ outcome: 'review' }), DECISION_URL);
    expect(r.decision).toBe(false);
    expect(r.context).toMatchObject({
      reason: 'approval_required',
      evaluation_id: '01970b4e-5a00-7000-8000-000000000001',
      evaluated_at: '2026-06-01T09:00:00.000Z',
      reason_user: { 'en-403': 'This request needs approval by a person.' },
    });
    expect(r.context).not.toHaveProperty('acr_values');
  });
});

describe('reasons for admins', () => {
  it('names the default outcome when no rule fired and nothing failed', () => {
    const r = decisionToAuthzen(decision({ outcome: 'deny', policy: { version: 'v1', rules: [] } }), DECISION_URL);
    expect((r.context?.reason_admin as { en: string }).en).toMatch(/^deny by the default outcome\. /);
  });
});

describe('access requests naming another person', () => {
  it('stay about the requester, whose manager approves', () => {
    const e = authzenToEvent({ subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'user', id: 'bob', properties: { manager: 'mona' } } });
    expect(e.type).toBe('access.request');
    expect(e.subject).toEqual({ id: 'alice' });
    expect(e.actor).toBeUndefined();
    expect(e.entitlement).toEqual({ id: 'user:bob', name: 'read', application: 'user' });
  });
});
