/**
 * Webhooks: telling subscribers that something happened (a reviewed decision became final, a case was opened,
 * is about to miss its deadline, was escalated), in the Standard Webhooks format (https://www.standardwebhooks.com).
 *
 * Delivery is an outbox. The rows announcing a change are written in the transaction of the change itself
 * (`deliveriesFor` returns the queries; the caller commits them with its own), so a change that was acknowledged is
 * always announced, and nothing is announced that did not happen. A poller then sends what is due: a 2xx delivers;
 * anything else is retried with exponential backoff and jitter, and after `maxAttempts` the delivery goes to the
 * dead-letter list, from which an operator can send it again.
 *
 * Delivery is at least once. Each delivery has one id, sent as `webhook-id` on every attempt, so receivers
 * deduplicate on it. Before sending, a worker claims the row (a guarded update that only one worker can win) for
 * as long as an attempt can take; if the process stops mid-attempt, the claim runs out and the row is sent again.
 * A claim counts as an attempt, so a delivery that keeps crashing its sender still ends in the dead-letter list.
 *
 * Creating, removing and redelivering are audited (an operator acted); the delivery state itself is operational
 * and is not.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CompiledQuery, Selectable } from 'kysely';
import type { AuditActor, AuditInput } from '../core/audit/entry.js';
import { uuidv7, type Clock, type Random } from '../core/clock.js';
import { LoopgateError, type FieldError } from '../core/errors.js';
import type { WebhookDeliveriesTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';

export interface OutboundEvent {
  /** e.g. 'decision.final', 'case.created', 'case.deadline_warning', 'case.escalated' */
  type: string;
  /** The event's id (a UUID): the same for every webhook the event goes to. */
  id: string;
  /** When it happened (ISO 8601). */
  time: string;
  data: Record<string, unknown>;
}

export interface WebhookOptions {
  /** Attempts before a delivery goes to the dead-letter list (e.g. 8). */
  maxAttempts: number;
  /** The wait after the first failure; it doubles after each one (e.g. 1000). */
  baseDelayMs: number;
  /** The longest wait between two attempts (e.g. one hour). */
  maxDelayMs: number;
  /** How long one attempt may take, response included (e.g. 5000). */
  timeoutMs: number;
  /** How often the poller looks for deliveries that are due (e.g. 1000). */
  pollIntervalMs: number;
}

export interface WebhookDeps {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Replaceable for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

export interface CreatedWebhook {
  id: string;
  /** Shown once: only its holder can verify signatures. */
  secret: string;
  url: string;
  events: string[];
}

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  active: boolean;
  /** ISO 8601. */
  created_at: string;
}

export interface DeadLetterView {
  id: string;
  webhook_id: string;
  event_type: string;
  attempts: number;
  last_error: string | null;
  /** ISO 8601. */
  created_at: string;
}

/** Subscribes to every event type. */
export const ALL_EVENTS = '*';

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const MAX_URL_LENGTH = 2048;
const MAX_EVENT_TYPE_LENGTH = 100;
/** Deliveries claimed per query; a round goes on while full pages come back. */
const DELIVERIES_PER_PAGE = 50;
/** Pages per round at most, so one call cannot run forever while events keep arriving. */
const MAX_PAGES_PER_ROUND = 20;
/** Beyond the attempt's own timeout, how long a claim holds (time to record the outcome). */
const CLAIM_MARGIN_MS = 30_000;
/** How much of a failing response's body is kept as the error (enough to recognise it, not to store a page). */
const ERROR_BODY_CHARS = 200;
const MAX_DEAD_LETTERS = 1000;
/** The replay window receivers are advised to accept (Standard Webhooks recommends five minutes). */
export const DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 300;

type DeliveryRow = Pick<Selectable<WebhookDeliveriesTable>, 'id' | 'webhook_id' | 'event_type' | 'payload' | 'attempts' | 'next_attempt_at'> & {
  url: string;
  secret: string;
};

type AttemptResult = { ok: true; status: number } | { ok: false; error: string; final: boolean };

export class WebhookService {
  private readonly fetch: typeof fetch;
  private timer: NodeJS.Timeout | undefined;
  /** The poller's round in progress: a tick is skipped while one runs, and stop() waits for it. */
  private round: Promise<unknown> | undefined;

