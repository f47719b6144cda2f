/**
 * A decision, assembled from its parts: the validated event, its features, the risk assessment (or the reason
 * the model failed), and the policy result. Pure: ids and time are passed in.
 */
import type { LoopgateEvent } from './events/schema.js';
import type { ContextFeatures } from './risk/features.js';
import type { RiskAssessment, RiskLevel } from './risk/engine.js';
import { RISK_LEVELS } from './risk/engine.js';
import type { Fallback, FiredRule, PolicyResult } from './policy/evaluate.js';
import type { Challenge, Outcome, Route } from './policy/types.js';

export type DecisionStatus = 'pending' | 'final';

/** How a pending decision became final. */
export interface Resolution {
  outcome: 'allow' | 'deny';
  by: 'challenge' | 'review' | 'timeout' | 'cancelled';
  at: string;
  reason?: string;
  /** The event or case that resolved it. */
  reference?: string;
  /** Whether resolving it taught the principal's baseline (a passed challenge does). */
  learned?: boolean;
}

export interface Decision {
  id: string;
  /** The machine's decision. */
  outcome: Outcome;
  status: DecisionStatus;
  created_at: string;
  event: LoopgateEvent;
  features: ContextFeatures;
  risk: RiskAssessment | { score: null; level: 'unknown'; reasons: Array<{ signal: string; contribution: 0; sentence: string }>; model: { name: string; version: string } };
  policy: { version: string; rules: FiredRule[]; decisive?: { policy: string; rule: string } };
  challenge?: Challenge & { expires_at?: string };
  review?: { route: Route };
  fallback?: Fallback;
  resolution?: Resolution;
  /** For an MFA event that answered a challenge: that decision and how it was resolved. */
  answers?: { decision_id: string; resolution?: Resolution };
  /** Whether the event's context enters the actor's baseline as a trusted observation at decision time. */
  learned: boolean;
  /** Present on a dry run: nothing was stored and nothing learned. */
  dry_run?: true;
}

export interface DecideParts {
  id: string;
  nowMs: number;
  event: LoopgateEvent;
  features: ContextFeatures;
  risk: RiskAssessment | { error: string; model: { name: string; version: string } };
  policyVersion: string;
  policy: PolicyResult;
}

export interface LearningRule {
  /** Highest risk level an allowed event may have to be learned from. */
  maxLevel: RiskLevel;
}

export function assembleDecision(parts: DecideParts, learning: LearningRule): Decision {
  const { event, policy } = parts;
  const risk: Decision['risk'] =
    'error' in parts.risk
      ? {
          score: null,
          level: 'unknown',
          reasons: [{ signal: 'model_error', contribution: 0, sentence: `risk model failed: ${parts.risk.error}` }],
          model: parts.risk.model,
        }
      : parts.risk;
  const decision: Decision = {
    id: parts.id,
    outcome: policy.outcome,
    status: policy.outcome === 'allow' || policy.outcome === 'deny' ? 'final' : 'pending',
    created_at: new Date(parts.nowMs).toISOString(),
    event,
    features: parts.features,
    risk,
    policy: { version: parts.policyVersion, rules: policy.rules },
    learned: false,
  };
  if (policy.decisive !== undefined) decision.policy.decisive = policy.decisive;
  if (policy.challenge !== undefined) decision.challenge = policy.challenge;
  if (policy.route !== undefined) decision.review = { route: policy.route };
  if (policy.fallback !== undefined) decision.fallback = policy.fallback;
  decision.learned = isTrustedAtDecision(decision, learning);
  return decision;
}

/**
 * Baselines learn only from trusted outcomes, so that an attacker cannot train them: an allowed event with low
 * enough risk, whose own credential check did not fail, decided without a fallback. Challenged events are
 * learned later, when the challenge is passed; reviewed ones when a human approves.
 */
export function isTrustedAtDecision(d: Decision, learning: LearningRule): boolean {
  if (d.outcome !== 'allow' || d.fallback !== undefined || d.risk.level === 'unknown') return false;
  if (RISK_LEVELS.indexOf(d.risk.level) > RISK_LEVELS.indexOf(learning.maxLevel)) return false;
  if (d.event.type === 'session.signal') return false;
  // What an exception let through teaches nothing: when the exception ends, the value is as unknown as before.
  if (d.risk.reasons.some((r) => r.signal === 'exception')) return false;
  if ((d.event.type === 'login' || d.event.type === 'mfa') && d.event.result === 'failure') return false;
  return true;
}

/** The variables a policy condition sees. */
export function policyActivation(event: LoopgateEvent, features: ContextFeatures, risk: RiskAssessment): Record<string, unknown> {
  const geo: Record<string, unknown> = {};
  if (features.country !== undefined) geo.country = features.country;
  if (features.city !== undefined) geo.city = features.city;
  if (features.asn !== undefined) geo.asn = Number(features.asn.slice(2));
  if (features.as_org !== undefined) geo.as_org = features.as_org;
  if (features.latitude !== undefined) geo.latitude = features.latitude;
  if (features.longitude !== undefined) geo.longitude = features.longitude;
  const signals: Record<string, number> = {};
  for (const r of risk.reasons) signals[r.signal] = (signals[r.signal] ?? 0) + r.contribution;
  // Not `{ ...event.context, geo }`: a literal that starts with a spread and adds a property gets a hidden class of
  // its own per call in Node 20's V8 (see "Hidden classes" in docs/benchmarks.md). `geo` leads, and wins below.
  const context: Record<string, unknown> = { geo, ...event.context };
  context.geo = geo;
  if (features.browser !== undefined) {
    context.client = { browser: features.browser, os: features.os, device_type: features.device_type };
  }
  return {
    event,
    subject: event.subject,
    actor: event.actor,
    context,
    risk: {
      score: risk.score,
      level: risk.level,
      signals,
      facts: risk.facts,
      baseline: { events: risk.baseline.events, logins: risk.baseline.logins },
      reasons: risk.reasons.map((r) => r.sentence),
    },
  };
}
