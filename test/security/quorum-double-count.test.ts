/**
 * Threat: one person's approval counts twice towards a quorum (or one role stands in for two), so that a change
 * needing two people passes with one.
 *
 * Checked, on both stores, with a custom bundle of two quorum-2 routes at AAL2 (no passkeys needed): after a
 * person approves, the case stays open and waits; their second claim is refused (409 LOOPGATE_ERR_ALREADY_VOTED),
 * a second verdict is refused (409 LOOPGATE_ERR_NOT_CLAIMED, or LOOPGATE_ERR_ALREADY_VOTED when the case is handed
 * back to them), and two verdicts sent at once count once; the database itself refuses a second verdict row for the
 * same case and reviewer; with distinct_roles, a second approver holding only the role already counted is refused
 * (409 LOOPGATE_ERR_ROLE_ALREADY_COUNTED), and a person holding both roles counts once, under one role. Two
 * distinct people from two roles decide the case (allow). After every refusal the case, its verdicts, labels,
 * decision and audit trail are unchanged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { iso, startTestLoopgate, T0, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer } from '../helpers/reviewers.js';
import { auditActions, caseState, expectProblem, expectUnchanged, policyBundle } from './support.js';

const ASSURANCE = `
    assurance:
      acr: [urn:loopgate:acr:aal2, urn:loopgate:acr:aal3]
      max_age: 15m
    timeout: 4h
    on_timeout: deny`;

const BUNDLE = {
  'settings.yaml': `
settings:
  default_outcome: allow
  fallback: deny
routes:
  two-people:
    reviewers:
      roles: [security_analyst]
    quorum: 2${ASSURANCE}
  four-eyes:
    reviewers:
      roles: [iam_admin, security_analyst]
    quorum: 2
    distinct_roles: true${ASSURANCE}
`,
  'payments.yaml': `
policy: quorum-test
events: [transaction]
rules:
  - id: two-people
    when: event.payee.id == "two-people"
    outcome: review
    route: two-people
  - id: four-eyes
    when: event.payee.id == "four-eyes"
    outcome: review
    route: four-eyes
`,
};

const APPROVE = { verdict: 'approve', label: 'confirmed_safe', reason: 'called the payee' };

describe.each(STORES)('quorum double count on %s', (store) => {
  let t: TestLoopgate;
  let bundle: ReturnType<typeof policyBundle>;
  afterEach(async () => {
    await t?.close();
    bundle?.remove();
  });

  async function start(): Promise<void> {
    bundle = policyBundle(BUNDLE);
    t = await startTestLoopgate({ store, overrides: { 'policy.directory': bundle.dir } });
  }

  /** A payment routed by its payee to one of the bundle's routes; returns the case id. */
  async function openCase(route: 'two-people' | 'four-eyes'): Promise<string> {
    const d = await decide(t, { type: 'transaction', subject: { id: 'erin' }, time: iso(T0), context: { ip: '81.2.69.170' }, amount: 500, currency: 'EUR', payee: { id: route } });
    expect(d.outcome).toBe('review');
    const c = await caseOf(t, d.id);
    expect(c).toMatchObject({ route, quorum: 2 });
    return c.id as string;
  }

  it('one person never counts twice: after their approval the case waits, and a second claim or verdict is refused', async () => {
    await start();
    const ann = await reviewer(t, 'ann', ['security_analyst']);
    const ben = await reviewer(t, 'ben', ['security_analyst']);
    const id = await openCase('two-people');

    expect((await ann.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    const first = await ann.post(`/v1/cases/${id}/verdicts`, APPROVE);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ case: { status: 'open', claimed_by: null }, tally: { state: 'waiting', approvals: 1, needed: 2 } });
    expect((await t.get(`/v1/decisions/${(await caseState(t, id)).decision_id}`)).json().status).toBe('pending');

    const before = await caseState(t, id);
    expect(before.verdicts.map((v) => v.reviewer_id)).toEqual(['ann']);
    expectProblem(await ann.post(`/v1/cases/${id}/claim`), 409, 'LOOPGATE_ERR_ALREADY_VOTED');
    expectProblem(await ann.post(`/v1/cases/${id}/verdicts`, APPROVE), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    expectProblem(await ann.post(`/v1/cases/${id}/verdicts/challenge`, APPROVE), 409, 'LOOPGATE_ERR_NOT_CLAIMED');
    await expectUnchanged(t, id, before);

    // Handed back to her by an admin, she still cannot vote again: either the assignment or the verdict is refused.
    const handed = await t.post(`/v1/cases/${id}/assign`, { reviewer: 'ann', reason: 'finish it' });
    if (handed.statusCode === 200) {
      const held = await caseState(t, id);
      expect(held).toMatchObject({ status: 'claimed', claimed_by: 'ann' });
      expectProblem(await ann.post(`/v1/cases/${id}/verdicts`, APPROVE), 409, 'LOOPGATE_ERR_ALREADY_VOTED');
      await expectUnchanged(t, id, held);
    } else {
      expectProblem(handed, 409, 'LOOPGATE_ERR_ALREADY_VOTED');
      await expectUnchanged(t, id, before);
    }
    expect(await auditActions(t, id, 'case.verdict')).toHaveLength(1);

    // A second person completes the quorum.
    expect((await t.post(`/v1/cases/${id}/assign`, { reviewer: 'ben' })).statusCode).toBe(200);
    const second = await ben.post(`/v1/cases/${id}/verdicts`, APPROVE);
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json()).toMatchObject({ case: { status: 'decided', outcome: 'allow' }, tally: { state: 'approved', approvals: 2 }, decision: { status: 'final' } });
  });

  it('two verdicts sent at once by the same person count once', async () => {
    await start();
    const ann = await reviewer(t, 'ann', ['security_analyst']);
    const id = await openCase('two-people');
    expect((await ann.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);

    const answers = await Promise.all([ann.post(`/v1/cases/${id}/verdicts`, APPROVE), ann.post(`/v1/cases/${id}/verdicts`, APPROVE)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409]);
    const refused = answers.find((a) => a.statusCode === 409)!;
    expect(['LOOPGATE_ERR_ALREADY_VOTED', 'LOOPGATE_ERR_NOT_CLAIMED', 'LOOPGATE_ERR_CONFLICT']).toContain(refused.json().code);
    const after = await caseState(t, id);
    expect(after.verdicts.map((v) => v.reviewer_id)).toEqual(['ann']);
    expect(after.labels).toHaveLength(1);
    expect(after.status).toBe('open');
    expect(after.decision.status).toBe('pending');
    expect(await auditActions(t, id, 'case.verdict')).toHaveLength(1);
  });

  it('the database refuses a second verdict row for the same case and reviewer', async () => {
    await start();
    const ann = await reviewer(t, 'ann', ['security_analyst']);
    const id = await openCase('four-eyes');
    expect((await ann.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    expect((await ann.post(`/v1/cases/${id}/verdicts`, APPROVE)).statusCode).toBe(201);
    const before = await caseState(t, id);
    const [stored] = await t.lg.store.db.selectFrom('verdicts').selectAll().where('case_id', '=', id).execute();

    // Written behind the service's back, under the other role, with a new id: still one person, one verdict.
    const { db } = t.lg.store;
    const second = db
      .insertInto('verdicts')
      .values({ ...stored!, id: '01900000-0000-7000-8000-0000000000aa', role: 'iam_admin', created_at: t.clock.now() + 1 })
      .compile();
    await expect(t.lg.store.write([second])).rejects.toThrow(/UNIQUE constraint failed: verdicts\.case_id, verdicts\.reviewer_id|verdicts_one_per_reviewer/);
    await expectUnchanged(t, id, before);
    // The same row for another reviewer is accepted: the refusal is the (case, reviewer) pair.
    await t.lg.store.write([db.insertInto('verdicts').values({ ...stored!, id: '01900000-0000-7000-8000-0000000000bb', reviewer_id: 'someone-else' }).compile()]);
    expect((await caseState(t, id)).verdicts.map((v) => v.reviewer_id).sort()).toEqual(['ann', 'someone-else']);
  });

  it('distinct roles: a second approver holding only the counted role is refused; a second role decides', async () => {
    await start();
    const sam = await reviewer(t, 'sam', ['security_analyst']);
    const sue = await reviewer(t, 'sue', ['security_analyst']);
    const ivy = await reviewer(t, 'ivy', ['iam_admin']);
    const id = await openCase('four-eyes');

    expect((await sam.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    expect((await sam.post(`/v1/cases/${id}/verdicts`, APPROVE)).json().tally).toEqual({ state: 'waiting', approvals: 1, needed: 2, rolesUsed: ['security_analyst'] });

    expect((await sue.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    const before = await caseState(t, id);
    expectProblem(await sue.post(`/v1/cases/${id}/verdicts/challenge`, APPROVE), 409, 'LOOPGATE_ERR_ROLE_ALREADY_COUNTED');
    expectProblem(await sue.post(`/v1/cases/${id}/verdicts`, APPROVE), 409, 'LOOPGATE_ERR_ROLE_ALREADY_COUNTED');
    await expectUnchanged(t, id, before);
    expect(before.decision.status).toBe('pending');

    expect((await sue.post(`/v1/cases/${id}/release`)).statusCode).toBe(200);
    expect((await ivy.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    const last = await ivy.post(`/v1/cases/${id}/verdicts`, APPROVE);
    expect(last.statusCode, last.body).toBe(201);
    expect(last.json()).toMatchObject({ case: { status: 'decided', outcome: 'allow' }, tally: { state: 'approved', approvals: 2 }, decision: { status: 'final', resolution: { outcome: 'allow', by: 'review' } } });
    const after = await caseState(t, id);
    // Same millisecond on the test clock: compare as a set.
    expect(after.verdicts.map((v) => [v.reviewer_id, v.role]).sort()).toEqual([
      ['ivy', 'iam_admin'],
      ['sam', 'security_analyst'],
    ]);
    expect(after.labels).toHaveLength(2);
  });

  it('a person holding both roles counts once, under one role', async () => {
    await start();
    const dual = await reviewer(t, 'dee', ['iam_admin', 'security_analyst']);
    const ivy = await reviewer(t, 'ivy', ['iam_admin']);
    const sam = await reviewer(t, 'sam', ['security_analyst']);
    const id = await openCase('four-eyes');

    expect((await dual.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    const first = await dual.post(`/v1/cases/${id}/verdicts`, APPROVE);
    expect(first.statusCode, first.body).toBe(201);
    const tally = first.json().tally as { state: string; approvals: number; rolesUsed: string[] };
    expect(tally).toMatchObject({ state: 'waiting', approvals: 1, needed: 2 });
    expect(tally.rolesUsed).toHaveLength(1);
    const countedRole = tally.rolesUsed[0]!;
    expect((await caseState(t, id)).verdicts.map((v) => [v.reviewer_id, v.role])).toEqual([['dee', countedRole]]);

    const before = await caseState(t, id);
    expectProblem(await dual.post(`/v1/cases/${id}/claim`), 409, 'LOOPGATE_ERR_ALREADY_VOTED');
    await expectUnchanged(t, id, before);

    // Whoever holds only the role dee was counted under is refused; the other role completes the quorum.
    const [same, other] = countedRole === 'iam_admin' ? [ivy, sam] : [sam, ivy];
    expect((await same.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    const claimed = await caseState(t, id);
    expectProblem(await same.post(`/v1/cases/${id}/verdicts`, APPROVE), 409, 'LOOPGATE_ERR_ROLE_ALREADY_COUNTED');
    await expectUnchanged(t, id, claimed);
    expect((await same.post(`/v1/cases/${id}/release`)).statusCode).toBe(200);
    expect((await other.post(`/v1/cases/${id}/claim`)).statusCode).toBe(200);
    const last = await other.post(`/v1/cases/${id}/verdicts`, APPROVE);
    expect(last.statusCode, last.body).toBe(201);
    expect(last.json()).toMatchObject({ case: { status: 'decided', outcome: 'allow' }, tally: { state: 'approved', approvals: 2 } });
  });
});