  constructor(
    private readonly deps: WebhookDeps,
    private readonly options: WebhookOptions,
  ) {
    this.fetch = deps.fetch ?? globalThis.fetch;
  }

  /**
   * The delivery rows announcing `event` (one per active webhook subscribed to its type or to everything), as
   * queries for the caller to commit in the same transaction as the change the event announces.
   */
  async deliveriesFor(event: OutboundEvent): Promise<CompiledQuery[]> {
    const { store, clock, random } = this.deps;
    const hooks = await store.db.selectFrom('webhooks').select(['id', 'events']).where('active', '=', 1).execute();
    const subscribed = hooks.filter((h) => {
      const events = parseEvents(h.events);
      return events.includes(event.type) || events.includes(ALL_EVENTS);
    });
    if (subscribed.length === 0) return [];
    // The body is fixed now and stored: every attempt sends the same bytes, so a receiver sees one message.
    const payload = webhookBody(event);
    const now = clock.now();
    const rows = subscribed.map((h) => ({
      id: uuidv7(now, random),
      webhook_id: h.id,
      event_type: event.type,
      payload,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      delivered_at: null,
    }));
    return [store.db.insertInto('webhook_deliveries').values(rows).compile()];
  }

  async create(input: { url: string; events: string[] }, actor: AuditActor): Promise<CreatedWebhook> {
    const url = validateUrl(input.url);
    const events = validateEvents(input.events);
    const { store, clock, random } = this.deps;
    const now = clock.now();
    const id = uuidv7(now, random);
    const secret = SECRET_PREFIX + Buffer.from(random.fill(new Uint8Array(SECRET_BYTES))).toString('base64');
    const insert = store.db
      .insertInto('webhooks')
      .values({ id, url: url.href, secret, events: JSON.stringify(events), active: 1, created_at: now, created_by: actor.id })
      .compile();
    await store.write([insert], { inputs: [webhookCreated(actor, id, url, events)], timeMs: now });
    return { id, secret, url: url.href, events };
  }

