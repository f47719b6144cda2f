/**
 * Human review: the case a `review` decision opens, who may see and decide it, verdicts with quorum, conflicts
 * of interest and step-up, signed verdicts, labels with lineage, what a confirmed-safe approval teaches the
 * baselines, deadlines, escalation, and telling the waiting caller.
 *
 * Every change is one `store.write`: the rows, their audit entries and their webhook deliveries commit together
 * or not at all. Concurrent changes to a case are refused by a version guard (optimistic concurrency), a nonce by
 * a used-once guard, a second verdict by the same person by a unique constraint.
 */
import { EventEmitter } from 'node:events';
import type { CompiledQuery, Selectable } from 'kysely';
import { uuidv7, UUID_PATTERN, type Clock, type Random } from '../core/clock.js';
import type { AuditActor, AuditInput } from '../core/audit/entry.js';
import { SYSTEM_ACTOR } from '../core/audit/entry.js';
import { missingAssurance, stepUpChallenge, type Assurance } from '../core/auth/assurance.js';
import type { Decision, Resolution } from '../core/decision.js';
import { LoopgateError } from '../core/errors.js';
import { scopeEnv } from '../core/policy/cel.js';
import type { Route } from '../core/policy/types.js';
import {
  canonicalPayload,
  escalatedRoute,
  eventDigest,
  isClosed,
  recommendationOf,
  scopeActivation,
  unclaimedStatus,
  verdictChallenge,
  type CaseStatus,
  type Recommendation,
  type VerdictPayload,
} from '../core/review/cases.js';
import { conflictOfInterest } from '../core/review/conflicts.js';
import { countingRole, tally, type CountedVerdict, type VerdictKind, type VerdictLabel } from '../core/review/quorum.js';
import { observationOf, summariseBaseline, valueStats } from '../core/risk/baseline.js';
import { TRACKED_FEATURES, type TrackedFeature } from '../core/risk/features.js';
import type { BaselineException } from '../core/risk/exceptions.js';
import type { ApprovalSigner } from '../adapters/approval-key.js';
import type { CasesTable } from '../store/schema.js';
import type { GuardedQuery, Store } from '../store/store.js';
import type { AuthService, Caller } from './auth.js';
import { featuresOfStored, type BaselineService } from './baselines.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';
import type { PrincipalService } from './principals.js';
import type { WebhookService } from './webhooks.js';

export interface CaseOptions {
  leaseMs: number;
  /** Refuse reviewers in the subject's reporting line (configurable; managers approve their reports by default). */
  reportingLine: boolean;
  verdictChallengeTtlMs: number;
  sweepIntervalMs: number;
}

export interface CaseDeps {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
  principals: PrincipalService;
  auth: AuthService;
  webhooks: WebhookService;
  baselines: BaselineService;
  approval: ApprovalSigner;
  /** WebAuthn request options for a principal's passkeys over a challenge; undefined when they have none. */
  passkeyOptions?: (principalId: string, challenge: Uint8Array) => Promise<unknown>;
}

/** A route for a review whose rule named none and whose bundle has no default: admins decide, nothing is allowed by itself. */
const UNROUTED: Route = { name: 'unrouted', reviewers: { roles: ['admin'] }, quorum: 1, distinct_roles: false, timeout: 86_400, on_timeout: 'deny' };

type CaseRow = Selectable<CasesTable>;

interface LoadedCase {
  row: CaseRow;
  route: Route;
  decision: Decision;
}

export interface CaseFilters {
  status?: CaseStatus[];
  type?: string;
  risk_level?: string;
  /** Only cases opened at least this many seconds ago. */
  older_than?: number;
  /** Only cases opened at most this many seconds ago. */
  newer_than?: number;
  limit: number;
  /** Opaque cursor from a previous page. */
  after?: string;
}

export interface VerdictInput {
  verdict: VerdictKind;
  label: VerdictLabel;
  reason?: string;
  /** The nonce of a challenge issued by `verdictChallenge` (required with a passkey proof). */
  nonce?: string;
  proof?: { type: 'webauthn'; response: unknown };
  /** A time-limited exception to the subject's baseline, with an approval ("travelling in Brazil until 5 May"). */
  baseline_exception?: { feature: string; value?: string; until: string; reason?: string };
}

export interface CaseEvent {
  type: string;
  case_id: string;
  decision_id: string;
  status: string;
}

/** Most cases examined for one page of a scoped list (the scope is a CEL condition, evaluated per case). */
const MAX_SCAN = 5_000;
const SCAN_PAGE = 200;
const MAX_COMPILED = 500;

export class CaseService {
  /** `case` (CaseEvent) when a case changes; `decision.final` (decision id, body) when a decision becomes final. */
  readonly events = new EventEmitter();
  private readonly compiled = new Map<string, (activation: Record<string, unknown>) => unknown>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;

  constructor(
    private readonly deps: CaseDeps,
    private readonly options: CaseOptions,
  ) {
    this.events.setMaxListeners(0);
  }

  // ---- opening: called by the decision service, inside the decision's own transaction ----

  /** The rows and audit entries a `review` decision brings: its case, and the `case.opened` webhook deliveries. */
  async opened(decision: Decision, nowMs: number): Promise<{ caseId: string; queries: CompiledQuery[]; audit: AuditInput[] }> {
    const route = decision.review?.route ?? UNROUTED;
    const id = uuidv7(nowMs, this.deps.random);
    const deadline = nowMs + route.timeout * 1000;
    const row: CaseRow = {
      id,
      decision_id: decision.id,
      status: 'open',
      event_type: decision.event.type,
      subject_id: decision.event.subject.id,
      risk_level: decision.risk.level,
      route: JSON.stringify(route),
      created_at: nowMs,
      deadline_at: deadline,
      warn_at: warnAt(route, deadline),
      warned_at: null,
      escalations: 0,
      claimed_by: null,
      lease_until: null,
      outcome: null,
      closed_at: null,
      version: 1,
    };
    const { store } = this.deps;
    const deliveries = await this.deps.webhooks.deliveriesFor(this.outbound('case.opened', row, nowMs, { route: route.name }));
    return {
      caseId: id,
      queries: [store.db.insertInto('cases').values(row).compile(), ...deliveries],
      audit: [
        {
          action: 'case.opened',
          actor: SYSTEM_ACTOR,
          target: { type: 'case', id },
          links: { decision: decision.id },
          data: { route: route.name, roles: route.reviewers.roles, quorum: route.quorum, deadline: new Date(deadline).toISOString() },
        },
      ],
    };
  }

