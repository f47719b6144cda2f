/**
 * The decision use case: event → features → risk → policy → decision, stored durably.
 *
 * Failures never allow: a risk model error or an unexpected policy error applies the event type's fallback.
 * A decision is acknowledged only after its group commit is durable; what it teaches the baselines is folded
 * in only after that commit.
 */
import { UUID_PATTERN, uuidv7, type Clock, type Random } from '../core/clock.js';
import { assembleDecision, policyActivation, type Decision, type LearningRule, type Resolution } from '../core/decision.js';
import { challengesExpired, decisionsRecorded } from '../core/audit/records.js';
import type { AuditInput } from '../core/audit/entry.js';
import { LoopgateError } from '../core/errors.js';
import { parseEvent } from '../core/events/parse.js';
import type { LoopgateEvent, MfaEvent } from '../core/events/schema.js';
import { evaluatePolicy, fallbackResult, type PolicyResult } from '../core/policy/evaluate.js';
import { behaviourOf, type BehaviourSample, type CollectorSignals } from '../core/behaviour/signals.js';
import { observationOf, type Baseline, type Observation } from '../core/risk/baseline.js';
import { assessRisk, CONTEXT_MODEL_NAME, type RiskAssessment, type RiskConfig } from '../core/risk/engine.js';
import { extractFeatures, type ContextFeatures } from '../core/risk/features.js';
import { VelocityTracker, type VelocityObservation } from '../core/risk/velocity.js';
import type { GeoIp } from '../adapters/geoip.js';
import { GroupCommitter } from '../store/group-commit.js';
import type { CompiledQuery } from 'kysely';
import type { DecisionWrite, DecisionWriteResult, NewDecisionRow, Store } from '../store/store.js';
import { featuresOfStored, type BaselineService } from './baselines.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';
import type { PolicyService } from './policies.js';

export interface DecisionServiceOptions {
  risk: RiskConfig;
  /** Version of the risk model (its configuration hash): recorded with every decision. */
  modelVersion: string;
  learning: LearningRule;
  challengeTtlMs: number;
  maxBatch: number;
}

export interface DecisionDeps {
  store: Store;
  clock: Clock;
  random: Random;
  geo: GeoIp;
  policies: PolicyService;
  baselines: BaselineService;
  logger: Logger;
  /** Opens the case of a `review` decision, in the decision's own transaction (the case service). */
  reviews?: ReviewOpener;
}

export interface ReviewOpener {
  opened(decision: Decision, nowMs: number): Promise<{ caseId: string; queries: CompiledQuery[]; audit: AuditInput[] }>;
  /** Called once the decision that opened a case is durable. */
  announceOpened(decisionId: string, caseId: string): void;
}

export interface DecideOptions {
  /** Evaluate without storing anything or learning (what-if, `loopgate decide --dry-run`). */
  dryRun?: boolean;
  /** Where the event sits in the request body, for error pointers (e.g. "/event"). */
  pointerPrefix?: string;
}

export interface DecideResult {
  decision: Decision;
  /** The decision as stored and returned: serialised once. */
  json: string;
}

const RECENT_ATTEMPTS_LIMIT = 200_000;

export class DecisionService {
  private readonly committer: GroupCommitter<DecisionWrite, DecisionWriteResult>;
  private readonly velocity: VelocityTracker;
  /** Challenges being answered right now, so that two answers cannot both resolve one challenge. */
  private readonly resolving = new Set<string>();

  constructor(
    private readonly deps: DecisionDeps,
    private readonly options: DecisionServiceOptions,
  ) {
    this.committer = new GroupCommitter(
      (batch) =>
        deps.store.commitDecisions(batch, { inputs: [batchAudit(batch), ...batch.flatMap((w) => w.audit ?? [])], timeMs: deps.clock.now() }),
      { maxBatch: options.maxBatch },
    );
    this.velocity = new VelocityTracker(options.risk.velocity);
  }

  private sweeper: NodeJS.Timeout | undefined;