  /** Every webhook, removed ones included (marked inactive); never their secrets. */
  async list(): Promise<WebhookView[]> {
    const rows = await this.deps.store.db
      .selectFrom('webhooks')
      .select(['id', 'url', 'events', 'active', 'created_at'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      url: r.url,
      events: parseEvents(r.events),
      active: r.active === 1,
      created_at: new Date(r.created_at).toISOString(),
    }));
  }

  /**
   * Deactivates a webhook. Its pending deliveries go to the dead-letter list in the same transaction, so they stay
   * visible rather than being sent to an endpoint the operator took away. Removing a removed webhook changes nothing.
   */
  async remove(id: string, actor: AuditActor): Promise<void> {
    const { store, clock } = this.deps;
    const hook = await store.db.selectFrom('webhooks').select(['id', 'active']).where('id', '=', id).executeTakeFirst();
    if (hook === undefined) throw new LoopgateError('LOOPGATE_ERR_NOT_FOUND', `no webhook ${id}`);
    if (hook.active !== 1) return;
    const now = clock.now();
    await store.write(
      [
        {
          query: store.db.updateTable('webhooks').set({ active: 0 }).where('id', '=', id).where('active', '=', 1).compile(),
          expectRows: 1,
          conflict: `webhook ${id} was removed meanwhile`,
        },
        store.db
          .updateTable('webhook_deliveries')
          .set({ status: 'dead', last_error: 'the webhook was removed' })
          .where('webhook_id', '=', id)
          .where('status', '=', 'pending')
          .compile(),
      ],
      { inputs: [webhookRemoved(actor, id)], timeMs: now },
    );
  }

  /** The dead-letter list, newest first. */
  async deadLetters(limit = 100): Promise<DeadLetterView[]> {
    const rows = await this.deps.store.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'webhook_id', 'event_type', 'attempts', 'last_error', 'created_at'])
      .where('status', '=', 'dead')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(1, Math.min(Math.floor(limit), MAX_DEAD_LETTERS)))
      .execute();
    return rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
  }

  /** Sends a dead delivery again, from scratch (attempts reset, due now), with the same delivery id. */
  async redeliver(deliveryId: string, actor: AuditActor): Promise<void> {
    const { store, clock } = this.deps;
    const row = await store.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
      .select([
        'webhook_deliveries.status as status',
        'webhook_deliveries.webhook_id as webhook_id',
        'webhook_deliveries.event_type as event_type',
        'webhook_deliveries.attempts as attempts',
        'webhooks.active as active',
      ])
      .where('webhook_deliveries.id', '=', deliveryId)
      .executeTakeFirst();
    if (row === undefined) throw new LoopgateError('LOOPGATE_ERR_NOT_FOUND', `no webhook delivery ${deliveryId}`);
    if (row.status !== 'dead') {
      throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `delivery ${deliveryId} is ${row.status}; only a dead delivery can be redelivered`);
    }
    if (row.active !== 1) {
      throw new LoopgateError('LOOPGATE_ERR_CONFLICT', `webhook ${row.webhook_id} was removed; its deliveries cannot be sent again`);
    }
    const now = clock.now();
    const reset = store.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: now, last_error: null })
      .where('id', '=', deliveryId)
      .where('status', '=', 'dead')
      .compile();
    await store.write(
      [{ query: reset, expectRows: 1, conflict: `delivery ${deliveryId} was redelivered meanwhile` }],
      { inputs: [webhookRedelivered(actor, deliveryId, row.webhook_id, row.event_type, row.attempts)], timeMs: now },
    );
  }

  /** Sends every delivery due now; resolves with the number of attempts made. */
  async deliverDue(): Promise<number> {
    let attempts = 0;
    for (let page = 0; page < MAX_PAGES_PER_ROUND; page++) {
      const due = await this.dueDeliveries();
      const results = await Promise.all(
        due.map((row) =>
          this.attempt(row).catch((e: unknown) => {
            // The store failed, not the receiver: the delivery comes due again (at the latest when its claim runs out).
            this.deps.logger.error({ err: e, delivery: row.id, webhook: row.webhook_id }, 'recording a webhook delivery failed');
            return false;
          }),
        ),
      );
      attempts += results.filter(Boolean).length;
      // Rows this round claimed or rescheduled are no longer due, so a full page means there may be more.
      if (due.length < DELIVERIES_PER_PAGE) break;
    }
    return attempts;
  }

  /** Polls every `pollIntervalMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.round !== undefined) return;
      const round = this.deliverDue()
        .catch((e: unknown) => this.deps.logger.error({ err: e }, 'a webhook delivery round failed'))
        .finally(() => {
          this.round = undefined;
        });
      this.round = round;
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  /** Stops polling and waits for the round in progress (at most about one attempt's timeout). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  private async dueDeliveries(): Promise<DeliveryRow[]> {
    return this.deps.store.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
      .select([
        'webhook_deliveries.id as id',
        'webhook_deliveries.webhook_id as webhook_id',
        'webhook_deliveries.event_type as event_type',
        'webhook_deliveries.payload as payload',
        'webhook_deliveries.attempts as attempts',
        'webhook_deliveries.next_attempt_at as next_attempt_at',
        'webhooks.url as url',
        'webhooks.secret as secret',
      ])
      .where('webhook_deliveries.status', '=', 'pending')
      .where('webhook_deliveries.next_attempt_at', '<=', this.deps.clock.now())
      .where('webhooks.active', '=', 1)
      .orderBy('webhook_deliveries.next_attempt_at')
      .limit(DELIVERIES_PER_PAGE)
      .execute();
  }

  /** Claims one delivery, sends it and records the outcome; false when no attempt was made. */
  private async attempt(row: DeliveryRow): Promise<boolean> {
    const { store, clock, logger } = this.deps;
    const log = logger.child({ delivery: row.id, webhook: row.webhook_id, event_type: row.event_type });
    if (row.attempts >= this.options.maxAttempts) {
      // Only a claim whose attempt never reported back (the process stopped) leaves a pending row here.
      await this.settle(row, row.next_attempt_at, row.attempts, {
        status: 'dead',
        last_error: 'the last attempt did not complete (the sender stopped) and no attempts are left',
      }, log);
      return false;
    }
    const attempts = row.attempts + 1;
    const claimedUntil = clock.now() + this.options.timeoutMs + CLAIM_MARGIN_MS;
    const claim = store.db
      .updateTable('webhook_deliveries')
      .set({ attempts, next_attempt_at: claimedUntil })
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .where('attempts', '=', row.attempts)
      .where('next_attempt_at', '=', row.next_attempt_at)
      .compile();
    try {
      await store.write([{ query: claim, expectRows: 1, conflict: 'another worker claimed this delivery' }]);
    } catch (e) {
      if (e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_CONFLICT') return false;
      throw e;
    }

    const result = await this.send(row);
    const now = clock.now();
    if (result.ok) {
      await this.settle(row, claimedUntil, attempts, { status: 'delivered', delivered_at: now, last_error: null }, log);
      log.debug({ attempts, status: result.status }, 'webhook delivered');
      return true;
    }
    if (result.final || attempts >= this.options.maxAttempts) {
      await this.settle(row, claimedUntil, attempts, { status: 'dead', last_error: result.error }, log);
      log.error({ attempts, error: result.error, endpoint: endpointOf(row.url) }, 'webhook delivery failed for good; it is in the dead-letter list');
      return true;
    }
    const retryAt = now + this.backoff(attempts);
    await this.settle(row, claimedUntil, attempts, { next_attempt_at: retryAt, last_error: result.error }, log);
    log.warn({ attempts, error: result.error, endpoint: endpointOf(row.url), retry_at: new Date(retryAt).toISOString() }, 'webhook delivery failed; will retry');
    return true;
  }

  /** Records an outcome, provided the row is still as this worker claimed it. */
  private async settle(
    row: DeliveryRow,
    claimedUntil: number,
    attempts: number,
    changes: { status?: 'delivered' | 'dead'; next_attempt_at?: number; delivered_at?: number; last_error: string | null },
    log: Logger,
  ): Promise<void> {
    const { store } = this.deps;
    const update = store.db
      .updateTable('webhook_deliveries')
      .set(changes)
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .where('attempts', '=', attempts)
      .where('next_attempt_at', '=', claimedUntil)
      .compile();
    try {
      await store.write([{ query: update, expectRows: 1, conflict: 'the delivery changed while it was being sent' }]);
    } catch (e) {
      // The claim ran out and another worker took the delivery over: its outcome is the one that counts.
      if (e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_CONFLICT') {
        log.warn({ attempts }, 'a webhook delivery changed while it was being sent; leaving it to the worker that holds it now');
        return;
      }
      throw e;
    }
  }

  private async send(row: DeliveryRow): Promise<AttemptResult> {
    const timestamp = Math.floor(this.deps.clock.now() / 1000);
    let response: Response;
    try {
      response = await this.fetch(row.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': row.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(row.secret, row.id, timestamp, row.payload),
        },
        body: row.payload,
        // A redirect is a failure: following it would send the signed event somewhere nobody registered.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (e) {
      return { ok: false, error: describeFailure(e, this.options.timeoutMs), final: false };
    }
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return { ok: true, status: response.status };
    }
    let excerpt = '';
    try {
      excerpt = (await response.text()).slice(0, ERROR_BODY_CHARS).trim();
    } catch {
      // The body is only a hint for the operator; the status is what counts.
    }
    const error = `HTTP ${response.status}${excerpt === '' ? '' : `: ${excerpt}`}`;
    // 410 Gone: the receiver says the endpoint no longer exists (Standard Webhooks gives it that meaning), so
    // retrying cannot help; the delivery is dead at once. The webhook itself stays until an operator removes it.
    return { ok: false, error, final: response.status === 410 };
  }

  /** The wait after `attempts` failures: base · 2^(attempts−1), at most maxDelay, ±20% so retries spread out. */
  private backoff(attempts: number): number {
    const { baseDelayMs, maxDelayMs } = this.options;
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempts - 1));
    const bytes = this.deps.random.fill(new Uint8Array(4));
    const unit = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) / 2 ** 32;
    return Math.round(delay * (0.8 + 0.4 * unit));
  }
}