  /** Tells listeners (the event stream) about a case a decision commit opened. Called once the commit is durable. */
  announceOpened(decisionId: string, caseId: string): void {
    const event: CaseEvent = { type: 'case.opened', case_id: caseId, decision_id: decisionId, status: 'open' };
    this.events.emit('case', event);
  }

  // ---- reading ----

  async list(caller: Caller, filters: CaseFilters): Promise<{ cases: Array<Record<string, unknown>>; next: string | null }> {
    const now = this.deps.clock.now();
    const out: Array<Record<string, unknown>> = [];
    let cursor = decodeCursor(filters.after);
    let scanned = 0;
    let more = true;
    scan: while (more) {
      let q = this.deps.store.db
        .selectFrom('cases')
        .innerJoin('decisions', 'decisions.id', 'cases.decision_id')
        .selectAll('cases')
        .select('decisions.body as decision_body')
        .orderBy('cases.created_at', 'desc')
        .orderBy('cases.id', 'desc')
        .limit(SCAN_PAGE);
      if (filters.status !== undefined) q = q.where('cases.status', 'in', filters.status);
      if (filters.type !== undefined) q = q.where('cases.event_type', '=', filters.type);
      if (filters.risk_level !== undefined) q = q.where('cases.risk_level', '=', filters.risk_level);
      if (filters.older_than !== undefined) q = q.where('cases.created_at', '<=', now - filters.older_than * 1000);
      if (filters.newer_than !== undefined) q = q.where('cases.created_at', '>=', now - filters.newer_than * 1000);
      if (cursor !== undefined) {
        const c = cursor;
        q = q.where((eb) => eb.or([eb('cases.created_at', '<', c.t), eb.and([eb('cases.created_at', '=', c.t), eb('cases.id', '<', c.id)])]));
      }
      const rows = await q.execute();
      more = rows.length === SCAN_PAGE;
      for (const r of rows) {
        scanned++;
        cursor = { t: r.created_at, id: r.id };
        const { decision_body, ...row } = r;
        const c = this.loaded(row, decision_body);
        if (this.mayRead(caller, c)) out.push(this.summary(c, now));
        // A full page, or enough scanned for one request: the cursor continues after the last case examined.
        if (out.length >= filters.limit || scanned >= MAX_SCAN) {
          more = more || r !== rows[rows.length - 1];
          break scan;
        }
      }
    }
    return { cases: out, next: more && cursor !== undefined ? encodeCursor(cursor) : null };
  }

  /** A case as its reviewer sees it: the event, why the machine deferred, the subject's baseline beside it, the timeline. */
  async get(caller: Caller, id: string): Promise<Record<string, unknown>> {
    const c = await this.visible(caller, id);
    const now = this.deps.clock.now();
    const actorKey = `${c.decision.event.actor.kind}:${c.decision.event.actor.id}`;
    const baseline = this.deps.baselines.peek(actorKey) ?? (await this.deps.baselines.load(actorKey));
    const features = featuresOfStored(c.decision);
    const comparison = TRACKED_FEATURES.flatMap((f) => {
      const value = (features as unknown as Record<string, unknown>)[f];
      if (typeof value !== 'string' || f === 'ua') return [];
      const seen = valueStats(baseline, f, value);
      return [{ feature: f, value, seen: seen !== undefined, count: seen?.n ?? 0, last_seen: seen === undefined ? null : new Date(seen.last).toISOString() }];
    });
    const [verdicts, timeline, exceptions] = await Promise.all([this.verdictsOf(c.row.id), this.timeline(c.row.id), this.exceptionsOf(actorKey, now)]);
    const roles = this.reviewRoles(caller, c);
    const conflict = await this.conflict(caller, c);
    const d = c.decision;
    return {
      ...this.summary(c, now),
      route: c.route,
      event: d.event,
      risk: d.risk,
      policy: d.policy,
      ...(d.fallback === undefined ? {} : { fallback: d.fallback }),
      recommendation: recommendationOf(d),
      approved_sha256: eventDigest(d.event),
      baseline: { ...summariseBaseline(baseline), comparison, exceptions },
      verdicts: verdicts.map((v) => ({ reviewer_id: v.reviewer_id, role: v.role, verdict: v.verdict, label: v.label, reason: v.reason, round: v.round, proof: v.proof, created_at: new Date(v.created_at).toISOString() })),
      ...(d.resolution === undefined ? {} : { resolution: d.resolution }),
      you: { can_decide: roles.length > 0 && conflict === undefined && caller.via === 'session', roles, ...(conflict === undefined ? {} : { conflict: conflict.code }) },
      timeline,
    };
  }

  /** Whether the caller may see a case (the event stream filters by it). */
  async canSee(caller: Caller, id: string): Promise<boolean> {
    return this.visible(caller, id).then(
      () => true,
      () => false,
    );
  }

  // ---- claiming ----

  async claim(caller: Caller, id: string): Promise<Record<string, unknown>> {
    const now = this.deps.clock.now();
    const c = await this.decidable(caller, id);
    const row = c.row;
    if (row.status === 'claimed' && row.claimed_by !== caller.principal.id && (row.lease_until ?? 0) > now) {
      throw new LoopgateError('LOOPGATE_ERR_CASE_CLAIMED', `${row.claimed_by} holds this case until ${new Date(row.lease_until!).toISOString()}`);
    }
    if ((await this.verdictsOf(row.id)).some((v) => v.reviewer_id === caller.principal.id)) {
      throw new LoopgateError('LOOPGATE_ERR_ALREADY_VOTED', 'you already gave a verdict on this case; one person counts once');
    }
    const leaseUntil = now + this.options.leaseMs;
    await this.change(c, { status: 'claimed', claimed_by: caller.principal.id, lease_until: leaseUntil }, [
      this.entry('case.claimed', this.deps.auth.callerActor(caller), c, { data: { lease_until: new Date(leaseUntil).toISOString() } }),
    ]);
    this.emit('case.claimed', c, 'claimed');
    return this.summary(await this.load(id), now);
  }