  /**
   * Resolves challenges nobody answered in time as denied (`resolution.by: "timeout"`), so that a caller polling
   * the decision learns the final answer. Returns how many it resolved.
   */
  async expireChallenges(): Promise<number> {
    const now = this.deps.clock.now();
    const candidates = await this.deps.store.pendingChallenges(now - this.options.challengeTtlMs, 500);
    const updates: Array<{ id: string; body: string }> = [];
    for (const c of candidates) {
      const d = JSON.parse(c.body) as Decision;
      if (d.challenge?.expires_at !== undefined && Date.parse(d.challenge.expires_at) > now) continue;
      // Claimed synchronously, like an MFA answer claims its challenge: exactly one of the two resolves it.
      if (!this.claim(d.id)) continue;
      const resolution: Resolution = {
        outcome: 'deny',
        by: 'timeout',
        at: new Date(now).toISOString(),
        reason: 'the challenge was not answered in time',
        learned: false,
      };
      updates.push({ id: d.id, body: JSON.stringify({ ...d, status: 'final', resolution }) });
    }
    try {
      const audit = challengesExpired(updates.map((u) => [u.id, sha256Base64(u.body)] as const));
      await this.deps.store.resolvePending(updates, { inputs: [audit], timeMs: now });
    } finally {
      for (const u of updates) this.resolving.delete(u.id);
    }
    return updates.length;
  }

  /** Claims a pending challenge for resolution; false if someone else is resolving it. */
  private claim(id: string): boolean {
    if (this.resolving.has(id)) return false;
    this.resolving.add(id);
    return true;
  }

  /** Warms the velocity detector with the attempts of the last window, so a restart does not reset it. */
  async start(): Promise<void> {
    const every = Math.min(30_000, Math.max(1_000, Math.floor(this.options.challengeTtlMs / 10)));
    this.sweeper = setInterval(
      () => void this.expireChallenges().catch((e) => this.deps.logger.error({ err: e }, 'expiring challenges failed')),
      every,
    );
    this.sweeper.unref();
    const since = this.deps.clock.now() - this.options.risk.velocity.windowMs;
    const attempts = await this.deps.store.recentAttempts(since, RECENT_ATTEMPTS_LIMIT);
    for (let i = attempts.length - 1; i >= 0; i--) {
      const a = attempts[i]!;
      const attempt: { timeMs: number; principal: string; failed: boolean; ip?: string } = {
        timeMs: a.event_time,
        principal: a.actor_key,
        failed: a.failed === 1,
      };
      if (a.ip !== null) attempt.ip = a.ip;
      this.velocity.record(attempt);
    }
  }

  async decide(raw: unknown, options: DecideOptions = {}): Promise<DecideResult> {
    const { clock, baselines } = this.deps;
    const now = clock.now();
    const parsed = parseEvent(raw, now, options.pointerPrefix ?? '');
    if (!parsed.ok) {
      throw new LoopgateError(
        parsed.unknownType ? 'LOOPGATE_ERR_UNKNOWN_EVENT_TYPE' : 'LOOPGATE_ERR_INVALID_EVENT',
        parsed.errors.map((e) => `${e.pointer.slice(1) || '/'} ${e.detail}`).join('; '),
        { errors: parsed.errors },
      );
    }
    const event = parsed.event;
    const model = { name: CONTEXT_MODEL_NAME, version: this.options.modelVersion };
    // Enrichment and feature extraction are part of the model: if they fail, the fallback decides.
    let features: ContextFeatures;
    let modelError: string | undefined;
    try {
      features = extractFeatures(event, this.lookup(event));
    } catch (e) {
      this.deps.logger.error({ err: e, event_type: event.type }, 'feature extraction failed; applying the fallback');
      modelError = `feature extraction failed: ${message(e)}`;
      features = { hour: event.time.slice(11, 13), time_ms: Date.parse(event.time) };
    }
    const actorKey = `${event.actor.kind}:${event.actor.id}`;
    const baseline = baselines.peek(actorKey) ?? (await baselines.load(actorKey));
    const target =
      event.type === 'mfa' && event.decision_id !== undefined
        ? await this.challengeTarget(event, options.pointerPrefix ?? '')
        : undefined;
    try {
      return await this.decideClaimed(event, features, modelError, model, actorKey, baseline, target, now, options);
    } finally {
      if (target !== undefined) this.resolving.delete(target.id);
    }
  }

