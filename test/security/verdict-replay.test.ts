/**
 * Threat: a signed verdict is replayed, altered after it was signed, used by someone else, or used after it
 * expired; or the server's signature over a verdict does not bind what was decided.
 *
 * Checked, on both stores, through the HTTP API with the server-signature path (TOTP session, no passkey) on the
 * shipped fraud-review route: the challenge is SHA-256 of the RFC 8785 canonical payload (computed here
 * independently) and the payload binds the case, the decision, the exact event, the reviewer and the nonce; a
 * verdict with the nonce works once (also when two race), and the spent nonce is refused on another case (409
 * LOOPGATE_ERR_NONCE_REUSED); a verdict, label, reason or case that differs from the challenged payload is refused (409
 * LOOPGATE_ERR_PAYLOAD_CHANGED) without spending the nonce; another reviewer's nonce and an expired one are refused
 * (400 LOOPGATE_ERR_CHALLENGE_INVALID); the stored proof (a JWS) verifies with verifyVerdictJws against GET
 * /v1/keys/approval, and not against a modified payload. After every refusal the case, its verdicts, labels,
 * decision and audit trail are unchanged.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, reviewer, type Reviewer } from '../helpers/reviewers.js';
import { canonicalize } from '../../src/verify/canonical-json.js';
import { verifyVerdictJws, type VerdictJwk } from '../../src/verify/verdict.js';
import { caseState, expectProblem, expectUnchanged, largePayment } from './support.js';

const DENY = { verdict: 'deny', label: 'confirmed_risk', reason: 'payee is a known mule account' };

describe.each(STORES)('verdict replay on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  /** A fraud-review case for a payment of `subject`, claimed by `who`. */
  async function claimedCase(who: Reviewer, subject = 'erin'): Promise<{ id: string; decisionId: string }> {
    const d = await decide(t, largePayment(subject));
    const c = await caseOf(t, d.id);
    expect((await who.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);
    return { id: c.id as string, decisionId: d.id as string };
  }

  async function challenge(who: Reviewer, caseId: string, body: Record<string, unknown> = DENY): Promise<Record<string, any>> {
    const res = await who.post(`/v1/cases/${caseId}/verdicts/challenge`, body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }

  async function nonceUsed(nonce: string): Promise<boolean> {
    const row = await t.lg.store.db.selectFrom('challenges').select('used_at').where('id', '=', nonce).executeTakeFirstOrThrow();
    return row.used_at !== null;
  }

  it('the challenge is SHA-256 of the canonical payload; the verdict works once; its JWS verifies only for that payload', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await claimedCase(fay);
    const ch = await challenge(fay, c.id);

    const event = (await t.get(`/v1/decisions/${c.decisionId}`)).json().event;
    expect(ch.payload).toEqual({
      case_id: c.id,
      decision_id: c.decisionId,
      ...DENY,
      approved_sha256: createHash('sha256').update(canonicalize(event)).digest('base64url'),
      reviewer_id: 'fay',
      nonce: ch.nonce,
      time: new Date(t.clock.now()).toISOString(),
    });
    expect(ch.canonical).toBe(canonicalize(ch.payload));
    expect(ch.challenge).toBe(createHash('sha256').update(canonicalize(ch.payload), 'utf8').digest('base64url'));
    expect(await nonceUsed(ch.nonce)).toBe(false);

    const v = await fay.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce: ch.nonce });
    expect(v.statusCode, v.body).toBe(201);
    const verdict = v.json().verdict;
    expect(verdict.payload).toEqual(ch.payload);
    expect(verdict.proof).toMatchObject({ type: 'server_signature', alg: 'EdDSA' });
    expect(await nonceUsed(ch.nonce)).toBe(true);

    const keys = (await fay.get('/v1/keys/approval')).json().keys as VerdictJwk[];
    expect(keys).toHaveLength(1);
    expect(verdict.proof.kid).toBe(keys[0]!.kid);
    expect(await verifyVerdictJws(verdict.proof.jws, ch.payload, keys[0]!)).toBe(true);
    for (const change of [{ verdict: 'approve' }, { label: 'confirmed_safe' }, { reason: 'fine' }, { reviewer_id: 'fred' }, { case_id: c.id.replace(/.$/, (last) => (last === '0' ? '1' : '0')) }, { approved_sha256: 'x' }, { nonce: 'n' }]) {
      expect(await verifyVerdictJws(verdict.proof.jws, { ...ch.payload, ...change }, keys[0]!), JSON.stringify(change)).toBe(false);
    }
    // The stored verdict carries the same proof: the database copy verifies too.
    const row = await t.lg.store.db.selectFrom('verdicts').select('body').where('case_id', '=', c.id).executeTakeFirstOrThrow();
    const stored = JSON.parse(row.body) as { payload: unknown; proof: { jws: string } };
    expect(stored.proof.jws).toBe(verdict.proof.jws);
    expect(await verifyVerdictJws(stored.proof.jws, stored.payload, keys[0]!)).toBe(true);
  });

  it('a spent nonce is refused on another case (LOOPGATE_ERR_NONCE_REUSED), and that case’s own challenge still works', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const first = await claimedCase(fay, 'erin');
    const spent = (await challenge(fay, first.id)).nonce as string;
    expect((await fay.post(`/v1/cases/${first.id}/verdicts`, { ...DENY, nonce: spent })).statusCode).toBe(201);
    // On the same (now closed) case the case itself refuses.
    expectProblem(await fay.post(`/v1/cases/${first.id}/verdicts`, { ...DENY, nonce: spent }), 409, 'LOOPGATE_ERR_CASE_CLOSED');

    const second = await claimedCase(fay, 'otto');
    const fresh = (await challenge(fay, second.id)).nonce as string;
    const before = await caseState(t, second.id);
    expectProblem(await fay.post(`/v1/cases/${second.id}/verdicts`, { ...DENY, nonce: spent }), 409, 'LOOPGATE_ERR_NONCE_REUSED');
    await expectUnchanged(t, second.id, before);
    expect(await nonceUsed(fresh)).toBe(false);

    const v = await fay.post(`/v1/cases/${second.id}/verdicts`, { ...DENY, nonce: fresh });
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().verdict.payload).toMatchObject({ case_id: second.id, nonce: fresh });
  });

  it('a verdict, label, reason or case that differs from the challenged payload is refused, without spending the nonce', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await claimedCase(fay);
    const { nonce } = await challenge(fay, c.id);
    const before = await caseState(t, c.id);
    for (const changed of [
      { ...DENY, verdict: 'approve' },
      { ...DENY, label: 'benign_true_positive' },
      { ...DENY, reason: 'payee is a known mule account!' },
      { ...DENY, verdict: 'escalate' },
    ]) {
      expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, { ...changed, nonce }), 409, 'LOOPGATE_ERR_PAYLOAD_CHANGED');
    }
    // Nor is the challenge good for another case of the same reviewer.
    const other = await claimedCase(fay, 'otto');
    const otherBefore = await caseState(t, other.id);
    expectProblem(await fay.post(`/v1/cases/${other.id}/verdicts`, { ...DENY, nonce }), 409, 'LOOPGATE_ERR_PAYLOAD_CHANGED');
    await expectUnchanged(t, other.id, otherBefore);
    await expectUnchanged(t, c.id, before);
    expect(await nonceUsed(nonce)).toBe(false);
    // What was challenged is accepted.
    expect((await fay.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce })).statusCode).toBe(201);
  });

  it('two verdicts racing with one nonce: one counts', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await claimedCase(fay);
    const { nonce } = await challenge(fay, c.id);
    const answers = await Promise.all([0, 1].map(() => fay.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce })));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409]);
    expect(['LOOPGATE_ERR_NONCE_REUSED', 'LOOPGATE_ERR_ALREADY_VOTED', 'LOOPGATE_ERR_CONFLICT', 'LOOPGATE_ERR_CASE_CLOSED']).toContain(answers.find((a) => a.statusCode === 409)!.json().code);
    const after = await caseState(t, c.id);
    expect(after.verdicts).toHaveLength(1);
    expect(after.labels).toHaveLength(1);
    expect(after.audit.filter((a) => a === 'case.verdict')).toHaveLength(1);
  });

  it('a nonce issued to another reviewer is refused (LOOPGATE_ERR_CHALLENGE_INVALID)', async () => {
    t = await startTestLoopgate({ store });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const fred = await reviewer(t, 'fred', ['fraud_analyst']);
    const c = await claimedCase(fay);
    const { nonce } = await challenge(fay, c.id);
    expect((await fay.post(`/v1/cases/${c.id}/release`)).statusCode).toBe(200);
    expect((await fred.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);

    const before = await caseState(t, c.id);
    expectProblem(await fred.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce }), 400, 'LOOPGATE_ERR_CHALLENGE_INVALID');
    // A nonce nobody was issued is refused the same way.
    expectProblem(await fred.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce: '01900000-0000-7000-8000-000000000000' }), 400, 'LOOPGATE_ERR_CHALLENGE_INVALID');
    await expectUnchanged(t, c.id, before);
    expect(await nonceUsed(nonce)).toBe(false);
    expect((await fred.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce: (await challenge(fred, c.id)).nonce })).statusCode).toBe(201);
  });

  it('an expired challenge is refused (LOOPGATE_ERR_CHALLENGE_INVALID); a fresh one works', async () => {
    t = await startTestLoopgate({ store, overrides: { 'review.verdict_challenge_ttl_seconds': 60 } });
    const fay = await reviewer(t, 'fay', ['fraud_analyst']);
    const c = await claimedCase(fay);
    const ch = await challenge(fay, c.id);
    expect(Date.parse(ch.expires_at)).toBe(t.clock.now() + 60_000);

    t.clock.advance(60_000);
    const before = await caseState(t, c.id);
    expectProblem(await fay.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce: ch.nonce }), 400, 'LOOPGATE_ERR_CHALLENGE_INVALID');
    await expectUnchanged(t, c.id, before);
    expect(await nonceUsed(ch.nonce)).toBe(false);

    const v = await fay.post(`/v1/cases/${c.id}/verdicts`, { ...DENY, nonce: (await challenge(fay, c.id)).nonce });
    expect(v.statusCode, v.body).toBe(201);
  });
});