  async release(caller: Caller, id: string): Promise<Record<string, unknown>> {
    const c = await this.visible(caller, id);
    const manages = caller.permissions.has('cases:manage');
    if (c.row.status !== 'claimed' || (c.row.claimed_by !== caller.principal.id && !manages)) {
      throw new LoopgateError('LOOPGATE_ERR_NOT_CLAIMED', c.row.status === 'claimed' ? `${c.row.claimed_by} holds this case, not you` : 'nobody holds this case');
    }
    const status = unclaimedStatus(c.row.escalations);
    await this.change(c, { status, claimed_by: null, lease_until: null }, [this.entry('case.released', this.deps.auth.callerActor(caller), c, { data: { holder: c.row.claimed_by } })]);
    this.emit('case.released', c, status);
    return this.summary(await this.load(id), this.deps.clock.now());
  }

  /** An admin gives the case to a named reviewer (who must be in scope and free of conflicts), with a fresh lease. */
  async assign(caller: Caller, id: string, reviewerId: string, reason: string | undefined): Promise<Record<string, unknown>> {
    const c = await this.load(id);
    if (isClosed(c.row.status)) throw closed(c.row);
    const reviewer = await this.deps.principals.get(reviewerId);
    const bindings = await this.deps.principals.bindings(reviewer.id);
    const as: Caller = { principal: reviewer, via: 'session', bindings, permissions: new Set() };
    if (reviewer.kind !== 'human' || this.reviewRoles(as, c).length === 0) {
      throw new LoopgateError('LOOPGATE_ERR_FORBIDDEN', `${reviewer.id} holds none of this case's reviewer roles (${c.route.reviewers.roles.join(', ')}) in a scope that reaches it`);
    }
    const conflict = await this.conflict(as, c);
    if (conflict !== undefined) throw new LoopgateError(conflict.code, conflict.detail);
    if ((await this.verdictsOf(c.row.id)).some((v) => v.reviewer_id === reviewer.id)) {
      throw new LoopgateError('LOOPGATE_ERR_ALREADY_VOTED', `${reviewer.id} already gave a verdict on this case; one person counts once`);
    }
    const leaseUntil = this.deps.clock.now() + this.options.leaseMs;
    await this.change(c, { status: 'claimed', claimed_by: reviewer.id, lease_until: leaseUntil }, [
      this.entry('case.assigned', this.deps.auth.callerActor(caller), c, { reason, data: { reviewer: reviewer.id, previous_holder: c.row.claimed_by, lease_until: new Date(leaseUntil).toISOString() } }),
    ]);
    this.emit('case.assigned', c, 'claimed');
    return this.summary(await this.load(id), this.deps.clock.now());
  }

  /** An admin withdraws the case; the decision becomes final as denied (failures never allow). */
  async cancel(caller: Caller, id: string, reason: string): Promise<Record<string, unknown>> {
    const c = await this.load(id);
    if (isClosed(c.row.status)) throw closed(c.row);
    const actor = this.deps.auth.callerActor(caller);
    await this.close(c, 'cancelled', { outcome: 'deny', by: 'cancelled', reason: `case cancelled: ${reason}` }, actor, [this.entry('case.cancelled', actor, c, { reason })]);
    return this.summary(await this.load(id), this.deps.clock.now());
  }

  async comment(caller: Caller, id: string, text: string): Promise<void> {
    const c = await this.visible(caller, id);
    if (!caller.permissions.has('cases:manage')) {
      if (this.reviewRoles(caller, c).length === 0) throw new LoopgateError('LOOPGATE_ERR_FORBIDDEN', 'only the case\u2019s reviewers and case managers comment on it');
      // Someone with a conflict does not get to sway the people who decide.
      const conflict = await this.conflict(caller, c);
      if (conflict !== undefined) throw new LoopgateError(conflict.code, conflict.detail);
    }
    await this.deps.store.write([], { inputs: [this.entry('case.commented', this.deps.auth.callerActor(caller), c, { data: { text } })], timeMs: this.deps.clock.now() });
    this.emit('case.commented', c, c.row.status);
  }

  // ---- verdicts ----

  /**
   * The payload a reviewer is about to sign, its WebAuthn challenge (SHA-256 of the canonical payload), and the
   * passkey request options when the reviewer has passkeys. The nonce is stored and can be used once.
   */
  async verdictChallenge(caller: Caller, id: string, input: Pick<VerdictInput, 'verdict' | 'label' | 'reason'>): Promise<Record<string, unknown>> {
    const c = await this.decidable(caller, id);
    const now = this.deps.clock.now();
    await this.checkVerdict(caller, c, input, now);
    const payload = this.payload(caller, c, input, uuidv7(now, this.deps.random), now);
    const challenge = verdictChallenge(payload);
    const expiresAt = now + this.options.verdictChallengeTtlMs;
    const { store } = this.deps;
    await store.write([
      store.db
        .insertInto('challenges')
        .values({ id: payload.nonce, purpose: 'verdict', principal_id: caller.principal.id, data: JSON.stringify(payload), created_at: now, expires_at: expiresAt, used_at: null })
        .compile(),
    ]);
    const passkey = await this.deps.passkeyOptions?.(caller.principal.id, challenge);
    return {
      payload,
      canonical: canonicalPayload(payload),
      challenge: Buffer.from(challenge).toString('base64url'),
      nonce: payload.nonce,
      expires_at: new Date(expiresAt).toISOString(),
      ...(passkey === undefined ? {} : { passkey }),
      ...(c.route.assurance === undefined ? {} : { assurance: c.route.assurance }),
    };
  }

