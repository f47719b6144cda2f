/**
 * Human review through the public API, on both stores: the seed scenarios from a risky event to a final decision,
 * step-up before a verdict, signed verdicts, what a confirmed-safe approval teaches, escalation, deadlines, and
 * how the waiting caller learns the outcome (poll, server-sent events, webhooks).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STORES } from '../helpers/stores.js';
import { buildHistory, FIREFOX_LINUX, iso, login, startTestLoopgate, T0, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, enrolPasskey, passkeyVerdict, reviewer } from '../helpers/reviewers.js';
import { verifyVerdictJws, type VerdictJwk } from '../../src/verify/verdict.js';
import { verifyWebhookSignature } from '../../src/services/webhooks.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;

describe.each(STORES)('human review on %s', (store) => {
  let t: TestLoopgate;
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
    await t?.close();
  });

  it('scenario 1: risky login → case → analyst claims → step-up → signed verdict → final → baseline learns → next time lower', async () => {
    t = await startTestLoopgate({ store });
    await buildHistory(t, 'alice', 30, T0);
    const analyst = await reviewer(t, 'sam', ['security_analyst'], { region: 'EU' });
    const elsewhere = await reviewer(t, 'kim', ['security_analyst'], { region: 'US' });

    const newLaptop = login('alice', T0 - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'alice-new-laptop' }, { subject: { id: 'alice', region: 'EU' } });
    const d = await decide(t, newLaptop);
    expect(d.outcome).toBe('review');
    expect(d.status).toBe('pending');

    // The case is in the EU analyst's queue and not in the US analyst's (the route's scope).
    const queue = (await analyst.get('/v1/cases?status=open')).json().cases;
    expect(queue.map((c: { decision_id: string }) => c.decision_id)).toEqual([d.id]);
    expect((await elsewhere.get('/v1/cases')).json().cases).toEqual([]);
    const caseId = queue[0].id as string;
    expect((await elsewhere.get(`/v1/cases/${caseId}`)).statusCode).toBe(404);

    // The case shows the event, why, and the baseline beside it.
    const view = (await analyst.get(`/v1/cases/${caseId}`)).json();
    expect(view).toMatchObject({ status: 'open', route: { name: 'security-review' }, recommendation: { verdict: 'deny' }, you: { can_decide: true, roles: ['security_analyst'] } });
    expect(view.risk.reasons.map((r: { sentence: string }) => r.sentence)).toContainEqual(expect.stringMatching(/^device alice-new-laptop never seen/));
    const device = view.baseline.comparison.find((f: { feature: string }) => f.feature === 'device_id');
    expect(device).toMatchObject({ value: 'alice-new-laptop', seen: false, count: 0 });
    expect(view.baseline.comparison.find((f: { feature: string }) => f.feature === 'country')).toMatchObject({ seen: true });
    expect(view.baseline.logins).toBe(30);
    expect(view.timeline.map((e: { action: string }) => e.action)).toEqual(['case.opened']);

    // The analyst's TOTP proof is older than the route's 15 minutes.
    t.clock.advance(16 * MINUTE);
    expect((await analyst.post(`/v1/cases/${caseId}/claim`)).statusCode).toBe(200);
    const stale = await analyst.post(`/v1/cases/${caseId}/verdicts`, { verdict: 'approve', label: 'confirmed_safe', reason: 'called alice: new work laptop' });
    expect(stale.statusCode).toBe(401);
    expect(stale.json()).toMatchObject({ code: 'LOOPGATE_ERR_STEP_UP_REQUIRED', error: 'insufficient_user_authentication', max_age: 900 });
    expect(stale.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_user_authentication".*acr_values="urn:loopgate:acr:aal2 urn:loopgate:acr:aal3".*max_age="900"/);

    // Overriding the machine's "deny" needs a reason.
    await analyst.stepUp();
    const bare = await analyst.post(`/v1/cases/${caseId}/verdicts`, { verdict: 'approve', label: 'confirmed_safe' });
    expect(bare.statusCode).toBe(400);
    expect(bare.json().code).toBe('LOOPGATE_ERR_REASON_REQUIRED');

    const verdict = await analyst.post(`/v1/cases/${caseId}/verdicts`, { verdict: 'approve', label: 'confirmed_safe', reason: 'called alice: new work laptop' });
    expect(verdict.statusCode, verdict.body).toBe(201);
    const v = verdict.json();
    expect(v.case).toMatchObject({ status: 'decided', outcome: 'allow' });
    expect(v.decision).toMatchObject({ id: d.id, status: 'final', resolution: { outcome: 'allow', by: 'review', reference: caseId, learned: true } });
    // The server's signature binds the verdict to exactly this event and reviewer.
    expect(v.verdict.payload).toMatchObject({ case_id: caseId, decision_id: d.id, verdict: 'approve', label: 'confirmed_safe', reviewer_id: 'sam' });
    const jwks = (await analyst.get('/v1/keys/approval')).json().keys as VerdictJwk[];
    expect(await verifyVerdictJws(v.verdict.proof.jws, v.verdict.payload, jwks[0]!)).toBe(true);
    expect(await verifyVerdictJws(v.verdict.proof.jws, { ...v.verdict.payload, verdict: 'deny' }, jwks[0]!)).toBe(false);

    // The waiting application polls the decision: final.
    expect((await t.get(`/v1/decisions/${d.id}`)).json()).toMatchObject({ status: 'final', resolution: { outcome: 'allow' } });

    // Every step is in the audit log, with the reviewer's assurance.
    const timeline = (await analyst.get(`/v1/cases/${caseId}`)).json().timeline.map((e: { action: string }) => e.action);
    expect(timeline).toEqual(['case.opened', 'case.claimed', 'case.verdict', 'decision.resolved']);
    const entry = (await t.get(`/v1/audit/search?action=case.verdict&case=${caseId}`)).json().entries[0].entry;
    expect(entry.actor).toMatchObject({ kind: 'human', id: 'sam', assurance: { acr: 'urn:loopgate:acr:aal2', amr: ['pwd', 'otp'] } });
    expect(entry.reason).toBe('called alice: new work laptop');

    // The new laptop is now a known device: the same login scores lower and is no longer sent to a person.
    const again = await decide(t, { ...newLaptop, time: iso(t.clock.now()) });
    expect(again.risk.score).toBeLessThan(d.risk.score);
    expect(again.outcome).not.toBe('review');
    expect(again.risk.reasons.map((r: { sentence: string }) => r.sentence)).not.toContainEqual(expect.stringMatching(/^device alice-new-laptop never seen/));

    // A label with its lineage was written for the learning pipeline.
    const labels = await t.lg.store.db.selectFrom('labels').selectAll().where('decision_id', '=', d.id).execute();
    expect(labels).toHaveLength(1);
    expect(JSON.parse(labels[0]!.body)).toMatchObject({
      label: 'confirmed_safe',
      verdict: 'approve',
      reviewer: { id: 'sam', role: 'security_analyst', assurance: { acr: 'urn:loopgate:acr:aal2' } },
      machine: { outcome: 'review', recommendation: 'deny' },
      policy: { version: d.policy.version },
      risk: { score: d.risk.score, level: 'high' },
    });
  });

  it('scenario 3: a fraud analyst escalates a payment to security, who denies it; the label says confirmed_risk', async () => {
    t = await startTestLoopgate({ store });
    const fraud = await reviewer(t, 'fay', ['fraud_analyst']);
    const security = await reviewer(t, 'sol', ['security_analyst']);
    const d = await decide(t, { type: 'transaction', subject: { id: 'erin' }, time: iso(T0), context: { ip: '81.2.69.170' }, amount: 25000, currency: 'EUR', payee: { id: 'acme' } });
    expect(d.outcome).toBe('review');
    const c = await caseOf(t, d.id);
    // Security analysts do not see fraud cases until they are escalated to them.
    expect((await security.get(`/v1/cases/${c.id}`)).statusCode).toBe(404);

    expect((await fraud.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);
    const noReason = await fraud.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'escalate', label: 'unsure' });
    expect(noReason.json().code).toBe('LOOPGATE_ERR_REASON_REQUIRED');
    const esc = await fraud.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'escalate', label: 'unsure', reason: 'payee matches a mule pattern; needs account takeover check' });
    expect(esc.statusCode, esc.body).toBe(201);
    expect(esc.json().case).toMatchObject({ status: 'escalated', escalations: 1, reviewers: ['security_analyst'] });
    expect((await t.get(`/v1/decisions/${d.id}`)).json().status).toBe('pending');

    // The fraud analyst cannot vote twice; the security analyst now sees and decides the case.
    expect((await fraud.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(404);
    expect((await security.post(`/v1/cases/${c.id}/claim`)).statusCode).toBe(200);
    const deny = await security.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'deny', label: 'confirmed_risk', reason: 'session hijacked from a new ASN' });
    expect(deny.statusCode, deny.body).toBe(201);
    expect(deny.json().decision).toMatchObject({ status: 'final', resolution: { outcome: 'deny', by: 'review', learned: false } });
    const labels = await t.lg.store.db.selectFrom('labels').select(['label']).where('decision_id', '=', d.id).orderBy('created_at').execute();
    expect(labels.map((l) => l.label)).toEqual(['unsure', 'confirmed_risk']);
  });

  it('scenario 5: a privileged role change needs two people from two roles, each signing with a passkey (AAL3)', async () => {
    t = await startTestLoopgate({ store });
    const iam = await reviewer(t, 'ivy', ['iam_admin']);
    const iam2 = await reviewer(t, 'ian', ['iam_admin']);
    const sec = await reviewer(t, 'sol', ['security_analyst']);
    const [ivyKey, solKey] = [await enrolPasskey(t, iam), await enrolPasskey(t, sec)];
    const d = await decide(t, { type: 'role.change', subject: { id: 'erin' }, actor: { kind: 'human', id: 'hr-bot-owner' }, time: iso(t.clock.now()), roles: { before: ['analyst'], after: ['analyst', 'billing_admin'] } });
    expect(d.review.route).toMatchObject({ name: 'privileged-change', quorum: 2, distinct_roles: true });
    const c = await caseOf(t, d.id);

    // TOTP (AAL2) is not enough for this route: a passkey is. (Enrolling raised each session to AAL3 for a while;
    // five minutes later a TOTP step-up leaves it at AAL2.)
    t.clock.advance(6 * MINUTE);
    await iam.stepUp();
    await iam.post(`/v1/cases/${c.id}/claim`);
    const totpOnly = await iam.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'approve', label: 'confirmed_safe', reason: 'ticket CHG-42' });
    expect(totpOnly.statusCode).toBe(401);
    expect(totpOnly.headers['www-authenticate']).toMatch(/acr_values="urn:loopgate:acr:aal3"/);
    const first = await passkeyVerdict(iam, ivyKey, c.id, { verdict: 'approve', label: 'confirmed_safe', reason: 'ticket CHG-42' });
    expect(first.res.statusCode, first.res.body).toBe(201);
    expect(first.res.json()).toMatchObject({ case: { status: 'open' }, tally: { state: 'waiting', approvals: 1, needed: 2 }, verdict: { proof: { type: 'webauthn' } } });
    expect((await t.get(`/v1/decisions/${d.id}`)).json().status).toBe('pending');

    // A second IAM admin does not make two roles.
    await iam2.post(`/v1/cases/${c.id}/claim`);
    const sameRole = await iam2.post(`/v1/cases/${c.id}/verdicts/challenge`, { verdict: 'approve', label: 'confirmed_safe', reason: 'ok' });
    expect(sameRole.statusCode).toBe(409);
    expect(sameRole.json().code).toBe('LOOPGATE_ERR_ROLE_ALREADY_COUNTED');
    await iam2.post(`/v1/cases/${c.id}/release`);

    await sec.post(`/v1/cases/${c.id}/claim`);
    const second = await passkeyVerdict(sec, solKey, c.id, { verdict: 'approve', label: 'confirmed_safe', reason: 'matches the approved change' });
    expect(second.res.statusCode, second.res.body).toBe(201);
    expect(second.res.json()).toMatchObject({ case: { status: 'decided', outcome: 'allow' }, tally: { state: 'approved', approvals: 2 }, decision: { status: 'final', resolution: { outcome: 'allow', by: 'review' } } });
    // The stored proof is the assertion over SHA-256 of the canonical payload, with the reviewer's AAL3.
    const rows = await t.lg.store.db.selectFrom('verdicts').select(['reviewer_id', 'role', 'body']).where('case_id', '=', c.id).orderBy('created_at').execute();
    expect(rows.map((r) => [r.reviewer_id, r.role])).toEqual([['ivy', 'iam_admin'], ['sol', 'security_analyst']]);
    const proof = JSON.parse(rows[1]!.body);
    expect(proof.proof.challenge).toBe(second.challenge.challenge);
    expect(proof.assurance.acr).toBe('urn:loopgate:acr:aal3');
  });

  it('scenario 4: an access request reaches only the requester’s manager, who approves it', async () => {
    t = await startTestLoopgate({ store });
    const mona = await reviewer(t, 'mona', ['manager']);
    const other = await reviewer(t, 'otto', ['manager']);
    const d = await decide(t, { type: 'access.request', subject: { id: 'erin', manager: 'mona' }, time: iso(t.clock.now()), entitlement: { id: 'finance-reports', application: 'erp' }, justification: 'quarter close' });
    expect(d.review.route.name).toBe('manager-approval');
    expect((await other.get('/v1/cases')).json().cases).toEqual([]);
    const [c] = (await mona.get('/v1/cases')).json().cases;
    expect(c).toMatchObject({ decision_id: d.id, route: 'manager-approval', subject: { id: 'erin' } });
    await mona.post(`/v1/cases/${c.id}/claim`);
    await mona.post(`/v1/cases/${c.id}/comments`, { text: 'checked with finance' });
    const v = await mona.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'approve', label: 'confirmed_safe' });
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().decision.resolution).toMatchObject({ outcome: 'allow', by: 'review' });
    const timeline = (await mona.get(`/v1/cases/${c.id}`)).json().timeline;
    expect(timeline.find((e: { action: string }) => e.action === 'case.commented')).toMatchObject({ actor: { id: 'mona' }, data: { text: 'checked with finance' } });
  });

  it('deadlines: a warning, then the route’s on-timeout outcome (escalate, then deny), recorded and announced by webhook', async () => {
    t = await startTestLoopgate({ store });
    const received: Array<{ type: string; data: Record<string, unknown> }> = [];
    const raw: Array<{ body: string; headers: Record<string, string | string[] | undefined> }> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        raw.push({ body, headers: req.headers });
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const hook = (await t.post('/v1/webhooks', { url: `http://127.0.0.1:${port}/hook`, events: ['*'] })).json();

    const d = await decide(t, { type: 'transaction', subject: { id: 'erin' }, time: iso(T0), context: { ip: '81.2.69.170' }, amount: 25000, currency: 'EUR', payee: { id: 'acme' } });
    const c = await caseOf(t, d.id);
    // fraud-review: 2 h, warning 30 min before, then escalate to security analysts for 1 h, then deny.
    t.clock.advance(90 * MINUTE);
    expect(await t.lg.cases.sweep()).toMatchObject({ warned: 1, timedOut: 0, escalated: 0 });
    expect(await t.lg.cases.sweep()).toMatchObject({ warned: 0 });
    t.clock.advance(31 * MINUTE);
    expect(await t.lg.cases.sweep()).toMatchObject({ escalated: 1 });
    expect((await t.get(`/v1/cases/${c.id}`)).json()).toMatchObject({ status: 'escalated', reviewers: ['security_analyst'] });
    t.clock.advance(61 * MINUTE);
    expect(await t.lg.cases.sweep()).toMatchObject({ timedOut: 1 });
    const final = (await t.get(`/v1/decisions/${d.id}`)).json();
    expect(final).toMatchObject({ status: 'final', resolution: { outcome: 'deny', by: 'timeout', reference: c.id } });
    const timeline = (await t.get(`/v1/cases/${c.id}`)).json().timeline.map((e: { action: string }) => e.action);
    expect(timeline).toEqual(['case.opened', 'case.deadline_warning', 'case.escalated', 'case.expired', 'decision.resolved']);

    await t.lg.webhooks.deliverDue();
    expect(received.map((r) => r.type)).toEqual(['case.opened', 'case.deadline_warning', 'case.escalated', 'case.expired', 'decision.final']);
    expect(received.at(-1)!.data).toMatchObject({ decision_id: d.id, outcome: 'deny', case_id: c.id });
    // Each delivery is signed (Standard Webhooks) with the webhook's secret.
    for (const r of raw) {
      const h = r.headers as Record<string, string>;
      expect(verifyWebhookSignature(hook.secret, h['webhook-id']!, h['webhook-timestamp']!, r.body, h['webhook-signature']!)).toBe(true);
    }
  });

  it('a reviewer adds a time-limited baseline exception with an approval: it applies until it ends, and is recorded', async () => {
    t = await startTestLoopgate({ store });
    await buildHistory(t, 'bea', 30, T0);
    const analyst = await reviewer(t, 'sam', ['security_analyst']);
    const brazil = (time: number) => login('bea', time, { ip: '200.160.2.9', user_agent: FIREFOX_LINUX });
    t.clock.advance(2 * HOUR);
    const d = await decide(t, brazil(t.clock.now()));
    expect(d.outcome).toBe('review');
    const c = await caseOf(t, d.id);
    await analyst.stepUp();
    await analyst.post(`/v1/cases/${c.id}/claim`);
    const until = iso(t.clock.now() + 10 * 86_400_000);
    // Not confirmed_safe: nothing is learned, so only the exception can explain what follows.
    const v = await analyst.post(`/v1/cases/${c.id}/verdicts`, {
      verdict: 'approve',
      label: 'benign_true_positive',
      reason: 'bea is at the São Paulo office this week',
      baseline_exception: { feature: 'country', until, reason: 'travelling in Brazil' },
    });
    expect(v.statusCode, v.body).toBe(201);
    expect(v.json().decision.resolution).toMatchObject({ outcome: 'allow', learned: false });
    const added = (await t.get(`/v1/audit/search?action=baseline.exception_added`)).json().entries[0].entry;
    expect(added).toMatchObject({ actor: { id: 'sam' }, reason: 'travelling in Brazil', data: { feature: 'country', value: 'BR', until } });
    expect((await analyst.get(`/v1/cases/${c.id}`)).json().baseline.exceptions).toEqual([{ feature: 'country', value: 'BR', until, reason: 'travelling in Brazil', created_by: 'sam' }]);

    // While it holds, a sign-in from Brazil on her usual laptop is not held against her for the country.
    t.clock.advance(3 * 86_400_000);
    const during = await decide(t, login('bea', t.clock.now(), { ip: '200.160.2.9' }));
    expect(during.risk.facts.new_country).toBeUndefined();
    expect(during.risk.reasons.find((r: { signal: string }) => r.signal === 'network').contribution).toBeLessThanOrEqual(0);
    expect(during.risk.reasons.map((r: { sentence: string }) => r.sentence)).toContainEqual(expect.stringMatching(/^baseline exception: country BR expected for bea until/));
    expect(during.outcome).toBe('allow');

    // Once it has ended, Brazil is as new as before.
    t.clock.advance(8 * 86_400_000);
    const after = await decide(t, login('bea', t.clock.now(), { ip: '200.160.2.9' }));
    expect(after.risk.facts.new_country).toBe(true);
    expect(after.outcome).not.toBe('allow');
  });

  it('a claim is a lease: it expires, and the case goes back to the queue', async () => {
    t = await startTestLoopgate({ store, overrides: { 'review.lease_minutes': 5 } });
    await buildHistory(t, 'bob', 20, T0);
    const a = await reviewer(t, 'ann', ['security_analyst']);
    const b = await reviewer(t, 'ben', ['security_analyst']);
    const d = await decide(t, login('bob', T0 - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'bob-tablet' }));
    const c = await caseOf(t, d.id);
    expect((await a.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ status: 'claimed', claimed_by: 'ann' });
    const taken = await b.post(`/v1/cases/${c.id}/claim`);
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('LOOPGATE_ERR_CASE_CLAIMED');
    t.clock.advance(6 * MINUTE);
    expect(await t.lg.cases.sweep()).toMatchObject({ leasesEnded: 1 });
    expect((await t.get(`/v1/cases/${c.id}`)).json()).toMatchObject({ status: 'open', claimed_by: null });
    expect((await b.post(`/v1/cases/${c.id}/claim`)).json()).toMatchObject({ claimed_by: 'ben' });
    // Released, it is open again.
    expect((await b.post(`/v1/cases/${c.id}/release`)).json()).toMatchObject({ status: 'open' });
  });

  it('tells a waiting caller over server-sent events, and the reviewers’ stream shows the case', async () => {
    t = await startTestLoopgate({ store });
    await buildHistory(t, 'dan', 20, T0);
    const analyst = await reviewer(t, 'sue', ['security_analyst']);
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const reviewerStream = await fetch(`${address}/v1/stream`, { headers: analyst.headers });
    expect(reviewerStream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const d = await decide(t, login('dan', T0 - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'dan-tablet' }));
    const c = await caseOf(t, d.id);
    const waiting = fetch(`${address}/v1/decisions/${d.id}/events`, { headers: { authorization: `Bearer ${t.apiKey}` } }).then((r) => r.text());
    await analyst.post(`/v1/cases/${c.id}/claim`);
    await analyst.post(`/v1/cases/${c.id}/verdicts`, { verdict: 'deny', label: 'confirmed_risk' });
    const text = await waiting;
    expect(text).toMatch(/event: decision\.final\n/);
    const data = JSON.parse(/data: (.*)\n/.exec(text)![1]!);
    expect(data).toMatchObject({ id: d.id, status: 'final', resolution: { outcome: 'deny', by: 'review' } });

    const reader = reviewerStream.body!.getReader();
    let seen = '';
    while (!seen.includes('event: case.decided')) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toMatch(/event: case\.opened\n/);
    expect(seen).toMatch(/event: case\.claimed\n/);
    await reader.cancel();

    // Already final: the stream answers at once.
    const done = await (await fetch(`${address}/v1/decisions/${d.id}/events`, { headers: { authorization: `Bearer ${t.apiKey}` } })).text();
    expect(done).toMatch(/event: decision\.final/);
  });
});