// ---- the wire format (Standard Webhooks) ----

/** The request body: the event as Standard Webhooks frames it, with the event's id. */
export function webhookBody(event: OutboundEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.time, id: event.id, data: event.data });
}

/** The HMAC key: the secret's bytes after the `whsec_` prefix, base64-decoded. */
function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

function hmac(secret: string, id: string, timestampSeconds: number | string, body: string): Buffer {
  return createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest();
}

/** The `webhook-signature` header value: `v1,` and the base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${hmac(secret, id, timestampSeconds, body).toString('base64')}`;
}

/**
 * Checks a delivery as a receiver does: true when one of the header's space-separated `v1,` signatures is the
 * HMAC of `${id}.${timestamp}.${body}` (body exactly as received), compared in constant time. With `nowSeconds`,
 * a timestamp further than the tolerance (default five minutes) from it is refused too, against replays.
 */
export function verifyWebhookSignature(
  secret: string,
  id: string,
  timestamp: number | string,
  body: string,
  header: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  const seconds = Number(timestamp);
  if (!Number.isSafeInteger(seconds) || String(seconds) !== String(timestamp).trim()) return false;
  if (options.nowSeconds !== undefined && Math.abs(options.nowSeconds - seconds) > (options.toleranceSeconds ?? DEFAULT_TIMESTAMP_TOLERANCE_SECONDS)) {
    return false;
  }
  const expected = hmac(secret, id, seconds, body);
  let match = false;
  for (const part of header.split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(part.slice(comma + 1), 'base64');
    // Every candidate is compared (no early return), so the time taken does not tell which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) match = true;
  }
  return match;
}