  private async decideClaimed(
    event: LoopgateEvent,
    features: ContextFeatures,
    modelError: string | undefined,
    model: { name: string; version: string },
    actorKey: string,
    baseline: Baseline,
    target: Decision | undefined,
    now: number,
    options: DecideOptions,
  ): Promise<DecideResult> {
    const { policies, baselines } = this.deps;

    let velocity: VelocityObservation | undefined;
    if (event.type === 'login' || event.type === 'mfa') {
      const attempt: { timeMs: number; principal: string; failed: boolean; ip?: string } = {
        timeMs: features.time_ms,
        principal: actorKey,
        failed: event.result === 'failure',
      };
      if (features.ip !== undefined) attempt.ip = features.ip;
      if (!options.dryRun) this.velocity.record(attempt);
      velocity = this.velocity.observe(actorKey, features.ip, features.time_ms);
      if (options.dryRun) {
        velocity.attempts += 1;
        if (attempt.failed) velocity.failures += 1;
      }
    }

    let risk: RiskAssessment | { error: string; model: typeof model } = { error: modelError ?? '', model };
    let behaviour: BehaviourSample | undefined;
    if (modelError === undefined) {
      try {
        behaviour = event.type === 'login' ? behaviourOf(event.signals as CollectorSignals | undefined) : undefined;
        risk = assessRisk(
          { event, features, baseline, global: baselines.globalStats, velocity, nowMs: features.time_ms, exceptions: baselines.exceptionsFor(actorKey), behaviour },
          this.options.risk,
          this.options.modelVersion,
        );
      } catch (e) {
        this.deps.logger.error({ err: e, event_type: event.type }, 'risk model failed; applying the fallback');
        risk = { error: message(e), model };
      }
    }

    const bundle = policies.current();
    let policy: PolicyResult;
    if ('error' in risk) {
      policy = fallbackResult(bundle, event.type, `risk model failed: ${risk.error}`);
    } else {
      try {
        policy = evaluatePolicy(bundle, event.type, policyActivation(event, features, risk));
      } catch (e) {
        this.deps.logger.error({ err: e, event_type: event.type }, 'policy evaluation failed; applying the fallback');
        policy = fallbackResult(bundle, event.type, `policy evaluation failed: ${message(e)}`);
      }
    }

    const id = uuidv7(now, this.deps.random);
    // The decision keeps the user agent once, in its event; learning uses the full features (`features`).
    const { ua: _ua, ...storedFeatures } = features;
    const decision = assembleDecision(
      { id, nowMs: now, event, features: storedFeatures, risk, policyVersion: bundle.version, policy },
      this.options.learning,
    );
    if (decision.challenge !== undefined) {
      decision.challenge = { ...decision.challenge, expires_at: new Date(now + this.options.challengeTtlMs).toISOString() };
    }

    const observations: Observation[] = [];
    const learning: DecisionWrite['learning'] = [];
    const updates: DecisionWrite['updates'] = [];
    if (target !== undefined) {
      const resolution = this.resolveChallenge(target, event as MfaEvent, decision, now);
      decision.answers = resolution === undefined ? { decision_id: target.id } : { decision_id: target.id, resolution };
      if (resolution !== undefined) {
        resolution.learned = resolution.outcome === 'allow';
        // The answered challenge teaches the baseline instead of the MFA event itself (same session, once).
        decision.learned = false;
        const { ua: _targetUa, ...targetStored } = target.features;
        const resolved: Decision = { ...target, features: targetStored, status: 'final', resolution };
        updates.push({ id: target.id, status: 'final', body: JSON.stringify(resolved) });
        if (resolution.outcome === 'allow') {
          const obs = observationOf(target.event, target.features);
          observations.push(obs);
          learning.push({
            actor_key: `${target.event.actor.kind}:${target.event.actor.id}`,
            decision_id: target.id,
            source: 'challenge',
            created_at: now,
          });
        }
      }
    }
    if (decision.learned) {
      const obs = observationOf(event, features, behaviour);
      observations.unshift(obs);
      learning.unshift({ actor_key: actorKey, decision_id: id, source: 'decision', created_at: now });
    }
    if (options.dryRun) {
      decision.learned = false;
      decision.dry_run = true;
      if (decision.answers?.resolution !== undefined) {
        decision.answers.resolution.learned = false;
        delete decision.answers.resolution.reference;
      }
      return { decision, json: JSON.stringify(decision) };
    }
    const json = JSON.stringify(decision);

    const write: DecisionWrite = { decision: decisionRow(decision, json, actorKey, now), learning, updates };
    // A review opens its case in the same transaction: no decision waits for a person without a case to decide it.
    const reviews = decision.outcome === 'review' ? this.deps.reviews : undefined;
    const opened = reviews === undefined ? undefined : await reviews.opened(decision, now);
    if (opened !== undefined) {
      write.extra = opened.queries;
      write.audit = opened.audit;
    }
    const result = await this.committer.submit(write);
    if (opened !== undefined) reviews!.announceOpened(decision.id, opened.caseId);
    learning.forEach((l, i) => baselines.learn(l.actor_key, result.learningSeqs[i]!, observations[i]!));
    return { decision, json };
  }

