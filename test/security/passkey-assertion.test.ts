/**
 * Threat: a replayed or tampered passkey assertion counts as a verdict. A verdict signed with a passkey is an
 * assertion over SHA-256 of the canonical verdict payload; its nonce is spent in the verdict's own transaction.
 * Checked: the same assertion again, the assertion on another challenge, a tampered signature or client data,
 * another reviewer's passkey, and a verdict changed after signing are all refused, and none of them writes
 * anything (no verdict, no label, the case and decision unchanged, no audit entry).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/stores.js';
import { buildHistory, FIREFOX_LINUX, login, startTestLoopgate, T0, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, enrolPasskey, passkeyVerdict, reviewer, type Reviewer } from '../helpers/reviewers.js';
import type { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const HOUR = 3_600_000;

describe.each(STORES)('passkey-signed verdicts on %s', (store) => {
  let t: TestLoopgate;
  afterEach(async () => {
    await t?.close();
  });

  async function setup() {
    t = await startTestLoopgate({ store });
    await buildHistory(t, 'alice', 20, T0);
    const sam = await reviewer(t, 'sam', ['security_analyst']);
    const kim = await reviewer(t, 'kim', ['security_analyst']);
    const samKey = await enrolPasskey(t, sam);
    const kimKey = await enrolPasskey(t, kim);
    return { sam, kim, samKey, kimKey };
  }

  async function riskyCase(device: string): Promise<{ caseId: string; decisionId: string }> {
    const d = await decide(t, login('alice', t.clock.now() - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: device }));
    expect(d.outcome).toBe('review');
    return { caseId: (await caseOf(t, d.id)).id, decisionId: d.id };
  }

  async function unchanged(caseId: string, decisionId: string, status = 'claimed'): Promise<void> {
    const c = await t.lg.store.db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
    expect(c.status).toBe(status);
    expect(await t.lg.store.db.selectFrom('verdicts').select('id').where('case_id', '=', caseId).execute()).toEqual([]);
    expect(await t.lg.store.db.selectFrom('labels').select('id').where('case_id', '=', caseId).execute()).toEqual([]);
    expect((await t.get(`/v1/decisions/${decisionId}`)).json().status).toBe('pending');
    expect((await t.get(`/v1/audit/search?action=case.verdict&case=${caseId}`)).json().entries).toEqual([]);
  }

  const deny = { verdict: 'deny', label: 'confirmed_risk', reason: 'not alice' };

  it('refuses the same assertion twice, and an assertion made for another challenge', async () => {
    const { sam, samKey } = await setup();
    const a = await riskyCase('tablet-a');
    await sam.post(`/v1/cases/${a.caseId}/claim`);
    const first = await passkeyVerdict(sam, samKey, a.caseId, deny);
    expect(first.res.statusCode, first.res.body).toBe(201);

    // Replayed as is on the same case: the case is closed; the nonce is spent anyway.
    const replay = await sam.post(`/v1/cases/${a.caseId}/verdicts`, { ...deny, nonce: first.challenge.nonce, proof: { type: 'webauthn', response: first.assertion } });
    expect(replay.statusCode).toBe(409);
    expect(['LOOPGATE_ERR_CASE_CLOSED', 'LOOPGATE_ERR_NONCE_REUSED']).toContain(replay.json().code);

    // Replayed on another case, with that case's fresh challenge: the signature is over the other payload.
    const b = await riskyCase('tablet-b');
    await sam.post(`/v1/cases/${b.caseId}/claim`);
    const fresh = (await sam.post(`/v1/cases/${b.caseId}/verdicts/challenge`, deny)).json();
    const moved = await sam.post(`/v1/cases/${b.caseId}/verdicts`, { ...deny, nonce: fresh.nonce, proof: { type: 'webauthn', response: first.assertion } });
    expect(moved.statusCode).toBe(401);
    expect(moved.json().code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');
    // The first case's spent nonce cannot be used for the second case either.
    const spent = await sam.post(`/v1/cases/${b.caseId}/verdicts`, { ...deny, nonce: first.challenge.nonce, proof: { type: 'webauthn', response: first.assertion } });
    expect(spent.statusCode).toBe(409);
    expect(spent.json().code).toBe('LOOPGATE_ERR_NONCE_REUSED');
    await unchanged(b.caseId, b.decisionId);
  });

  it('refuses a tampered signature or tampered client data, and the untouched assertion then works', async () => {
    const { sam, samKey } = await setup();
    const a = await riskyCase('tablet-c');
    await sam.post(`/v1/cases/${a.caseId}/claim`);
    for (const tamper of ['signature', 'clientData'] as const) {
      const bad = await passkeyVerdict(sam, samKey, a.caseId, deny, tamper);
      expect(bad.res.statusCode, tamper).toBe(401);
      expect(bad.res.json().code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');
      await unchanged(a.caseId, a.decisionId);
    }
    const good = await passkeyVerdict(sam, samKey, a.caseId, deny);
    expect(good.res.statusCode, good.res.body).toBe(201);
  });

  it('refuses an assertion by another reviewer’s passkey, and a verdict changed after it was signed', async () => {
    const { sam, kimKey, samKey } = await setup();
    const a = await riskyCase('tablet-d');
    await sam.post(`/v1/cases/${a.caseId}/claim`);
    const challenge = (await sam.post(`/v1/cases/${a.caseId}/verdicts/challenge`, deny)).json();
    // kim's authenticator signs sam's challenge (the options list sam's passkeys, so present none to the device).
    const foreign = (kimKey as SoftAuthenticator).get({ ...challenge.passkey, allowCredentials: [] });
    const other = await sam.post(`/v1/cases/${a.caseId}/verdicts`, { ...deny, nonce: challenge.nonce, proof: { type: 'webauthn', response: foreign } });
    expect(other.statusCode).toBe(401);
    expect(other.json().code).toBe('LOOPGATE_ERR_PASSKEY_INVALID');

    // Signed "deny", sent as "approve": refused before any signature counts.
    const signed = samKey.get(challenge.passkey);
    const changed = await sam.post(`/v1/cases/${a.caseId}/verdicts`, { verdict: 'approve', label: 'confirmed_safe', reason: 'not alice', nonce: challenge.nonce, proof: { type: 'webauthn', response: signed } });
    expect(changed.statusCode).toBe(409);
    expect(changed.json().code).toBe('LOOPGATE_ERR_PAYLOAD_CHANGED');
    await unchanged(a.caseId, a.decisionId);
  });

  it('keeps the assertion as the verdict’s proof, bound to the payload’s hash', async () => {
    const { sam, samKey } = await setup();
    const a = await riskyCase('tablet-e');
    await sam.post(`/v1/cases/${a.caseId}/claim`);
    const v = await passkeyVerdict(sam as Reviewer, samKey, a.caseId, deny);
    expect(v.res.statusCode).toBe(201);
    const row = await t.lg.store.db.selectFrom('verdicts').select('body').where('case_id', '=', a.caseId).executeTakeFirstOrThrow();
    const body = JSON.parse(row.body);
    expect(body.proof).toMatchObject({ type: 'webauthn', credential_id: samKey.credentialId, challenge: v.challenge.challenge });
    expect(body.proof.assertion).toEqual(JSON.parse(JSON.stringify(v.assertion)));
    const clientData = JSON.parse(Buffer.from(body.proof.assertion.response.clientDataJSON, 'base64url').toString());
    expect(clientData).toMatchObject({ type: 'webauthn.get', challenge: v.challenge.challenge });
  });
});
