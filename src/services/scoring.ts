/**
 * Scoring: the CPU-bound half of a decision — validate the event, enrich it, read the actor's baseline, score the
 * risk, evaluate the policy, assemble and serialise the decision. It stores nothing and learns nothing: the
 * decision service commits what it returns and folds what it teaches after the commit.
 *
 * The same code runs in two places. In the main thread (`loopgate decide`, `decisions.scoring_thread: false`)
 * it reads the baseline service and the policy service directly. In the scoring thread (the default for a
 * server) it reads a mirror of them that the main thread keeps up to date (see scoring-thread.ts), so the event
 * loop that serves HTTP only parses requests, commits and answers.
 */
import type { GeoIp } from '../adapters/geoip.js';
import { behaviourOf, type BehaviourSample, type CollectorSignals } from '../core/behaviour/signals.js';
import { assembleDecision, policyActivation, type Decision, type LearningRule, type Resolution } from '../core/decision.js';
import { LoopgateError } from '../core/errors.js';
import { parseEvent } from '../core/events/parse.js';
import type { LoopgateEvent, MfaEvent } from '../core/events/schema.js';
import { evaluatePolicy, fallbackResult, type PolicyResult } from '../core/policy/evaluate.js';
import type { CompiledBundle } from '../core/policy/load.js';
import type { Outcome } from '../core/policy/types.js';
import { observationOf, type Baseline, type Counts, type Observation } from '../core/risk/baseline.js';
import { assessRisk, CONTEXT_MODEL_NAME, type RiskAssessment, type RiskConfig } from '../core/risk/engine.js';
import type { BaselineException } from '../core/risk/exceptions.js';
import { extractFeatures, type ContextFeatures } from '../core/risk/features.js';
import { VelocityTracker, type Attempt, type VelocityObservation } from '../core/risk/velocity.js';
import type { NewDecisionRow, NewLearningRow } from '../store/store.js';
import { featuresOfStored } from './baselines.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';

export interface ScoringSettings {
  risk: RiskConfig;
  /** Version of the risk model (its configuration hash): recorded with every decision. */
  modelVersion: string;
  learning: LearningRule;
  challengeTtlMs: number;
}

/** What scoring reads: the services themselves in the main thread, their mirror in the scoring thread. */
export interface ScoringState {
  geo: GeoIp;
  logger: Logger;
  bundle(): CompiledBundle;
  global(): Counts;
  exceptionsFor(actorKey: string): BaselineException[] | undefined;
  /** The cached baseline, or undefined when it must be loaded. */
  peekBaseline(actorKey: string): Baseline | undefined;
  loadBaseline(actorKey: string): Promise<Baseline>;
  /**
   * The pending challenge an mfa event answers, claimed for this request (the main thread reads the store and
   * makes sure two answers cannot both resolve it). Throws a LoopgateError when the event may not answer it.
   */
  challengeTarget(requestId: string, decisionId: string, subjectId: string, pointerPrefix: string): Promise<Decision>;
}

export interface ScoreRequest {
  /** The event as received (validated here). */
  event: unknown;
  /** The decision's id and time, chosen by the caller (the main thread owns the clock and the random source). */
  id: string;
  now: number;
  dryRun: boolean;
  /** Where the event sits in the request body, for error pointers (e.g. "/event"). */
  pointerPrefix: string;
}

/** A scored decision, ready to be committed: everything in it is plain data (it crosses threads). */
export interface Scored {
  id: string;
  outcome: Outcome;
  /** The decision as stored and returned: serialised once. */
  json: string;
  /** SHA-256 of `json`, for the audit entry of its commit. */
  digest: string;
  /** Undefined on a dry run (nothing to store). */
  row?: NewDecisionRow;
  learning: NewLearningRow[];
  /** What each learning entry teaches, in the same order. */
  observations: Observation[];
  /** Decisions this one resolves (an mfa event answering a challenge), with their new bodies. */
  updates: Array<{ id: string; status: string; body: string; digest: string }>;
}

export class Scorer {
  private readonly velocity: VelocityTracker;

  constructor(
    private readonly state: ScoringState,
    private readonly settings: ScoringSettings,
  ) {
    this.velocity = new VelocityTracker(settings.risk.velocity);
  }

  /** Counts an attempt of the last window (a restart warms the velocity detector with them). */
  recordAttempt(attempt: Attempt): void {
    this.velocity.record(attempt);
  }

  async score(request: ScoreRequest): Promise<Scored> {
    const { now, pointerPrefix } = request;
    const parsed = parseEvent(request.event, now, pointerPrefix);
    if (!parsed.ok) {
      throw new LoopgateError(
        parsed.unknownType ? 'LOOPGATE_ERR_UNKNOWN_EVENT_TYPE' : 'LOOPGATE_ERR_INVALID_EVENT',
        parsed.errors.map((e) => `${e.pointer.slice(1) || '/'} ${e.detail}`).join('; '),
        { errors: parsed.errors },
      );
    }
    const event = parsed.event;
    // Enrichment and feature extraction are part of the model: if they fail, the fallback decides.
    let features: ContextFeatures;
    let modelError: string | undefined;
    try {
      features = extractFeatures(event, this.lookup(event));
    } catch (e) {
      this.state.logger.error({ err: e, event_type: event.type }, 'feature extraction failed; applying the fallback');
      modelError = `feature extraction failed: ${message(e)}`;
      features = { hour: event.time.slice(11, 13), time_ms: Date.parse(event.time) };
    }
    const actorKey = `${event.actor.kind}:${event.actor.id}`;
    const baseline = this.state.peekBaseline(actorKey) ?? (await this.state.loadBaseline(actorKey));
    const target =
      event.type === 'mfa' && event.decision_id !== undefined
        ? await this.state.challengeTarget(request.id, event.decision_id, event.subject.id, pointerPrefix)
        : undefined;
    if (target !== undefined) target.features = featuresOfStored(target);
    return this.scoreParsed(event, features, modelError, actorKey, baseline, target, request);
  }

