import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalPayload, escalatedRoute, eventDigest, isClosed, recommendationOf, scopeActivation, unclaimedStatus, verdictChallenge, type VerdictPayload } from '../../src/core/review/cases.js';
import { matchExceptions, type BaselineException } from '../../src/core/risk/exceptions.js';
import type { Route } from '../../src/core/policy/types.js';
import type { Decision } from '../../src/core/decision.js';
import type { ContextFeatures } from '../../src/core/risk/features.js';

const fraud: Route = {
  name: 'fraud-review',
  reviewers: { roles: ['fraud_analyst'], scope: 'case.subject.region == reviewer.region' },
  quorum: 1,
  distinct_roles: false,
  timeout: 7200,
  warn_before: 1800,
  on_timeout: 'escalate',
  escalate_to: { roles: ['security_analyst'], timeout: 3600 },
};

describe('case state and routes', () => {
  it('closed statuses, and where an unclaimed case goes back to', () => {
    expect(['decided', 'expired', 'cancelled'].every(isClosed)).toBe(true);
    expect(['open', 'claimed', 'escalated'].some(isClosed)).toBe(false);
    expect(unclaimedStatus(0)).toBe('open');
    expect(unclaimedStatus(1)).toBe('escalated');
  });

  it('an escalation hands the case to the escalation roles, once, with their timeout, and then denies on timeout', () => {
    const next = escalatedRoute(fraud)!;
    expect(next).toMatchObject({ reviewers: { roles: ['security_analyst'] }, timeout: 3600, on_timeout: 'deny', warn_before: 1800 });
    expect(next.reviewers.scope).toBeUndefined();
    expect(next.escalate_to).toBeUndefined();
    expect(escalatedRoute(next)).toBeUndefined();
    // A warning that would come before the new deadline's start is dropped.
    expect(escalatedRoute({ ...fraud, escalate_to: { roles: ['x'], timeout: 600 } })!.warn_before).toBeUndefined();
  });

  it('the machine recommends deny for high risk or a failed model, approve otherwise', () => {
    const risk = (level: string) => ({ risk: { level } }) as unknown as Pick<Decision, 'risk' | 'fallback'>;
    expect(recommendationOf(risk('high')).verdict).toBe('deny');
    expect(recommendationOf(risk('critical')).verdict).toBe('deny');
    expect(recommendationOf(risk('medium')).verdict).toBe('approve');
    expect(recommendationOf(risk('unknown')).verdict).toBe('deny');
    expect(recommendationOf({ ...risk('low'), fallback: { outcome: 'review', reason: 'x' } } as never).verdict).toBe('deny');
  });
});

describe('the signed verdict payload', () => {
  const payload: VerdictPayload = {
    case_id: 'c1',
    decision_id: 'd1',
    verdict: 'approve',
    label: 'confirmed_safe',
    reason: 'called her',
    approved_sha256: eventDigest({ type: 'login', subject: { id: 'alice' } }),
    reviewer_id: 'sam',
    nonce: 'n1',
    time: '2026-06-01T09:00:00.000Z',
  };

  it('is the SHA-256 of the RFC 8785 canonical payload (members sorted)', () => {
    const canonical = canonicalPayload(payload);
    expect(canonical.startsWith('{"approved_sha256":')).toBe(true);
    expect(Buffer.from(verdictChallenge(payload)).toString('hex')).toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(Buffer.from(verdictChallenge({ ...payload, verdict: 'deny' })).equals(Buffer.from(verdictChallenge(payload)))).toBe(false);
  });

  it('binds the exact event: member order does not matter, any change does', () => {
    expect(eventDigest({ a: 1, b: { c: 2 } })).toBe(eventDigest({ b: { c: 2 }, a: 1 }));
    expect(eventDigest({ a: 1, b: { c: 2 } })).not.toBe(eventDigest({ a: 1, b: { c: 3 } }));
  });
});

describe('scope variables', () => {
  it('a reviewer attribute cannot pose as the reviewer id, kind or roles', () => {
    const decision = { event: { type: 'login', subject: { id: 'alice', region: 'EU' }, actor: { kind: 'human', id: 'alice' } }, risk: { score: 0.9, level: 'high' } } as unknown as Decision;
    const a = scopeActivation({ id: 'c1', decision, route: fraud, status: 'open' }, { id: 'sam', kind: 'human', roles: ['fraud_analyst'], attributes: { id: 'alice', roles: ['admin'], region: 'EU' } });
    expect(a.reviewer).toEqual({ id: 'sam', kind: 'human', roles: ['fraud_analyst'], region: 'EU' });
    expect(a.case).toMatchObject({ id: 'c1', type: 'login', subject: { region: 'EU' }, risk: { level: 'high' }, route: 'fraud-review' });
  });
});

describe('baseline exceptions', () => {
  const features = { country: 'BR', ip: '200.160.2.9', device_id: 'tab', time_ms: 0, hour: '09' } as unknown as ContextFeatures;
  const ex = (feature: string, value: string, until = 1000): BaselineException => ({ feature: feature as BaselineException['feature'], value, until, reason: 'trip', created_by: 'sam' });

  it('match only in force and only on the same value, and cover the signals and facts that value feeds', () => {
    expect(matchExceptions(features, [ex('country', 'BR', 500)], 500)).toBeUndefined();
    expect(matchExceptions(features, [ex('country', 'PT')], 0)).toBeUndefined();
    const m = matchExceptions(features, [ex('country', 'BR'), ex('device_id', 'tab')], 0)!;
    expect([...m.signals].sort()).toEqual(['device', 'network', 'travel']);
    expect(m.facts.has('new_country')).toBe(true);
    expect(m.facts.has('new_device')).toBe(true);
    expect(m.facts.has('unusual_hour')).toBe(false);
    expect(m.matched).toHaveLength(2);
  });
});
