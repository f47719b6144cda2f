/**
 * Webhooks on both stores, against a real HTTP receiver on 127.0.0.1: signed deliveries a receiver can verify,
 * subscriptions by event type, retries with exponential backoff (same webhook-id every time), the dead-letter list
 * and redelivery, timeouts and refused connections, delivery rows committed with the change they announce, one
 * worker per delivery, and the audit entries of what operators do (never with the secret).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditActor } from '../../src/core/audit/entry.js';
import { uuidv7 } from '../../src/core/clock.js';
import { LoopgateError } from '../../src/core/errors.js';
import { systemRandom } from '../../src/loopgate.js';
import type { Logger } from '../../src/services/logger.js';
import { verifyWebhookSignature, WebhookService, type OutboundEvent, type WebhookOptions } from '../../src/services/webhooks.js';
import { iso, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { STORES } from '../helpers/stores.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with a request: answer with a status, or never answer. */
type Reply = number | 'hang';

/** A webhook endpoint: records every request and answers as the test says. */
class Receiver {
  readonly received: Received[] = [];
  reply: (r: Received) => Reply = () => 204;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        receiver.received.push(r);
        const reply = receiver.reply(r);
        if (reply === 'hang') return;
        res.writeHead(reply, { 'content-type': 'text/plain' }).end(reply >= 300 ? `no thanks (${reply})` : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A logger that keeps every line (with its bindings), to show that no secret is ever logged. */
function recordingLogger(lines: unknown[], bindings: Record<string, unknown> = {}): Logger {
  const log = (level: string) => (obj: object, msg?: string) => lines.push({ level, ...bindings, ...obj, msg });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (b) => recordingLogger(lines, { ...bindings, ...b }) };
}

const ADMIN: AuditActor = { kind: 'human', id: 'ops-admin' };

const OPTIONS: WebhookOptions = { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 3000, timeoutMs: 300, pollIntervalMs: 20 };

describe.each(STORES)('webhooks on %s', (store) => {
  let t: TestLoopgate;
  let receiver: Receiver;
  let logLines: unknown[];
  let webhooks: WebhookService;

  const service = (options: Partial<WebhookOptions> = {}) =>
    new WebhookService({ store: t.lg.store, clock: t.clock, random: systemRandom, logger: recordingLogger(logLines) }, { ...OPTIONS, ...options });

  const event = (type: string, data: Record<string, unknown> = {}): OutboundEvent => ({
    type,
    id: uuidv7(t.clock.now(), systemRandom),
    time: iso(t.clock.now()),
    data,
  });

  /** Commits an event's delivery rows on their own (as a caller would, with its change). */
  const announce = async (e: OutboundEvent, svc = webhooks) => {
    await t.lg.store.write(await svc.deliveriesFor(e));
  };

  const deliveries = () => t.lg.store.db.selectFrom('webhook_deliveries').selectAll().orderBy('created_at').orderBy('id').execute();

  const only = async () => {
    const rows = await deliveries();
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };

  const expectError = async (p: Promise<unknown>, code: string, pointer?: string) => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LoopgateError);
    expect((e as LoopgateError).code).toBe(code);
    if (pointer !== undefined) expect((e as LoopgateError).errors?.[0]).toMatchObject({ pointer });
  };

  beforeEach(async () => {
    t = await startTestLoopgate({ store });
    receiver = await Receiver.start();
    logLines = [];
    webhooks = service();
  });
  afterEach(async () => {
    await webhooks.stop();
    await receiver.close();
    await t.close();
  });