  private scoreParsed(
    event: LoopgateEvent,
    features: ContextFeatures,
    modelError: string | undefined,
    actorKey: string,
    baseline: Baseline,
    target: Decision | undefined,
    request: ScoreRequest,
  ): Scored {
    const { now, dryRun, id } = request;
    const model = { name: CONTEXT_MODEL_NAME, version: this.settings.modelVersion };

    let velocity: VelocityObservation | undefined;
    if (event.type === 'login' || event.type === 'mfa') {
      const attempt: Attempt = { timeMs: features.time_ms, principal: actorKey, failed: event.result === 'failure' };
      if (features.ip !== undefined) attempt.ip = features.ip;
      if (!dryRun) this.velocity.record(attempt);
      velocity = this.velocity.observe(actorKey, features.ip, features.time_ms);
      if (dryRun) {
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
          {
            event,
            features,
            baseline,
            global: this.state.global(),
            velocity,
            nowMs: features.time_ms,
            exceptions: this.state.exceptionsFor(actorKey),
            behaviour,
          },
          this.settings.risk,
          this.settings.modelVersion,
        );
      } catch (e) {
        this.state.logger.error({ err: e, event_type: event.type }, 'risk model failed; applying the fallback');
        risk = { error: message(e), model };
      }
    }

    const bundle = this.state.bundle();
    let policy: PolicyResult;
    if ('error' in risk) {
      policy = fallbackResult(bundle, event.type, `risk model failed: ${risk.error}`);
    } else {
      try {
        policy = evaluatePolicy(bundle, event.type, policyActivation(event, features, risk));
      } catch (e) {
        this.state.logger.error({ err: e, event_type: event.type }, 'policy evaluation failed; applying the fallback');
        policy = fallbackResult(bundle, event.type, `policy evaluation failed: ${message(e)}`);
      }
    }

    // The decision keeps the user agent once, in its event; learning uses the full features (`features`).
    const { ua: _ua, ...storedFeatures } = features;
    const decision = assembleDecision(
      { id, nowMs: now, event, features: storedFeatures, risk, policyVersion: bundle.version, policy },
      this.settings.learning,
    );
    if (decision.challenge !== undefined) {
      // The policy result's challenge is this decision's own copy (see resultFor in core/policy/evaluate.ts).
      decision.challenge.expires_at = new Date(now + this.settings.challengeTtlMs).toISOString();
    }

    const observations: Observation[] = [];
    const learning: Scored['learning'] = [];
    const updates: Scored['updates'] = [];
    if (target !== undefined) {
      const resolution = resolveChallenge(target, event as MfaEvent, decision, now);
      decision.answers = resolution === undefined ? { decision_id: target.id } : { decision_id: target.id, resolution };
      if (resolution !== undefined) {
        resolution.learned = resolution.outcome === 'allow';
        // The answered challenge teaches the baseline instead of the MFA event itself (same session, once).
        decision.learned = false;
        const { ua: _targetUa, ...targetStored } = target.features;
        const body = JSON.stringify({ ...target, features: targetStored, status: 'final', resolution } satisfies Decision);
        updates.push({ id: target.id, status: 'final', body, digest: sha256Base64(body) });
        if (resolution.outcome === 'allow') {
          observations.push(observationOf(target.event, target.features));
          learning.push({ actor_key: `${target.event.actor.kind}:${target.event.actor.id}`, decision_id: target.id, source: 'challenge', created_at: now });
        }
      }
    }
    if (decision.learned) {
      observations.unshift(observationOf(event, features, behaviour));
      learning.unshift({ actor_key: actorKey, decision_id: id, source: 'decision', created_at: now });
    }
    if (dryRun) {
      decision.learned = false;
      decision.dry_run = true;
      if (decision.answers?.resolution !== undefined) {
        decision.answers.resolution.learned = false;
        delete decision.answers.resolution.reference;
      }
      const json = JSON.stringify(decision);
      return { id, outcome: decision.outcome, json, digest: '', learning: [], observations: [], updates: [] };
    }
    const json = JSON.stringify(decision);
    return {
      id,
      outcome: decision.outcome,
      json,
      digest: sha256Base64(json),
      row: decisionRow(decision, json, actorKey, now),
      learning,
      observations,
      updates,
    };
  }

  private lookup(event: LoopgateEvent) {
    const { ip, geo } = event.context;
    if (ip === undefined) return undefined;
    // A caller that resolved the location itself (country and ASN) spares the lookup.
    if (geo?.country !== undefined && geo.asn !== undefined) return undefined;
    return this.state.geo.lookup(ip);
  }
}

function resolveChallenge(target: Decision, mfa: MfaEvent, own: Decision, now: number): Resolution | undefined {
  const base = { by: 'challenge' as const, at: new Date(now).toISOString(), reference: own.id };
  const expires = target.challenge?.expires_at;
  if (expires !== undefined && now > Date.parse(expires)) return { ...base, outcome: 'deny', reason: 'the challenge expired before it was answered' };
  if (mfa.result === 'failure') return { ...base, outcome: 'deny', reason: `${mfa.method} check failed` };
  if (own.outcome === 'deny') return { ...base, outcome: 'deny', reason: 'the MFA event itself was denied' };
  if (own.outcome === 'allow') return { ...base, outcome: 'allow', reason: `${mfa.method} check passed` };
  return undefined; // the MFA event is itself pending (challenge or review): the original waits
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