  async giveVerdict(caller: Caller, id: string, input: VerdictInput, ip: string): Promise<Record<string, unknown>> {
    const c = await this.decidable(caller, id);
    const now = this.deps.clock.now();
    const counting = await this.checkVerdict(caller, c, input, now);
    const { store } = this.deps;
    const queries: Array<CompiledQuery | GuardedQuery> = [];

    // The payload: the one signed in advance (its nonce is spent now), or one issued now for a TOTP-backed verdict.
    let payload: VerdictPayload;
    if (input.nonce !== undefined) {
      payload = await this.signedPayload(caller, c, input, now);
      queries.push({
        query: store.db.updateTable('challenges').set({ used_at: now }).where('id', '=', input.nonce).where('used_at', 'is', null).compile(),
        expectRows: 1,
        code: 'LOOPGATE_ERR_NONCE_REUSED',
        conflict: 'this verdict challenge was already used',
      });
    } else {
      if (input.proof !== undefined) throw invalid('/nonce', 'a passkey proof signs a challenge: request one (POST …/verdicts/challenge) and send its nonce');
      payload = this.payload(caller, c, input, uuidv7(now, this.deps.random), now);
    }

    // Proof: the reviewer's passkey signature over the challenge, or the server's signature for a session at AAL2.
    let assurance: Assurance | undefined = caller.session?.assurance;
    let proof: Record<string, unknown>;
    if (input.proof !== undefined) {
      const verified = await this.deps.auth.verifyPasskeyFor(caller.principal, input.proof.response, verdictChallenge(payload), ip);
      queries.push(verified.counterUpdate);
      assurance = verified.assurance;
      proof = { type: 'webauthn', credential_id: verified.credentialId, assertion: input.proof.response, challenge: Buffer.from(verdictChallenge(payload)).toString('base64url') };
    } else {
      proof = { type: 'server_signature', alg: 'EdDSA', kid: this.deps.approval.jwk.kid, jws: this.deps.approval.signJws(canonicalPayload(payload)) };
    }
    const need = c.route.assurance === undefined ? undefined : { acr_values: c.route.assurance.acr_values, ...(c.route.assurance.max_age === undefined ? {} : { max_age: c.route.assurance.max_age }) };
    const missing = missingAssurance(assurance, need, now);
    if (missing !== undefined) {
      throw new LoopgateError('LOOPGATE_ERR_STEP_UP_REQUIRED', `route ${c.route.name} needs ${missing.acr_values.join(' or ') || 'an authentication'}${missing.max_age === undefined ? '' : ` within the last ${missing.max_age} s`}; step up (TOTP or passkey) and try again`, {
        extra: { www_authenticate: stepUpChallenge(missing), error: 'insufficient_user_authentication', acr_values: missing.acr_values, ...(missing.max_age === undefined ? {} : { max_age: missing.max_age }) },
      });
    }

    const actor = this.deps.auth.actorOf(caller.principal, caller.session && assurance ? { ...caller.session, assurance } : caller.session);
    const verdictId = uuidv7(now, this.deps.random);
    const reviewerAssurance = assurance === undefined ? null : { acr: assurance.acr, amr: assurance.amr, auth_time: new Date(assurance.authTimeMs).toISOString() };
    const verdictBody = { payload, proof, assurance: reviewerAssurance, round: c.row.escalations };
    queries.push(
      store.db
        .insertInto('verdicts')
        .values({ id: verdictId, case_id: c.row.id, reviewer_id: caller.principal.id, role: counting.role, verdict: input.verdict, label: input.label, body: JSON.stringify(verdictBody), created_at: now })
        .compile(),
      store.db.insertInto('labels').values({ id: uuidv7(now, this.deps.random), decision_id: c.decision.id, case_id: c.row.id, label: input.label, body: JSON.stringify(this.lineage(c, payload, counting.role, reviewerAssurance)), created_at: now }).compile(),
    );
    const inputs: AuditInput[] = [
      this.entry('case.verdict', actor, c, {
        reason: payload.reason || undefined,
        data: { verdict: input.verdict, label: input.label, role: counting.role, payload_sha256: sha256Base64(canonicalPayload(payload)), proof: proof.type, nonce: payload.nonce },
      }),
    ];

    const t = tally(c.route, [...counting.earlier, { reviewer_id: caller.principal.id, role: counting.role, verdict: input.verdict }]);
    // What the reviewer gets back once the verdict is committed: the case as it now stands, the signed verdict, the tally.
    const answer = async (extra: Record<string, unknown> = {}) => ({
      case: this.summary(await this.load(id), now),
      verdict: { id: verdictId, payload, proof: publicProof(proof) },
      tally: t,
      ...extra,
    });
    // An exception rides on the approval that decides the case: if the case were then denied it must not apply.
    if (input.baseline_exception !== undefined && t.state !== 'approved') {
      throw invalid('/baseline_exception', t.state === 'waiting' ? 'give it with the approval that completes the quorum' : 'a baseline exception comes with an approval');
    }
    let learn: { actorKey: string } | undefined;
    if (t.state === 'waiting') {
      const status = unclaimedStatus(c.row.escalations);
      queries.push(this.update(c, { status, claimed_by: null, lease_until: null }));
      await this.commit(queries, inputs, now);
      this.emit('case.verdict', c, status);
      return answer();
    }
    if (t.state === 'escalated') {
      const escalation = await this.escalation(c, now, caller.principal.id, actor, payload.reason);
      queries.push(...escalation.queries);
      inputs.push(escalation.audit);
      await this.commit(queries, inputs, now);
      this.emit('case.escalated', c, 'escalated');
      return answer();
    }
    const approved = t.state === 'approved';
    if (approved) {
      const approvals = [...counting.earlierLabels, input.label];
      if (approvals.every((l) => l === 'confirmed_safe')) learn = { actorKey: `${c.decision.event.actor.kind}:${c.decision.event.actor.id}` };
    }
    let exception: { actorKey: string; value: BaselineException } | undefined;
    if (input.baseline_exception !== undefined) {
      const ex = this.exception(c, input.baseline_exception, caller, now);
      queries.push(ex.query);
      inputs.push(ex.audit);
      exception = { actorKey: ex.actorKey, value: ex.value };
    }
    if (learn !== undefined) queries.push(store.db.insertInto('learning').values({ actor_key: learn.actorKey, decision_id: c.decision.id, source: 'review', created_at: now }).compile());
    const reasons = [...counting.earlierReasons, payload.reason].filter((r) => r !== '');
    const resolution: Omit<Resolution, 'at' | 'reference'> = {
      outcome: approved ? 'allow' : 'deny',
      by: 'review',
      reason: reasons.join('; ') || (approved ? 'approved by review' : 'denied by review'),
      learned: learn !== undefined,
    };
    await this.close(c, 'decided', resolution, actor, inputs, queries);
    if (learn !== undefined) await this.learnFrom(c, learn.actorKey);
    if (exception !== undefined) this.deps.baselines.addException(exception.actorKey, exception.value);
    return answer({ decision: JSON.parse((await store.getDecision(c.decision.id))!.body) as unknown });
  }

  /** The public key the server signs TOTP-backed verdicts with, as a JWK Set. */
  approvalKeys(): { keys: unknown[] } {
    return { keys: [this.deps.approval.jwk] };
  }

  // ---- deadlines ----

