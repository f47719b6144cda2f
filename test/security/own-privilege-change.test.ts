/**
 * Threat: a reviewer approves a change to their own privileges, or one about someone in their reporting line.
 *
 * Checked, on both stores, through the HTTP API with the shipped bundle: an IAM admin cannot claim, ask a verdict
 * challenge for, or decide a role change or an access request whose subject is them, nor an agent's role,
 * credential or access action that targets them (403 LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE), and an admin cannot
 * assign them such a case; with `review.reporting_line_conflict` on, a reviewer who is the subject's manager, or
 * whose own manager is the subject, is refused (403 LOOPGATE_ERR_REPORTING_LINE_CONFLICT); the rule is off by
 * default, so a manager approves their report's access request through manager-approval. After every refusal the
 * case, its verdicts, labels, decision and audit trail are unchanged, and a reviewer without the conflict can claim.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { iso, startTestLoopgate, T0, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer, type Reviewer } from '../helpers/reviewers.js';
import { caseState, expectProblem, expectUnchanged } from './support.js';

const APPROVE = { verdict: 'approve', label: 'confirmed_safe', reason: 'looks right to me' };

function roleChange(subject: Record<string, unknown>): Record<string, unknown> {
  return { type: 'role.change', subject, time: iso(T0), roles: { before: ['viewer'], after: ['viewer', 'auditor'] }, application: 'loopgate' };
}

function accessRequest(subject: Record<string, unknown>, sensitivity?: string): Record<string, unknown> {
  return { type: 'access.request', subject, time: iso(T0), entitlement: { id: 'payroll-export', application: 'hr', ...(sensitivity === undefined ? {} : { sensitivity }) }, justification: 'quarterly report' };
}

/** An agent's action on a principal; high impact, so that the shipped bundle sends every such action to iam-approval. */
function agentAction(name: string, targetId: string): Record<string, unknown> {
  return { type: 'agent.action', subject: { id: 'ops-bot' }, actor: { kind: 'agent', id: 'ops-bot' }, time: iso(T0), action: { name, tool: 'iam-api', impact: 'high', target: { type: 'principal', id: targetId } } };
}

/** A case opened by the event, on the expected route. */
async function openCase(t: TestLoopgate, event: Record<string, unknown>, route: string): Promise<string> {
  const d = await decide(t, event);
  expect(d.outcome).toBe('review');
  const c = await caseOf(t, d.id);
  expect(c.route).toBe(route);
  return c.id as string;
}

/** The reviewer sees the case, with its reviewer role, but may neither claim nor decide it nor be assigned it. */
async function expectConflict(t: TestLoopgate, who: Reviewer, caseId: string, role: string, code: string): Promise<void> {
  expect((await who.get(`/v1/cases/${caseId}`)).json().you).toEqual({ can_decide: false, roles: [role], conflict: code });
  const before = await caseState(t, caseId);
  expectProblem(await who.post(`/v1/cases/${caseId}/claim`), 403, code);
  expectProblem(await who.post(`/v1/cases/${caseId}/verdicts/challenge`, APPROVE), 403, code);
  expectProblem(await who.post(`/v1/cases/${caseId}/verdicts`, APPROVE), 403, code);
  expectProblem(await t.post(`/v1/cases/${caseId}/assign`, { reviewer: who.id }), 403, code);
  await expectUnchanged(t, caseId, before);
}

async function expectClaims(who: Reviewer, caseId: string): Promise<void> {
  expect((await who.post(`/v1/cases/${caseId}/claim`)).json()).toMatchObject({ status: 'claimed', claimed_by: who.id });
}

describe.each(STORES)('own privilege change on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  it('nobody decides a role change or an access request about themselves', async () => {
    t = await startTestLoopgate({ store });
    const ivy = await reviewer(t, 'ivy', ['iam_admin']);
    const ian = await reviewer(t, 'ian', ['iam_admin']);
    for (const event of [roleChange({ id: 'ivy' }), accessRequest({ id: 'ivy' }, 'high')]) {
      const caseId = await openCase(t, event, 'iam-approval');
      await expectConflict(t, ivy, caseId, 'iam_admin', 'LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE');
      await expectClaims(ian, caseId);
    }
  });

  it('nobody decides an agent’s role, credential or access action that targets them', async () => {
    t = await startTestLoopgate({ store });
    const ivy = await reviewer(t, 'ivy', ['iam_admin']);
    const ian = await reviewer(t, 'ian', ['iam_admin']);
    for (const action of ['role.assign', 'credential.reset', 'access.grant']) {
      const caseId = await openCase(t, agentAction(action, 'ivy'), 'iam-approval');
      await expectConflict(t, ivy, caseId, 'iam_admin', 'LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE');
      await expectClaims(ian, caseId);
    }
  });

  it('with review.reporting_line_conflict on: neither the subject’s manager nor the subject’s report decides', async () => {
    t = await startTestLoopgate({ store, overrides: { 'review.reporting_line_conflict': true } });
    const ivy = await reviewer(t, 'ivy', ['iam_admin']);
    const rex = await reviewer(t, 'rex', ['iam_admin'], { manager: 'boss' });
    const ian = await reviewer(t, 'ian', ['iam_admin'], { manager: 'someone-else' });
    const mia = await reviewer(t, 'mia', ['manager']);

    // ivy manages noah (the event says so).
    const managed = await openCase(t, roleChange({ id: 'noah', manager: 'ivy' }), 'iam-approval');
    await expectConflict(t, ivy, managed, 'iam_admin', 'LOOPGATE_ERR_REPORTING_LINE_CONFLICT');
    await expectClaims(ian, managed);

    // rex reports to boss (rex's own attribute says so).
    const manager = await openCase(t, roleChange({ id: 'boss' }), 'iam-approval');
    await expectConflict(t, rex, manager, 'iam_admin', 'LOOPGATE_ERR_REPORTING_LINE_CONFLICT');
    await expectClaims(ian, manager);

    // The manager-approval route itself: the manager is in its scope, and now refused.
    const access = await openCase(t, accessRequest({ id: 'noah', manager: 'mia' }), 'manager-approval');
    await expectConflict(t, mia, access, 'manager', 'LOOPGATE_ERR_REPORTING_LINE_CONFLICT');
  });

  it('off by default: a manager approves their report’s access request, and a reporting line alone refuses nobody', async () => {
    t = await startTestLoopgate({ store });
    const mia = await reviewer(t, 'mia', ['manager']);
    const rex = await reviewer(t, 'rex', ['iam_admin'], { manager: 'boss' });
    const ivy = await reviewer(t, 'ivy', ['iam_admin']);

    const access = await openCase(t, accessRequest({ id: 'noah', manager: 'mia' }), 'manager-approval');
    expect((await mia.get(`/v1/cases/${access}`)).json().you).toEqual({ can_decide: true, roles: ['manager'] });
    await expectClaims(mia, access);
    const v = await mia.post(`/v1/cases/${access}/verdicts`, APPROVE);
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().decision).toMatchObject({ status: 'final', resolution: { outcome: 'allow', by: 'review' } });

    const manager = await openCase(t, roleChange({ id: 'boss' }), 'iam-approval');
    expect((await rex.get(`/v1/cases/${manager}`)).json().you).toEqual({ can_decide: true, roles: ['iam_admin'] });
    await expectClaims(rex, manager);
    const managed = await openCase(t, roleChange({ id: 'noah', manager: 'ivy' }), 'iam-approval');
    await expectClaims(ivy, managed);
  });
});