// ---- validation ----

function validateUrl(input: unknown): URL {
  const invalid = (detail: string) =>
    new LoopgateError('LOOPGATE_ERR_VALIDATION', `the webhook URL is not valid: ${detail}`, { errors: [{ pointer: '#/url', detail }] });
  if (typeof input !== 'string' || input.length === 0) throw invalid('a URL is required');
  if (input.length > MAX_URL_LENGTH) throw invalid(`at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalid('not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`the scheme must be http or https, not ${url.protocol.replace(/:$/, '')}`);
  // fetch refuses URLs with credentials; better to say so now than to fail every delivery later.
  if (url.username !== '' || url.password !== '') throw invalid('credentials in the URL are not supported');
  if (url.hash !== '') throw invalid('a fragment is never sent; remove it');
  return url;
}

function validateEvents(input: unknown): string[] {
  const fail = (errors: FieldError[]) => new LoopgateError('LOOPGATE_ERR_VALIDATION', 'the webhook events are not valid', { errors });
  if (!Array.isArray(input) || input.length === 0) {
    throw fail([{ pointer: '#/events', detail: `a non-empty array of event types (or "${ALL_EVENTS}" for all)` }]);
  }
  const errors: FieldError[] = [];
  input.forEach((e: unknown, i) => {
    if (typeof e !== 'string' || e.trim() === '' || e.length > MAX_EVENT_TYPE_LENGTH) {
      errors.push({ pointer: `#/events/${i}`, detail: `an event type: a non-empty string of at most ${MAX_EVENT_TYPE_LENGTH} characters` });
    }
  });
  if (errors.length > 0) throw fail(errors);
  return [...new Set(input as string[])];
}

function parseEvents(text: string): string[] {
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed.filter((e): e is string => typeof e === 'string') : [];
}

/** Where a URL points, without its path or query (which may carry a token), for logs and the audit log. */
function endpointOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

function describeFailure(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no response within ${timeoutMs} ms`;
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? ((e.cause as { code?: string }).code ?? e.cause.message) : undefined;
    return cause === undefined ? e.message : `${e.message} (${cause})`;
  }
  return String(e);
}

// ---- audit entries (what an operator did to webhooks) ----

/**
 * The audit log is append-only and kept for good, so it gets the endpoint's origin and a digest of the full URL,
 * not the URL itself: paths and queries often carry tokens. The secret is never recorded.
 */
function webhookCreated(actor: AuditActor, id: string, url: URL, events: string[]): AuditInput {
  return {
    action: 'webhook.created',
    actor,
    target: { type: 'webhook', id },
    data: { endpoint: url.origin, url_sha256: sha256Base64(url.href), events },
  };
}

function webhookRemoved(actor: AuditActor, id: string): AuditInput {
  return {
    action: 'webhook.removed',
    actor,
    target: { type: 'webhook', id },
    reason: 'deactivated; its pending deliveries moved to the dead-letter list',
  };
}

function webhookRedelivered(actor: AuditActor, deliveryId: string, webhookId: string, eventType: string, previousAttempts: number): AuditInput {
  return {
    action: 'webhook.redelivered',
    actor,
    target: { type: 'webhook_delivery', id: deliveryId },
    data: { webhook_id: webhookId, event_type: eventType, previous_attempts: previousAttempts },
  };
}
