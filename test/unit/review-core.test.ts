import { describe, expect, it } from 'vitest';
import { conflictOfInterest } from '../../src/core/review/conflicts.js';
import { countingRole, tally } from '../../src/core/review/quorum.js';
import { missingAssurance, stepUpChallenge, ACR } from '../../src/core/auth/assurance.js';
import type { LoopgateEvent } from '../../src/core/events/schema.js';

const base = { time: '2026-06-01T09:00:00Z', context: {} };
const ev = (e: Record<string, unknown>) => ({ ...base, ...e }) as unknown as LoopgateEvent;
const off = { reportingLine: false };

describe('conflicts of interest', () => {
  it('nobody decides about themselves, nor a change to their own privileges', () => {
    expect(conflictOfInterest(ev({ type: 'login', subject: { id: 'sam' }, actor: { kind: 'human', id: 'sam' } }), { id: 'sam' }, {}, off)?.code).toBe('LOOPGATE_ERR_SELF_REVIEW');
    const grant = ev({ type: 'role.change', subject: { id: 'sam' }, actor: { kind: 'human', id: 'ivy' }, roles: { added: ['admin'], removed: [] } });
    expect(conflictOfInterest(grant, { id: 'sam' }, {}, off)?.code).toBe('LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE');
    expect(conflictOfInterest(grant, { id: 'ivy' }, {}, off)?.code).toBe('LOOPGATE_ERR_SELF_REVIEW');
    expect(conflictOfInterest(grant, { id: 'ana' }, {}, off)).toBeUndefined();
    const agentGrant = ev({ type: 'agent.action', subject: { id: 'svc' }, actor: { kind: 'agent', id: 'bot' }, action: { name: 'role.assign', target: { id: 'ana' } } });
    expect(conflictOfInterest(agentGrant, { id: 'ana' }, {}, off)?.code).toBe('LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE');
  });

  it('nobody decides what an agent they sponsor raised (sponsor from the principal, else the event)', () => {
    const action = ev({ type: 'agent.action', subject: { id: 'bob' }, actor: { kind: 'agent', id: 'bot', sponsor: 'carol' }, action: { name: 'mail.send' } });
    expect(conflictOfInterest(action, { id: 'carol' }, {}, off)?.code).toBe('LOOPGATE_ERR_SPONSOR_CONFLICT');
    expect(conflictOfInterest(action, { id: 'dave' }, { actor: 'dave' }, off)?.code).toBe('LOOPGATE_ERR_SPONSOR_CONFLICT');
    expect(conflictOfInterest(action, { id: 'carol' }, { actor: 'dave' }, off)).toBeUndefined();
    // Whatever kind the event claims: the reviewer's own id is their own action, and a recorded sponsor counts.
    const disguised = ev({ type: 'transaction', subject: { id: 'bob' }, actor: { kind: 'agent', id: 'fay' }, amount: 1, currency: 'EUR', payee: { id: 'x' } });
    expect(conflictOfInterest(disguised, { id: 'fay' }, {}, off)?.code).toBe('LOOPGATE_ERR_SELF_REVIEW');
    const asHuman = ev({ type: 'transaction', subject: { id: 'bob' }, actor: { kind: 'human', id: 'pay-bot' }, amount: 1, currency: 'EUR', payee: { id: 'x' } });
    expect(conflictOfInterest(asHuman, { id: 'fay' }, { actor: 'fay' }, off)?.code).toBe('LOOPGATE_ERR_SPONSOR_CONFLICT');
    // Nor does anyone decide a case about an agent they sponsor.
    expect(conflictOfInterest(asHuman, { id: 'gil' }, { subject: 'gil' }, off)?.code).toBe('LOOPGATE_ERR_SPONSOR_CONFLICT');
  });

  it('the reporting line is a conflict only when configured', () => {
    const req = ev({ type: 'access.request', subject: { id: 'bob', manager: 'mia' }, actor: { kind: 'human', id: 'bob' }, entitlement: { id: 'x' } });
    expect(conflictOfInterest(req, { id: 'mia' }, {}, off)).toBeUndefined();
    expect(conflictOfInterest(req, { id: 'mia' }, {}, { reportingLine: true })?.code).toBe('LOOPGATE_ERR_REPORTING_LINE_CONFLICT');
    expect(conflictOfInterest(req, { id: 'eve', manager: 'bob' }, {}, { reportingLine: true })?.code).toBe('LOOPGATE_ERR_REPORTING_LINE_CONFLICT');
  });
});

describe('quorum', () => {
  const two = { quorum: 2, distinct_roles: false };
  it('counts distinct people once each', () => {
    expect(tally(two, [{ reviewer_id: 'a', role: 'x', verdict: 'approve' }, { reviewer_id: 'a', role: 'y', verdict: 'approve' }])).toMatchObject({ state: 'waiting', approvals: 1 });
    expect(tally(two, [{ reviewer_id: 'a', role: 'x', verdict: 'approve' }, { reviewer_id: 'b', role: 'x', verdict: 'approve' }])).toEqual({ state: 'approved', approvals: 2 });
  });
  it('with distinct roles, a second approval in a used role does not count', () => {
    const r = { quorum: 2, distinct_roles: true };
    expect(tally(r, [{ reviewer_id: 'a', role: 'iam_admin', verdict: 'approve' }, { reviewer_id: 'b', role: 'iam_admin', verdict: 'approve' }])).toMatchObject({ state: 'waiting', approvals: 1 });
    expect(countingRole(r, ['iam_admin', 'security_analyst'], ['iam_admin', 'security_analyst'], ['iam_admin'])).toBe('security_analyst');
    expect(countingRole(r, ['iam_admin', 'security_analyst'], ['iam_admin'], ['iam_admin'])).toBeUndefined();
  });
  it('one deny decides; an escalation moves the case on', () => {
    expect(tally(two, [{ reviewer_id: 'a', role: 'x', verdict: 'approve' }, { reviewer_id: 'b', role: 'x', verdict: 'deny' }])).toEqual({ state: 'denied', by: 'b' });
    expect(tally(two, [{ reviewer_id: 'a', role: 'x', verdict: 'escalate' }])).toEqual({ state: 'escalated', by: 'a' });
  });
});

describe('step-up (RFC 9470)', () => {
  const now = Date.parse('2026-06-01T09:00:00Z');
  it('asks for a stronger or fresher proof, and a higher level satisfies a lower one', () => {
    const need = { acr_values: [ACR.aal2, ACR.aal3], max_age: 900 };
    expect(missingAssurance({ acr: ACR.aal1, amr: ['pwd'], authTimeMs: now }, need, now)).toEqual(need);
    expect(missingAssurance({ acr: ACR.aal2, amr: ['pwd', 'otp'], authTimeMs: now - 901_000 }, need, now)).toEqual(need);
    expect(missingAssurance({ acr: ACR.aal2, amr: ['pwd', 'otp'], authTimeMs: now - 899_000 }, need, now)).toBeUndefined();
    expect(missingAssurance({ acr: ACR.aal3, amr: ['hwk'], authTimeMs: now }, { acr_values: [ACR.aal2] }, now)).toBeUndefined();
    expect(missingAssurance(undefined, undefined, now)).toBeUndefined();
  });
  it('writes the WWW-Authenticate challenge', () => {
    expect(stepUpChallenge({ acr_values: [ACR.aal3], max_age: 300 })).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A fresher or stronger authentication is required", acr_values="urn:loopgate:acr:aal3", max_age="300"',
    );
  });
});