  it('delivers an event signed so that the receiver can verify it', async () => {
    const hook = await webhooks.create({ url: `${receiver.url}/hooks`, events: ['decision.final'] }, ADMIN);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(hook.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);

    const e = event('decision.final', { decision_id: 'd-1', outcome: 'allow' });
    await announce(e);
    expect(await webhooks.deliverDue()).toBe(1);

    expect(receiver.received).toHaveLength(1);
    const [req] = receiver.received;
    const row = await only();
    expect(req!.path).toBe('/hooks');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['webhook-id']).toBe(row.id);
    const timestamp = req!.headers['webhook-timestamp'] as string;
    expect(timestamp).toBe(String(Math.floor(t.clock.now() / 1000)));
    const signature = req!.headers['webhook-signature'] as string;
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    expect(verifyWebhookSignature(hook.secret, row.id, timestamp, req!.body, signature, { nowSeconds: Number(timestamp) })).toBe(true);
    // Anything changed, and the signature no longer holds.
    expect(verifyWebhookSignature(hook.secret, row.id, timestamp, req!.body.replace('allow', 'deny!'), signature)).toBe(false);
    expect(verifyWebhookSignature(hook.secret, 'another-id', timestamp, req!.body, signature)).toBe(false);
    expect(verifyWebhookSignature(hook.secret, row.id, Number(timestamp) + 1, req!.body, signature)).toBe(false);
    const other = await webhooks.create({ url: `${receiver.url}/other`, events: ['*'] }, ADMIN);
    expect(verifyWebhookSignature(other.secret, row.id, timestamp, req!.body, signature)).toBe(false);
    // A replayed request is refused once it is older than the tolerance; several signatures, one valid, pass.
    expect(verifyWebhookSignature(hook.secret, row.id, timestamp, req!.body, signature, { nowSeconds: Number(timestamp) + 301 })).toBe(false);
    expect(verifyWebhookSignature(hook.secret, row.id, timestamp, req!.body, `v1,AAAA ${signature}`)).toBe(true);

    expect(JSON.parse(req!.body)).toEqual({ type: 'decision.final', timestamp: e.time, id: e.id, data: { decision_id: 'd-1', outcome: 'allow' } });
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, delivered_at: t.clock.now(), last_error: null, event_type: 'decision.final' });

    // Delivered is done: nothing is sent again.
    t.clock.advance(3_600_000);
    expect(await webhooks.deliverDue()).toBe(0);
    expect(receiver.received).toHaveLength(1);
  });

  it('sends each webhook only the event types it subscribed to', async () => {
    const decisions = await webhooks.create({ url: `${receiver.url}/decisions`, events: ['decision.final'] }, ADMIN);
    const cases = await webhooks.create({ url: `${receiver.url}/cases`, events: ['case.created', 'case.escalated'] }, ADMIN);
    const everything = await webhooks.create({ url: `${receiver.url}/all`, events: ['*'] }, ADMIN);
    const removed = await webhooks.create({ url: `${receiver.url}/removed`, events: ['*'] }, ADMIN);
    await webhooks.remove(removed.id, ADMIN);

    await announce(event('case.created'));
    await announce(event('decision.final'));
    await announce(event('case.deadline_warning'));
    expect(await webhooks.deliveriesFor(event('nobody.listens'))).toHaveLength(1); // only the '*' webhook

    const byHook = (rows: Array<{ webhook_id: string; event_type: string }>, id: string) =>
      rows.filter((r) => r.webhook_id === id).map((r) => r.event_type).sort();
    const rows = await deliveries();
    expect(byHook(rows, decisions.id)).toEqual(['decision.final']);
    expect(byHook(rows, cases.id)).toEqual(['case.created']);
    expect(byHook(rows, everything.id)).toEqual(['case.created', 'case.deadline_warning', 'decision.final']);
    expect(byHook(rows, removed.id)).toEqual([]);

    expect(await webhooks.deliverDue()).toBe(5);
    const received = receiver.received.map((r) => `${r.path} ${(JSON.parse(r.body) as { type: string }).type}`).sort();
    expect(received).toEqual([
      '/all case.created',
      '/all case.deadline_warning',
      '/all decision.final',
      '/cases case.created',
      '/decisions decision.final',
    ]);
  });

  it('retries a failing delivery with exponential backoff, with the same webhook-id every time', async () => {
    const hook = await webhooks.create({ url: `${receiver.url}/flaky`, events: ['case.escalated'] }, ADMIN);
    let calls = 0;
    receiver.reply = () => (++calls <= 2 ? 500 : 200);
    await announce(event('case.escalated', { case_id: 'c-1' }));

    expect(await webhooks.deliverDue()).toBe(1);
    let row = await only();
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: 'HTTP 500: no thanks (500)' });
    // First retry after base delay ±20%.
    expect(row.next_attempt_at - t.clock.now()).toBeGreaterThanOrEqual(800);
    expect(row.next_attempt_at - t.clock.now()).toBeLessThanOrEqual(1200);

    // Not due yet: nothing is sent.
    t.clock.advance(row.next_attempt_at - t.clock.now() - 1);
    expect(await webhooks.deliverDue()).toBe(0);
    t.clock.advance(1);
    expect(await webhooks.deliverDue()).toBe(1);
    row = await only();
    expect(row).toMatchObject({ status: 'pending', attempts: 2 });
    // Second retry after twice the base delay ±20%.
    expect(row.next_attempt_at - t.clock.now()).toBeGreaterThanOrEqual(1600);
    expect(row.next_attempt_at - t.clock.now()).toBeLessThanOrEqual(2400);

    t.clock.advance(row.next_attempt_at - t.clock.now());
    expect(await webhooks.deliverDue()).toBe(1);
    row = await only();
    expect(row).toMatchObject({ status: 'delivered', attempts: 3, delivered_at: t.clock.now(), last_error: null });

    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([row.id]));
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    // Each attempt is signed afresh with its own timestamp, and each signature verifies.
    const timestamps = receiver.received.map((r) => Number(r.headers['webhook-timestamp']));
    expect(timestamps[0]! < timestamps[2]!).toBe(true);
    for (const r of receiver.received) {
      expect(verifyWebhookSignature(hook.secret, row.id, r.headers['webhook-timestamp'] as string, r.body, r.headers['webhook-signature'] as string)).toBe(true);
    }
    expect(JSON.stringify(logLines)).not.toContain(hook.secret);
    expect(logLines.some((l) => (l as { level: string }).level === 'warn')).toBe(true);
  });

  it('gives up after maxAttempts into the dead-letter list, and sends it again on request', async () => {
    const hook = await webhooks.create({ url: `${receiver.url}/down`, events: ['case.created'] }, ADMIN);
    receiver.reply = () => 503;
    await announce(event('case.created'));

    const waits: number[] = [];
    for (let i = 1; i <= OPTIONS.maxAttempts; i++) {
      expect(await webhooks.deliverDue()).toBe(1);
      const row = await only();
      expect(row.attempts).toBe(i);
      if (i < OPTIONS.maxAttempts) {
        expect(row.status).toBe('pending');
        waits.push(row.next_attempt_at - t.clock.now());
        t.clock.advance(row.next_attempt_at - t.clock.now());
      }
    }
    // 1 s, 2 s, then capped at maxDelayMs (3 s instead of 4 s), each ±20%.
    [1000, 2000, 3000].forEach((expected, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(expected * 0.8);
      expect(waits[i]).toBeLessThanOrEqual(expected * 1.2);
    });
    const dead = await only();
    expect(dead).toMatchObject({ status: 'dead', attempts: 4, last_error: 'HTTP 503: no thanks (503)' });
    expect(await webhooks.deadLetters()).toEqual([
      { id: dead.id, webhook_id: hook.id, event_type: 'case.created', attempts: 4, last_error: 'HTTP 503: no thanks (503)', created_at: iso(dead.created_at) },
    ]);
    // Dead is final: however long one waits, nothing more is sent.
    t.clock.advance(86_400_000);
    expect(await webhooks.deliverDue()).toBe(0);
    expect(receiver.received).toHaveLength(4);

    // Only a dead delivery can be redelivered, and only one that exists.
    await expectError(webhooks.redeliver(uuidv7(t.clock.now(), systemRandom), ADMIN), 'LOOPGATE_ERR_NOT_FOUND');

    receiver.reply = () => 200;
    await webhooks.redeliver(dead.id, ADMIN);
    expect(await only()).toMatchObject({ status: 'pending', attempts: 0, next_attempt_at: t.clock.now(), last_error: null });
    await expectError(webhooks.redeliver(dead.id, ADMIN), 'LOOPGATE_ERR_CONFLICT');
    expect(await webhooks.deadLetters()).toEqual([]);

    expect(await webhooks.deliverDue()).toBe(1);
    expect(await only()).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(receiver.received).toHaveLength(5);
    expect(receiver.received[4]!.headers['webhook-id']).toBe(dead.id);

    const [entry] = await t.lg.store.searchAudit({ action: 'webhook.redelivered', limit: 10 });
    expect(JSON.parse(entry!.entry)).toMatchObject({
      actor: ADMIN,
      target: { type: 'webhook_delivery', id: dead.id },
      data: { webhook_id: hook.id, event_type: 'case.created', previous_attempts: 4 },
    });
  });

  it('treats 410 Gone as final at once', async () => {
    await webhooks.create({ url: `${receiver.url}/gone`, events: ['*'] }, ADMIN);
    receiver.reply = () => 410;
    await announce(event('case.created'));
    expect(await webhooks.deliverDue()).toBe(1);
    expect(await only()).toMatchObject({ status: 'dead', attempts: 1, last_error: 'HTTP 410: no thanks (410)' });
  });

  it('counts a timeout and a refused connection as failures', async () => {
    await webhooks.create({ url: `${receiver.url}/slow`, events: ['case.created'] }, ADMIN);
    receiver.reply = () => 'hang';
    await announce(event('case.created'));
    const started = Date.now();
    expect(await webhooks.deliverDue()).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
    let row = await only();
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: `no response within ${OPTIONS.timeoutMs} ms` });

    // The receiver recovers: the retry delivers.
    receiver.reply = () => 200;
    t.clock.advance(row.next_attempt_at - t.clock.now());
    expect(await webhooks.deliverDue()).toBe(1);
    row = await only();
    expect(row).toMatchObject({ status: 'delivered', attempts: 2 });

    // Nobody listens on this port any more.
    const closed = await Receiver.start();
    const closedUrl = closed.url;
    await closed.close();
    await webhooks.create({ url: `${closedUrl}/nobody`, events: ['case.escalated'] }, ADMIN);
    await announce(event('case.escalated'));
    expect(await webhooks.deliverDue()).toBe(1);
    const refused = (await deliveries()).find((r) => r.event_type === 'case.escalated')!;
    expect(refused).toMatchObject({ status: 'pending', attempts: 1 });
    expect(refused.last_error).toMatch(/ECONNREFUSED/);
  });

  it('writes delivery rows only with the change they announce, in its transaction', async () => {
    const hook = await webhooks.create({ url: `${receiver.url}/outbox`, events: ['decision.final'] }, ADMIN);
    expect(await webhooks.deliveriesFor(event('case.created'))).toEqual([]);

    // Built but not committed: nothing exists yet.
    const queries = await webhooks.deliveriesFor(event('decision.final', { n: 1 }));
    expect(queries).toHaveLength(1);
    expect(await deliveries()).toEqual([]);

    // The change fails (a guarded write finds the row changed), and its announcement goes with it.
    const failingChange = {
      query: t.lg.store.db.updateTable('webhooks').set({ active: 1 }).where('id', '=', 'no-such-webhook').compile(),
      expectRows: 1,
      conflict: 'the change lost a race',
    };
    await expectError(t.lg.store.write([...queries, failingChange]), 'LOOPGATE_ERR_CONFLICT');
    expect(await deliveries()).toEqual([]);

    // The change commits, and its announcement is pending, due now.
    await t.lg.store.write([...queries, t.lg.store.db.updateTable('webhooks').set({ active: 1 }).where('id', '=', hook.id).compile()]);
    expect(await only()).toMatchObject({
      webhook_id: hook.id,
      event_type: 'decision.final',
      status: 'pending',
      attempts: 0,
      next_attempt_at: t.clock.now(),
      created_at: t.clock.now(),
      delivered_at: null,
      last_error: null,
    });
    expect(await webhooks.deliverDue()).toBe(1);
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ type: 'decision.final', data: { n: 1 } });
  });

  it('lets one worker only send a delivery', async () => {
    await webhooks.create({ url: `${receiver.url}/once`, events: ['*'] }, ADMIN);
    await announce(event('case.created'));
    const workers = [service(), service(), service()];
    const attempts = await Promise.all(workers.map((w) => w.deliverDue()));
    expect(attempts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(receiver.received).toHaveLength(1);
    expect(await only()).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('polls on a timer once started, and stop waits for the round in progress', async () => {
    await webhooks.create({ url: `${receiver.url}/polled`, events: ['*'] }, ADMIN);
    webhooks.start();
    await announce(event('case.created'));
    const deadline = Date.now() + 5000;
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await webhooks.stop();
    expect(receiver.received).toHaveLength(1);
    expect(await only()).toMatchObject({ status: 'delivered' });

    // Stopped: new events wait.
    await announce(event('case.escalated'));
    await new Promise((r) => setTimeout(r, 5 * OPTIONS.pollIntervalMs));
    expect(receiver.received).toHaveLength(1);
  });

  it('audits creating and removing a webhook, never with the secret, and lists webhooks without secrets', async () => {
    const url = `${receiver.url}/path?token=sensitive-token`;
    const hook = await webhooks.create({ url, events: ['decision.final', 'case.created', 'decision.final'] }, ADMIN);
    expect(hook).toMatchObject({ url, events: ['decision.final', 'case.created'] });

    const [created] = await t.lg.store.searchAudit({ action: 'webhook.created', limit: 10 });
    expect(created!.entry).not.toContain(hook.secret);
    expect(created!.entry).not.toContain(hook.secret.slice('whsec_'.length));
    expect(created!.entry).not.toContain('sensitive-token');
    expect(JSON.parse(created!.entry)).toMatchObject({
      actor: ADMIN,
      target: { type: 'webhook', id: hook.id },
      data: { endpoint: receiver.url, events: ['decision.final', 'case.created'] },
    });

    // A pending delivery of a removed webhook is not sent; it goes to the dead-letter list.
    await announce(event('case.created'));
    await webhooks.remove(hook.id, ADMIN);
    const [removed] = await t.lg.store.searchAudit({ action: 'webhook.removed', limit: 10 });
    expect(JSON.parse(removed!.entry)).toMatchObject({ actor: ADMIN, target: { type: 'webhook', id: hook.id } });
    expect(await only()).toMatchObject({ status: 'dead', last_error: 'the webhook was removed' });
    expect(await webhooks.deliverDue()).toBe(0);
    expect(receiver.received).toEqual([]);
    await expectError(webhooks.redeliver((await only()).id, ADMIN), 'LOOPGATE_ERR_CONFLICT');

    // Removing again changes (and records) nothing; an unknown webhook is not found.
    const size = t.lg.store.auditSize;
    await webhooks.remove(hook.id, ADMIN);
    expect(t.lg.store.auditSize).toBe(size);
    await expectError(webhooks.remove('no-such-webhook', ADMIN), 'LOOPGATE_ERR_NOT_FOUND');

    const listed = await webhooks.list();
    expect(listed).toEqual([{ id: hook.id, url, events: ['decision.final', 'case.created'], active: false, created_at: iso(t.clock.now()) }]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
  });

  it('rejects a webhook with a bad URL or events, and stores nothing', async () => {
    const size = t.lg.store.auditSize;
    for (const url of ['ftp://example.com/hook', 'not a url', 'javascript:alert(1)', 'file:///etc/passwd', 'https://user:pw@example.com/hook', '']) {
      await expectError(webhooks.create({ url, events: ['*'] }, ADMIN), 'LOOPGATE_ERR_VALIDATION', '#/url');
    }
    await expectError(webhooks.create({ url: 'https://example.com/hook', events: [] }, ADMIN), 'LOOPGATE_ERR_VALIDATION', '#/events');
    await expectError(webhooks.create({ url: 'https://example.com/hook', events: ['case.created', ''] }, ADMIN), 'LOOPGATE_ERR_VALIDATION', '#/events/1');
    await expectError(
      webhooks.create({ url: 'https://example.com/hook', events: 'case.created' as unknown as string[] }, ADMIN),
      'LOOPGATE_ERR_VALIDATION',
      '#/events',
    );
    expect(await t.lg.store.db.selectFrom('webhooks').selectAll().execute()).toEqual([]);
    expect(t.lg.store.auditSize).toBe(size);
    expect(await t.lg.store.searchAudit({ action: 'webhook.created', limit: 10 })).toEqual([]);
  });
});
