/**
 * The risk engine: runs the detectors on an event and fuses their evidence into one score.
 *
 * Every detector reports signals in logit points (log-odds). The score is the logistic function of a bias plus
 * the sum of contributions, so each reason's contribution says exactly how much it moved the score, and a
 * learned fusion model (issue: learning from people) can later replace the fixed weights without changing
 * the shape of a decision.
 */
import type { LoopgateEvent } from '../events/schema.js';
import { assessBehaviour, type BehaviourConfig, type BehaviourSample } from '../behaviour/signals.js';
import { summariseBaseline, type Baseline, type BaselineSummary, type Counts, type Decay } from './baseline.js';
import type { ContextFeatures } from './features.js';
import { exceptionSentence, matchExceptions, type BaselineException } from './exceptions.js';
import { assessContext, type FreemanConfig, type FreemanFacts, type SignalResult } from './freeman.js';
import { assessTravel, type TravelConfig } from './travel.js';
import { assessVelocity, type VelocityConfig, type VelocityObservation } from './velocity.js';

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export interface RiskConfig {
  decay: Decay;
  freeman: FreemanConfig;
  travel: TravelConfig;
  velocity: VelocityConfig;
  /** Logit of an event with no evidence either way (the prior odds of an attack). */
  bias: number;
  /** Lower score bounds of the levels above `low`. */
  levels: { medium: number; high: number; critical: number };
  /** Distinct values kept per feature in a principal's baseline. */
  subjectValueCap: number;
  /** Distinct values kept per feature in the global statistics. */
  globalValueCap: number;
  /** Logit points for an external session signal, by its level. */
  sessionSignalWeights: { low: number; medium: number; high: number };
  /** Typing and pointer rhythm (behaviour/signals.ts). */
  behaviour: BehaviourConfig;
}

export interface RiskReason {
  signal: string;
  contribution: number;
  sentence: string;
  detail?: Record<string, unknown>;
}

export interface RiskFacts extends FreemanFacts {
  impossible_travel?: boolean;
  speed_kmh?: number;
  failed_attempts?: number;
  accounts_from_ip?: number;
}

export interface RiskAssessment {
  score: number;
  level: RiskLevel;
  reasons: RiskReason[];
  facts: RiskFacts;
  baseline: BaselineSummary;
  model: { name: string; version: string };
}

export interface RiskInputs {
  event: LoopgateEvent;
  features: ContextFeatures;
  baseline: Baseline | undefined;
  global: Counts;
  velocity: VelocityObservation | undefined;
  nowMs: number;
  /** Time-limited exceptions to the actor's baseline (reviewers add them with an approval). */
  exceptions?: readonly BaselineException[];
  /** The login's typing and pointer sample, from the collector's signals. */
  behaviour?: BehaviourSample;
}

export const CONTEXT_MODEL_NAME = 'loopgate-context';

export function assessRisk(inputs: RiskInputs, config: RiskConfig, modelVersion: string): RiskAssessment {
  const { event, features, baseline } = inputs;
  const who = event.actor.id;
  const reasons: SignalResult[] = [];
  const context = assessContext(
    { features, baseline, global: inputs.global, decay: config.decay, nowMs: inputs.nowMs, who },
    config.freeman,
  );
  reasons.push(...context.signals);
  // assessContext made this object for this call: extended in place (a copy by spread would get a hidden class of
  // its own per call in Node 20's V8; see "Hidden classes" in docs/benchmarks.md).
  const facts: RiskFacts = context.facts;

  const travel = assessTravel(features, baseline?.lastTrusted, who, config.travel);
  if (travel !== undefined) {
    reasons.push(travel.signal);
    facts.impossible_travel = travel.impossible;
    facts.speed_kmh = Math.round(travel.speedKmh);
  }

  if (inputs.velocity !== undefined) {
    reasons.push(...assessVelocity(inputs.velocity, who, features.ip, config.velocity));
    facts.failed_attempts = inputs.velocity.failures;
    facts.accounts_from_ip = inputs.velocity.accountsFromIp;
  }

  if (event.type === 'session.signal' && event.signal.level !== undefined) {
    reasons.push({
      signal: 'session_signal',
      contribution: config.sessionSignalWeights[event.signal.level],
      sentence: `session signal ${event.signal.kind}${event.signal.source ? ` from ${event.signal.source}` : ''} at level ${event.signal.level}${event.signal.reason ? `: ${event.signal.reason}` : ''}`,
      detail: { ...event.signal },
    });
  }

  if (inputs.behaviour !== undefined) {
    reasons.push(...assessBehaviour(inputs.behaviour, baseline?.behaviour, inputs.global.pointer, who, config.behaviour));
  }

  const excepted = inputs.exceptions === undefined ? undefined : matchExceptions(features, inputs.exceptions, inputs.nowMs);
  if (excepted !== undefined) {
    for (const r of reasons) if (excepted.signals.has(r.signal) && r.contribution > 0) r.contribution = 0;
    for (const f of excepted.facts) delete (facts as Record<string, unknown>)[f];
    for (const e of excepted.matched) reasons.push({ signal: 'exception', contribution: 0, sentence: exceptionSentence(e, who), detail: { feature: e.feature, value: e.value } });
  }

  let logit = config.bias;
  for (const r of reasons) logit += r.contribution;
  const score = 1 / (1 + Math.exp(-logit));
  reasons.sort((a, b) => b.contribution - a.contribution);
  return {
    score,
    level: levelOf(score, config.levels),
    reasons: reasons.map((r) => ({ ...r, contribution: round(r.contribution) })),
    facts,
    // Counts only on the hot path; the full baseline is for reviewers and is read on demand.
    baseline: summariseBaseline(baseline, 0),
    model: { name: CONTEXT_MODEL_NAME, version: modelVersion },
  };
}

export function levelOf(score: number, levels: RiskConfig['levels']): RiskLevel {
  if (score >= levels.critical) return 'critical';
  if (score >= levels.high) return 'high';
  if (score >= levels.medium) return 'medium';
  return 'low';
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
