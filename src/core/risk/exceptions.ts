/**
 * Baseline exceptions: a reviewer's time-limited statement that a context value is expected for a principal
 * ("travelling in Brazil until 5 May"). While one holds and the event has that value, the signals the value feeds
 * stop counting against the event (their contribution is capped at zero) and the facts a policy reads ("new
 * country") are cleared; the decision says so in a reason of its own. Nothing is added to the baseline, and an
 * event that an exception touched is not learned from: when the exception ends, the value is as unknown as before.
 */
import type { ContextFeatures, TrackedFeature } from './features.js';

export interface BaselineException {
  feature: TrackedFeature;
  value: string;
  /** Until when (ms). */
  until: number;
  reason: string;
  created_by: string;
}

/** Which signals and facts a feature's value feeds. */
const COVERS: Partial<Record<TrackedFeature, { signals: string[]; facts: string[] }>> = {
  ip: { signals: ['network'], facts: ['new_ip'] },
  asn: { signals: ['network'], facts: ['new_ip', 'new_network'] },
  country: { signals: ['network', 'travel'], facts: ['new_ip', 'new_network', 'new_country', 'impossible_travel'] },
  city: { signals: ['travel'], facts: ['impossible_travel'] },
  ua: { signals: ['client'], facts: ['new_user_agent'] },
  browser: { signals: ['client'], facts: ['new_user_agent', 'new_client'] },
  os: { signals: ['client'], facts: ['new_user_agent', 'new_client'] },
  client: { signals: ['client'], facts: ['new_user_agent', 'new_client'] },
  device_type: { signals: ['client'], facts: ['new_user_agent', 'new_client', 'new_device_type'] },
  device_id: { signals: ['device'], facts: ['new_device'] },
  hour: { signals: ['hour'], facts: ['unusual_hour'] },
};

export interface Excepted {
  signals: Set<string>;
  facts: Set<string>;
  /** The exceptions that matched, for the decision's reason. */
  matched: BaselineException[];
}

/** The exceptions in force at `nowMs` that match this event's features. */
export function matchExceptions(features: ContextFeatures, exceptions: readonly BaselineException[], nowMs: number): Excepted | undefined {
  const matched = exceptions.filter((e) => e.until > nowMs && (features as unknown as Record<string, unknown>)[e.feature] === e.value);
  if (matched.length === 0) return undefined;
  const signals = new Set<string>();
  const facts = new Set<string>();
  for (const e of matched) {
    for (const s of COVERS[e.feature]?.signals ?? []) signals.add(s);
    for (const f of COVERS[e.feature]?.facts ?? []) facts.add(f);
  }
  return { signals, facts, matched };
}

export function exceptionSentence(e: BaselineException, who: string): string {
  return `baseline exception: ${e.feature} ${e.value} expected for ${who} until ${new Date(e.until).toISOString().slice(0, 10)} (${e.reason}; by ${e.created_by})`;
}