  /** The stored decision, as JSON. */
  async get(id: string): Promise<string> {
    // UUIDs compare case-insensitively (RFC 9562); ids are stored in lower case.
    const stored = UUID_PATTERN.test(id) ? await this.deps.store.getDecision(id.toLowerCase()) : undefined;
    if (stored === undefined) throw new LoopgateError('LOOPGATE_ERR_DECISION_NOT_FOUND', `no decision with id ${id}`);
    return stored.body;
  }

  /** Stops background work and waits until every accepted decision is committed. */
  async drain(): Promise<void> {
    clearInterval(this.sweeper);
    await this.committer.drain();
  }

  private lookup(event: LoopgateEvent) {
    const { ip, geo } = event.context;
    if (ip === undefined) return undefined;
    // A caller that resolved the location itself (country and ASN) spares the lookup.
    if (geo?.country !== undefined && geo.asn !== undefined) return undefined;
    return this.deps.geo.lookup(ip);
  }

  private async challengeTarget(event: MfaEvent, prefix: string): Promise<Decision> {
    const pointer = `#${prefix}/decision_id`;
    const bad = (detail: string, code: 'LOOPGATE_ERR_INVALID_EVENT' | 'LOOPGATE_ERR_CONFLICT' = 'LOOPGATE_ERR_INVALID_EVENT') =>
      new LoopgateError(code, `decision_id ${detail}`, { errors: [{ pointer, detail }] });
    const stored = await this.deps.store.getDecision(event.decision_id!.toLowerCase());
    if (stored === undefined) throw bad('names no decision');
    const target = JSON.parse(stored.body) as Decision;
    target.features = featuresOfStored(target);
    if (target.event.subject.id !== event.subject.id) throw bad('names a decision about another subject');
    if (target.outcome !== 'challenge') throw bad('names a decision that did not ask for a challenge');
    if (target.status !== 'pending') {
      throw bad(
        target.resolution?.by === 'timeout' ? 'names a challenge that expired unanswered' : 'names a challenge that was already answered',
        'LOOPGATE_ERR_CONFLICT',
      );
    }
    // Claimed before anything else can happen on the event loop: a second answer, or the expiry sweep, is refused.
    if (!this.claim(target.id)) throw bad('names a challenge that is being answered right now', 'LOOPGATE_ERR_CONFLICT');
    return target;
  }

  private resolveChallenge(target: Decision, mfa: MfaEvent, own: Decision, now: number): Resolution | undefined {
    const base = { by: 'challenge' as const, at: new Date(now).toISOString(), reference: own.id };
    const expires = target.challenge?.expires_at;
    if (expires !== undefined && now > Date.parse(expires)) return { ...base, outcome: 'deny', reason: 'the challenge expired before it was answered' };
    if (mfa.result === 'failure') return { ...base, outcome: 'deny', reason: `${mfa.method} check failed` };
    if (own.outcome === 'deny') return { ...base, outcome: 'deny', reason: 'the MFA event itself was denied' };
    if (own.outcome === 'allow') return { ...base, outcome: 'allow', reason: `${mfa.method} check passed` };
    return undefined; // the MFA event is itself pending (challenge or review): the original waits
  }
}

/** The audit entry of a group commit: every decision and every resolved challenge, by id and digest. */
function batchAudit(batch: DecisionWrite[]): AuditInput {
  return decisionsRecorded(
    batch.map((w) => [w.decision.id, sha256Base64(w.decision.body)] as const),
    batch.flatMap((w) => w.updates.map((u) => [u.id, sha256Base64(u.body)] as const)),
  );
}

function decisionRow(d: Decision, json: string, actorKey: string, now: number): NewDecisionRow {
  const e = d.event;
  const failed = (e.type === 'login' || e.type === 'mfa') && e.result === 'failure';
  return {
    id: d.id,
    created_at: now,
    event_time: d.features.time_ms,
    event_type: e.type,
    subject_id: e.subject.id,
    actor_key: actorKey,
    ip: e.context.ip ?? null,
    failed: failed ? 1 : 0,
    outcome: d.outcome,
    status: d.status,
    risk_score: d.risk.score,
    risk_level: d.risk.level,
    policy_version: d.policy.version,
    learned: d.learned ? 1 : 0,
    body: json,
  };
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