  start(): void {
    this.sweeper = setInterval(() => {
      if (this.sweeping !== undefined) return;
      this.sweeping = this.sweep()
        .catch((e) => this.deps.logger.error({ err: e }, 'case deadline sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
  }

  /**
   * Sends due deadline warnings, applies each route's on-timeout outcome to overdue cases, and ends expired
   * leases. Every step is recorded; a case changed meanwhile by someone else is skipped (its version moved on).
   */
  async sweep(): Promise<{ warned: number; timedOut: number; escalated: number; leasesEnded: number }> {
    const now = this.deps.clock.now();
    const done = { warned: 0, timedOut: 0, escalated: 0, leasesEnded: 0 };
    const rows = await this.deps.store.db
      .selectFrom('cases')
      .innerJoin('decisions', 'decisions.id', 'cases.decision_id')
      .selectAll('cases')
      .select('decisions.body as decision_body')
      .where('cases.closed_at', 'is', null)
      .where((eb) => eb.or([eb('cases.deadline_at', '<=', now), eb('cases.warn_at', '<=', now), eb('cases.lease_until', '<=', now)]))
      .orderBy('cases.deadline_at')
      .limit(500)
      .execute();
    for (const r of rows) {
      const { decision_body, ...row } = r;
      const c = this.loaded(row, decision_body);
      try {
        if (row.deadline_at <= now) {
          if (c.route.on_timeout === 'escalate' && escalatedRoute(c.route) !== undefined) {
            await this.escalateOnTimeout(c, now);
            done.escalated++;
          } else {
            const outcome = c.route.on_timeout === 'allow' ? 'allow' : 'deny';
            await this.close(c, 'expired', { outcome, by: 'timeout', reason: `nobody decided within ${c.route.timeout} s; route ${c.route.name} ${outcome === 'allow' ? 'allows' : 'denies'} on timeout` }, SYSTEM_ACTOR, [
              this.entry('case.expired', SYSTEM_ACTOR, c, { reason: `deadline passed: ${c.route.on_timeout}`, data: { outcome } }),
            ]);
            done.timedOut++;
          }
          continue;
        }
        if (row.warn_at !== null && row.warn_at <= now) {
          const deliveries = await this.deps.webhooks.deliveriesFor(this.outbound('case.deadline_warning', row, now, { deadline: new Date(row.deadline_at).toISOString() }));
          await this.commit([this.update(c, { warn_at: null, warned_at: now }), ...deliveries], [this.entry('case.deadline_warning', SYSTEM_ACTOR, c, { data: { deadline: new Date(row.deadline_at).toISOString() } })], now);
          this.emit('case.deadline_warning', c, row.status);
          done.warned++;
          continue;
        }
        if (row.lease_until !== null && row.lease_until <= now) {
          const status = unclaimedStatus(row.escalations);
          await this.commit([this.update(c, { status, claimed_by: null, lease_until: null })], [this.entry('case.lease_expired', SYSTEM_ACTOR, c, { data: { holder: row.claimed_by } })], now);
          this.emit('case.lease_expired', c, status);
          done.leasesEnded++;
        }
      } catch (e) {
        if (e instanceof LoopgateError && e.code === 'LOOPGATE_ERR_CONFLICT') continue; // changed meanwhile: the next sweep sees it afresh
        throw e;
      }
    }
    return done;
  }

  // ---- internals ----

  private async escalateOnTimeout(c: LoadedCase, now: number): Promise<void> {
    const escalation = await this.escalation(c, now, 'timeout', SYSTEM_ACTOR, 'nobody decided before the deadline');
    await this.commit(escalation.queries, [escalation.audit], now);
    this.emit('case.escalated', c, 'escalated');
  }

  /** What handing a case to its route's escalation writes: the new route and deadline, the deliveries, the entry. */
  private async escalation(c: LoadedCase, now: number, by: string, actor: AuditActor, reason: string) {
    const next = escalatedRoute(c.route)!;
    const deadline = now + next.timeout * 1000;
    const queries: Array<CompiledQuery | GuardedQuery> = [
      this.update(c, { status: 'escalated', route: JSON.stringify(next), escalations: c.row.escalations + 1, deadline_at: deadline, warn_at: warnAt(next, deadline), warned_at: null, claimed_by: null, lease_until: null }),
      ...(await this.deps.webhooks.deliveriesFor(this.outbound('case.escalated', c.row, now, { roles: next.reviewers.roles, by }))),
    ];
    const audit = this.entry('case.escalated', actor, c, { reason, data: { to: next.reviewers.roles, deadline: new Date(deadline).toISOString() } });
    return { queries, audit };
  }

  /** Closes a case and makes its decision final, with the webhook deliveries announcing both, in one transaction. */
  private async close(
    c: LoadedCase,
    status: 'decided' | 'expired' | 'cancelled',
    resolution: Omit<Resolution, 'at' | 'reference'>,
    actor: AuditActor,
    inputs: AuditInput[],
    queries: Array<CompiledQuery | GuardedQuery> = [],
  ): Promise<void> {
    const now = this.deps.clock.now();
    const { store } = this.deps;
    const full: Resolution = { ...resolution, at: new Date(now).toISOString(), reference: c.row.id };
    const final: Decision = { ...c.decision, status: 'final', resolution: full };
    const body = JSON.stringify(final);
    queries.push(
      this.update(c, { status, outcome: full.outcome, closed_at: now, claimed_by: null, lease_until: null, warn_at: null }),
      {
        query: store.db.updateTable('decisions').set({ status: 'final', body }).where('id', '=', c.decision.id).where('status', '=', 'pending').compile(),
        expectRows: 1,
        conflict: 'the decision is no longer pending',
      },
      ...(await this.deps.webhooks.deliveriesFor(this.outbound(`case.${status}`, c.row, now, { outcome: full.outcome }))),
      ...(await this.deps.webhooks.deliveriesFor({ type: 'decision.final', id: uuidv7(now, this.deps.random), time: new Date(now).toISOString(), data: { decision_id: c.decision.id, outcome: full.outcome, resolution: full, case_id: c.row.id } })),
    );
    inputs.push({
      action: 'decision.resolved',
      actor,
      target: { type: 'decision', id: c.decision.id },
      reason: full.reason,
      links: { case: c.row.id },
      data: { outcome: full.outcome, by: full.by, sha256: sha256Base64(body), learned: full.learned ?? false },
    });
    await this.commit(queries, inputs, now);
    this.emit(`case.${status}`, c, status);
    this.events.emit('decision.final', c.decision.id, body);
  }

  /** Folds the approved event into the baseline, once its learning row is committed (the row's seq orders it). */
  private async learnFrom(c: LoadedCase, actorKey: string): Promise<void> {
    const row = await this.deps.store.db.selectFrom('learning').select('seq').where('decision_id', '=', c.decision.id).where('source', '=', 'review').executeTakeFirst();
    if (row === undefined) return;
    const features = featuresOfStored(c.decision);
    this.deps.baselines.learn(actorKey, row.seq, observationOf(c.decision.event, features));
  }

  private async commit(queries: Array<CompiledQuery | GuardedQuery>, inputs: AuditInput[], now: number): Promise<void> {
    try {
      await this.deps.store.write(queries, { inputs, timeMs: now });
    } catch (e) {
      if (isUniqueViolation(e, 'verdicts')) throw new LoopgateError('LOOPGATE_ERR_ALREADY_VOTED', 'you already gave a verdict on this case; one person counts once');
      throw e;
    }
  }

  private update(c: LoadedCase, set: Partial<CaseRow>): GuardedQuery {
    return {
      query: this.deps.store.db
        .updateTable('cases')
        .set({ ...set, version: c.row.version + 1 })
        .where('id', '=', c.row.id)
        .where('version', '=', c.row.version)
        .compile(),
      expectRows: 1,
      conflict: 'the case changed meanwhile; read it again',
    };
  }

  private async change(c: LoadedCase, set: Partial<CaseRow>, inputs: AuditInput[]): Promise<void> {
    await this.commit([this.update(c, set)], inputs, this.deps.clock.now());
  }

  private entry(action: string, actor: AuditActor, c: LoadedCase, extra: { reason?: string | undefined; data?: Record<string, unknown> } = {}): AuditInput {
    const input: AuditInput = { action, actor, target: { type: 'case', id: c.row.id }, links: { decision: c.decision.id } };
    if (extra.reason !== undefined && extra.reason !== '') input.reason = extra.reason;
    if (extra.data !== undefined) input.data = extra.data;
    return input;
  }

  private outbound(type: string, row: Pick<CaseRow, 'id' | 'decision_id' | 'event_type' | 'subject_id' | 'risk_level'>, now: number, data: Record<string, unknown>) {
    return {
      type,
      id: uuidv7(now, this.deps.random),
      time: new Date(now).toISOString(),
      data: { case_id: row.id, decision_id: row.decision_id, event_type: row.event_type, subject_id: row.subject_id, risk_level: row.risk_level, ...data },
    };
  }

  private emit(type: string, c: LoadedCase, status: string): void {
    const event: CaseEvent = { type, case_id: c.row.id, decision_id: c.decision.id, status };
    this.events.emit('case', event);
  }

  private async load(id: string): Promise<LoadedCase> {
    const r = UUID_PATTERN.test(id)
      ? await this.deps.store.db
          .selectFrom('cases')
          .innerJoin('decisions', 'decisions.id', 'cases.decision_id')
          .selectAll('cases')
          .select('decisions.body as decision_body')
          .where('cases.id', '=', id.toLowerCase())
          .executeTakeFirst()
      : undefined;
    if (r === undefined) throw notFound(id);
    const { decision_body, ...row } = r;
    return this.loaded(row, decision_body);
  }

  private loaded(row: CaseRow, decisionBody: string): LoadedCase {
    return { row, route: JSON.parse(row.route) as Route, decision: JSON.parse(decisionBody) as Decision };
  }

  /** The case if the caller may see it; otherwise "not found", so that nobody learns which cases exist outside their scope. */
  private async visible(caller: Caller, id: string): Promise<LoadedCase> {
    const c = await this.load(id);
    if (!this.mayRead(caller, c)) throw notFound(id);
    return c;
  }

  /** The case if the caller may decide it now: a person, signed in, in scope, without a conflict, on an open case. */
  private async decidable(caller: Caller, id: string): Promise<LoadedCase> {
    const c = await this.visible(caller, id);
    if (caller.via !== 'session' || caller.principal.kind !== 'human') {
      throw new LoopgateError('LOOPGATE_ERR_FORBIDDEN', 'cases are decided by people signed in with their own session, not with an API key');
    }
    if (this.reviewRoles(caller, c).length === 0) {
      throw new LoopgateError('LOOPGATE_ERR_FORBIDDEN', `you may see this case but not decide it: it needs ${c.route.reviewers.roles.join(' or ')} in a scope that reaches it`);
    }
    if (isClosed(c.row.status)) throw closed(c.row);
    const conflict = await this.conflict(caller, c);
    if (conflict !== undefined) throw new LoopgateError(conflict.code, conflict.detail);
    return c;
  }

  private mayRead(caller: Caller, c: LoadedCase): boolean {
    return caller.permissions.has('cases:read_all') || this.reviewRoles(caller, c).length > 0;
  }

  /** The caller's roles that may review this case: on the route, with the route's scope and the binding's condition holding. */
  private reviewRoles(caller: Caller, c: LoadedCase): string[] {
    const candidates = caller.bindings.filter((b) => c.route.reviewers.roles.includes(b.role));
    if (candidates.length === 0) return [];
    const activation = scopeActivation(
      { id: c.row.id, decision: c.decision, route: c.route, status: c.row.status },
      { id: caller.principal.id, kind: caller.principal.kind, roles: caller.bindings.map((b) => b.role), attributes: caller.principal.attributes },
    );
    if (c.route.reviewers.scope !== undefined && !this.holds(c.route.reviewers.scope, activation)) return [];
    return [...new Set(candidates.filter((b) => b.condition === null || this.holds(b.condition, activation)).map((b) => b.role))];
  }

  /** A scope condition holds only if it evaluates to true; an error is a "no" (fail closed). */
  private holds(expression: string, activation: Record<string, unknown>): boolean {
    let fn = this.compiled.get(expression);
    if (fn === undefined) {
      try {
        const parsed = scopeEnv.parse(expression);
        fn = (a) => parsed(a);
      } catch {
        fn = () => false;
      }
      if (this.compiled.size >= MAX_COMPILED) this.compiled.clear();
      this.compiled.set(expression, fn);
    }
    try {
      return fn(activation) === true;
    } catch {
      return false;
    }
  }

  private async conflict(caller: Caller, c: LoadedCase) {
    const manager = caller.principal.attributes.manager;
    const reviewer = { id: caller.principal.id, ...(typeof manager === 'string' ? { manager } : {}) };
    const { actor, subject } = c.decision.event;
    // Loopgate's records, looked up by id whatever kind the event claims, win over what the event says.
    const sponsorOf = async (id: string) => (await this.deps.principals.get(id).catch(() => undefined))?.sponsor ?? undefined;
    const [actorSponsor, subjectSponsor] = await Promise.all([sponsorOf(actor.id), sponsorOf(subject.id)]);
    const sponsors = { ...(actorSponsor === undefined ? {} : { actor: actorSponsor }), ...(subjectSponsor === undefined ? {} : { subject: subjectSponsor }) };
    return conflictOfInterest(c.decision.event, reviewer, sponsors, { reportingLine: this.options.reportingLine });
  }

  /**
   * What must hold for this verdict to count: the caller holds the lease, has not voted, brings a role not yet
   * counted (with distinct roles), and gives a reason when overriding the machine. Returns the counting role and
   * the earlier verdicts of this round.
   */
  private async checkVerdict(caller: Caller, c: LoadedCase, input: Pick<VerdictInput, 'verdict' | 'label' | 'reason'>, now: number) {
    const row = c.row;
    if (row.status !== 'claimed' || row.claimed_by !== caller.principal.id) {
      throw new LoopgateError('LOOPGATE_ERR_NOT_CLAIMED', row.status === 'claimed' ? `${row.claimed_by} holds this case, not you` : 'claim the case first (POST …/claim)');
    }
    if ((row.lease_until ?? 0) <= now) throw new LoopgateError('LOOPGATE_ERR_LEASE_EXPIRED', `your claim ended at ${new Date(row.lease_until ?? 0).toISOString()}; claim the case again`);
    if (input.verdict === 'escalate' && c.route.escalate_to === undefined) throw invalid('/verdict', `route ${c.route.name} has no escalation`);
    const rec: Recommendation = recommendationOf(c.decision);
    if (input.verdict !== rec.verdict && (input.reason ?? '').trim() === '') {
      throw new LoopgateError('LOOPGATE_ERR_REASON_REQUIRED', `the machine recommends ${rec.verdict} (${rec.why}); say why you ${input.verdict}`, { errors: [{ pointer: '#/reason', detail: 'required when the verdict overrides the recommendation' }] });
    }
    const all = await this.verdictsOf(row.id);
    if (all.some((v) => v.reviewer_id === caller.principal.id)) throw new LoopgateError('LOOPGATE_ERR_ALREADY_VOTED', 'you already gave a verdict on this case; one person counts once');
    const earlier = all.filter((v) => v.round === row.escalations);
    const roles = this.reviewRoles(caller, c);
    const counted = tally(c.route, earlier.map(({ reviewer_id, role, verdict }) => ({ reviewer_id, role, verdict })));
    const role = input.verdict === 'approve' ? countingRole(c.route, c.route.reviewers.roles, roles, counted.state === 'waiting' ? counted.rolesUsed : []) : roles[0];
    if (role === undefined) {
      throw new LoopgateError('LOOPGATE_ERR_ROLE_ALREADY_COUNTED', `route ${c.route.name} needs approvals from distinct roles; an approval under ${roles.join(', ')} is already counted`);
    }
    return {
      role,
      earlier: earlier.map((v): CountedVerdict => ({ reviewer_id: v.reviewer_id, role: v.role, verdict: v.verdict })),
      earlierLabels: earlier.filter((v) => v.verdict === 'approve').map((v) => v.label),
      earlierReasons: earlier.map((v) => v.reason),
    };
  }

  private payload(caller: Caller, c: LoadedCase, input: Pick<VerdictInput, 'verdict' | 'label' | 'reason'>, nonce: string, now: number): VerdictPayload {
    return {
      case_id: c.row.id,
      decision_id: c.decision.id,
      verdict: input.verdict,
      label: input.label,
      reason: (input.reason ?? '').trim(),
      approved_sha256: eventDigest(c.decision.event),
      reviewer_id: caller.principal.id,
      nonce,
      time: new Date(now).toISOString(),
    };
  }

  /** The stored payload of a challenge, checked against this request: same reviewer, case, verdict, event. */
  private async signedPayload(caller: Caller, c: LoadedCase, input: VerdictInput, now: number): Promise<VerdictPayload> {
    const row = await this.deps.store.db.selectFrom('challenges').selectAll().where('id', '=', input.nonce!).where('purpose', '=', 'verdict').executeTakeFirst();
    if (row === undefined || row.principal_id !== caller.principal.id) throw new LoopgateError('LOOPGATE_ERR_CHALLENGE_INVALID', 'no verdict challenge with this nonce was issued to you');
    if (row.used_at !== null) throw new LoopgateError('LOOPGATE_ERR_NONCE_REUSED', 'this verdict challenge was already used; request a new one');
    if (row.expires_at <= now) throw new LoopgateError('LOOPGATE_ERR_CHALLENGE_INVALID', 'the verdict challenge has expired; request a new one');
    const payload = JSON.parse(row.data) as VerdictPayload;
    const current = this.payload(caller, c, input, payload.nonce, now);
    const changed = (['case_id', 'decision_id', 'verdict', 'label', 'reason', 'approved_sha256', 'reviewer_id'] as const).filter((k) => payload[k] !== current[k]);
    if (changed.length > 0) {
      throw new LoopgateError('LOOPGATE_ERR_PAYLOAD_CHANGED', `the verdict differs from the payload that was signed (${changed.join(', ')}); request a new challenge for what you mean to decide`);
    }
    return payload;
  }

  /** A label with its lineage: everything the learning pipeline needs to know where it came from. */
  private lineage(c: LoadedCase, payload: VerdictPayload, role: string, assurance: unknown) {
    const d = c.decision;
    return {
      decision_id: d.id,
      case_id: c.row.id,
      event_type: d.event.type,
      event_sha256: payload.approved_sha256,
      event_time: d.event.time,
      features: d.features,
      risk: { score: d.risk.score, level: d.risk.level, reasons: d.risk.reasons.map((r) => ({ signal: r.signal, contribution: r.contribution })), model: d.risk.model },
      policy: { version: d.policy.version, rules: d.policy.rules, ...(d.policy.decisive === undefined ? {} : { decisive: d.policy.decisive }) },
      machine: { outcome: d.outcome, recommendation: recommendationOf(d).verdict },
      reviewer: { id: payload.reviewer_id, role, assurance },
      verdict: payload.verdict,
      label: payload.label,
      reason: payload.reason,
      time: payload.time,
    };
  }

  private exception(c: LoadedCase, ex: NonNullable<VerdictInput['baseline_exception']>, caller: Caller, now: number): { query: CompiledQuery; audit: AuditInput; actorKey: string; value: BaselineException } {
    const features = featuresOfStored(c.decision) as unknown as Record<string, unknown>;
    if (!(TRACKED_FEATURES as readonly string[]).includes(ex.feature)) throw invalid('/baseline_exception/feature', `one of ${TRACKED_FEATURES.join(', ')}`);
    const value = ex.value ?? features[ex.feature];
    if (typeof value !== 'string') throw invalid('/baseline_exception/value', `the event has no ${ex.feature}; give the value`);
    const until = Date.parse(ex.until);
    if (Number.isNaN(until) || until <= now) throw invalid('/baseline_exception/until', 'a time in the future (ISO 8601)');
    if (until > now + 366 * 86_400_000) throw invalid('/baseline_exception/until', 'at most a year ahead: an exception is temporary');
    const actorKey = `${c.decision.event.actor.kind}:${c.decision.event.actor.id}`;
    const id = uuidv7(now, this.deps.random);
    const reason = (ex.reason ?? '').trim() || 'approved by review';
    return {
      actorKey,
      value: { feature: ex.feature as TrackedFeature, value, until, reason, created_by: caller.principal.id },
      query: this.deps.store.db.insertInto('baseline_exceptions').values({ id, actor_key: actorKey, feature: ex.feature, value, until, reason, created_by: caller.principal.id, created_at: now }).compile(),
      audit: {
        action: 'baseline.exception_added',
        actor: this.deps.auth.callerActor(caller),
        target: { type: 'baseline', id: actorKey },
        reason,
        links: { case: c.row.id, decision: c.decision.id },
        data: { id, feature: ex.feature, value, until: new Date(until).toISOString() },
      },
    };
  }

  private async exceptionsOf(actorKey: string, now: number) {
    const rows = await this.deps.store.db.selectFrom('baseline_exceptions').selectAll().where('actor_key', '=', actorKey).where('until', '>', now).orderBy('created_at').execute();
    return rows.map((r) => ({ feature: r.feature, value: r.value, until: new Date(r.until).toISOString(), reason: r.reason, created_by: r.created_by }));
  }

  private async verdictsOf(caseId: string) {
    const rows = await this.deps.store.db.selectFrom('verdicts').selectAll().where('case_id', '=', caseId).orderBy('created_at').execute();
    return rows.map((r) => {
      const body = JSON.parse(r.body) as { payload: VerdictPayload; proof: { type: string }; round: number };
      return { reviewer_id: r.reviewer_id, role: r.role, verdict: r.verdict as VerdictKind, label: r.label as VerdictLabel, reason: body.payload.reason, round: body.round, proof: body.proof.type, created_at: r.created_at };
    });
  }

  private async timeline(caseId: string) {
    const entries = await this.deps.store.searchAudit({ case: caseId, limit: 500 });
    return entries.map((e) => {
      const entry = JSON.parse(e.entry) as { seq: number; time: string; action: string; actor: AuditActor; reason?: string; data?: Record<string, unknown> };
      return { seq: entry.seq, time: entry.time, action: entry.action, actor: entry.actor, ...(entry.reason === undefined ? {} : { reason: entry.reason }), ...(entry.data === undefined ? {} : { data: entry.data }) };
    });
  }

  private summary(c: LoadedCase, now: number): Record<string, unknown> {
    const r = c.row;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: r.id,
      decision_id: r.decision_id,
      status: r.status,
      event_type: r.event_type,
      subject: c.decision.event.subject,
      actor: c.decision.event.actor,
      risk: { score: c.decision.risk.score, level: r.risk_level, top_reasons: c.decision.risk.reasons.slice(0, 3).map((x) => x.sentence) },
      route: c.route.name,
      reviewers: c.route.reviewers.roles,
      quorum: c.route.quorum,
      created_at: iso(r.created_at),
      age_seconds: Math.max(0, Math.floor((now - r.created_at) / 1000)),
      deadline_at: iso(r.deadline_at),
      escalations: r.escalations,
      claimed_by: r.claimed_by,
      lease_until: iso(r.lease_until),
      outcome: r.outcome,
      closed_at: iso(r.closed_at),
    };
  }
}

/** When a deadline's warning is due, or null when the route sends none. */
function warnAt(route: Route, deadline: number): number | null {
  return route.warn_before === undefined ? null : deadline - route.warn_before * 1000;
}

function notFound(id: string): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_CASE_NOT_FOUND', `no case with id ${id} in your scope`);
}

function closed(row: CaseRow): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_CASE_CLOSED', `the case is ${row.status}${row.outcome === null ? '' : ` (${row.outcome})`}`);
}

function invalid(pointer: string, detail: string): LoopgateError {
  return new LoopgateError('LOOPGATE_ERR_VALIDATION', `${pointer.slice(1)} ${detail}`, { errors: [{ pointer: `#${pointer}`, detail }] });
}

/** A proof as returned to clients (the server's JWS, or the passkey's credential id). */
function publicProof(proof: Record<string, unknown>): Record<string, unknown> {
  return proof.type === 'webauthn' ? { type: 'webauthn', credential_id: proof.credential_id } : proof;
}

function isUniqueViolation(e: unknown, table: string): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  const message = err?.message ?? '';
  return err?.code === '23505' || (message.includes('UNIQUE constraint failed') && message.includes(`${table}.`)) || message.includes(`${table}_one_per_reviewer`);
}

function encodeCursor(c: { t: number; id: string }): string {
  return Buffer.from(`${c.t}:${c.id}`).toString('base64url');
}

function decodeCursor(s: string | undefined): { t: number; id: string } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+):([0-9a-f-]{36})$/.exec(Buffer.from(s, 'base64url').toString());
  if (m === null) throw invalid('/after', 'not a cursor this API returned');
  return { t: Number(m[1]), id: m[2]! };
}
