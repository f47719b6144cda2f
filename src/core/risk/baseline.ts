/**
 * Baselines: time-decayed counts of context feature values, per acting principal and globally.
 *
 * Weights decay exponentially with a configurable half-life. Rather than rewriting every count as time passes,
 * each observation at time t adds exp(λ·(t − T0)) in a fixed frame, and the counts are kept as natural
 * logarithms of those sums (log-sum-exp), so they never overflow however long a deployment runs. The decayed
 * ("effective") count at time `now` is exp(w − λ·(now − T0)). Ratios of counts need no `now` at all.
 *
 * Baselines only learn from trusted outcomes; the service layer decides what is trusted, this module only folds.
 */
import type { LoopgateEvent } from '../events/schema.js';
import {
  behaviourOf,
  deserialiseBehaviour,
  emptySubjectBehaviour,
  foldBehaviour,
  foldPopulation,
  serialiseBehaviour,
  summariseBehaviour,
  type BehaviourConfig,
  type BehaviourSample,
  type BehaviourSummary,
  type CollectorSignals,
  type SerialBehaviour,
  type SubjectBehaviour,
} from '../behaviour/signals.js';
import { deserialisePointer, serialisePointer, type PointerProfile, type SerialPointerProfile } from '../behaviour/pointer-profile.js';
import { TRACKED_FEATURES, type ContextFeatures, type TrackedFeature } from './features.js';

/** The fixed frame origin: 2020-01-01T00:00:00Z. */
const T0 = Date.UTC(2020, 0, 1);

export interface ValueStats {
  /** log of the decayed weight in the fixed frame */
  w: number;
  /** raw count of observations, for sentences people can read */
  n: number;
  /** last observation, ms since epoch */
  last: number;
}

export interface CountTable {
  total: ValueStats;
  values: Map<string, ValueStats>;
}

export interface Counts {
  n: number;
  /** raw count of learned logins, to phrase sentences ("in 212 logins") */
  nLogin: number;
  w: number;
  features: Map<TrackedFeature, CountTable>;
  learnedSeq: number;
  /** The population's pointer profile (global statistics only). */
  pointer?: PointerProfile;
}

/** Where and when the principal last was, according to a trusted event that had a location. */
export interface LastTrusted {
  time: number;
  latitude?: number;
  longitude?: number;
  country?: string;
  city?: string;
  ip?: string;
}

export interface Baseline extends Counts {
  key: string;
  first: number;
  last: number;
  lastTrusted?: LastTrusted;
  /** Typing and pointer profiles, from trusted logins that carried the collector's signals. */
  behaviour?: SubjectBehaviour;
}

export type GlobalStats = Counts;

export interface Decay {
  halfLifeMs: number;
}

/** One trusted observation to fold into a baseline. */
export interface Observation {
  timeMs: number;
  isLogin: boolean;
  features: ContextFeatures;
  behaviour?: BehaviourSample;
}

/** The observation of an event (its behaviour computed from its signals unless the caller already has it). */
export function observationOf(event: LoopgateEvent, features: ContextFeatures, behaviour?: BehaviourSample): Observation {
  const obs: Observation = { timeMs: features.time_ms, isLogin: event.type === 'login', features };
  const b = behaviour ?? (event.type === 'login' ? storedBehaviour(event.signals) : undefined);
  if (b !== undefined) obs.behaviour = b;
  return obs;
}

/**
 * The behaviour of a stored login. Logins stored before the collector's payload was validated may carry anything in
 * `signals`: such a payload teaches nothing rather than stopping the replay of the learning log.
 */
function storedBehaviour(signals: unknown): BehaviourSample | undefined {
  try {
    return behaviourOf(signals as CollectorSignals | undefined);
  } catch {
    return undefined;
  }
}

export function logWeightAt(timeMs: number, decay: Decay): number {
  return (Math.LN2 * (timeMs - T0)) / decay.halfLifeMs;
}

/** log(exp(a) + exp(b)) without overflow. */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** The decayed count at `nowMs` of a log weight. */
export function effective(w: number, nowMs: number, decay: Decay): number {
  return Math.exp(w - logWeightAt(nowMs, decay));
}

export function emptyCounts(): Counts {
  return { n: 0, nLogin: 0, w: -Infinity, features: new Map(), learnedSeq: 0 };
}

export function emptyBaseline(key: string): Baseline {
  // `key` before the spread: see "Hidden classes" in docs/benchmarks.md.
  return { key, ...emptyCounts(), first: 0, last: 0 };
}

function bump(stats: ValueStats | undefined, lw: number, timeMs: number): ValueStats {
  if (stats === undefined) return { w: lw, n: 1, last: timeMs };
  stats.w = logAddExp(stats.w, lw);
  stats.n += 1;
  if (timeMs > stats.last) stats.last = timeMs;
  return stats;
}

/**
 * Folds one observation into counts. `cap` bounds the distinct values kept per feature: beyond it the values
 * with the least decayed weight are forgotten (for a subject: the oldest, rarest IPs and devices).
 */
export function fold(counts: Counts, obs: Observation, decay: Decay, cap: number): void {
  const lw = logWeightAt(obs.timeMs, decay);
  counts.n += 1;
  if (obs.isLogin) counts.nLogin += 1;
  counts.w = logAddExp(counts.w, lw);
  for (const feature of TRACKED_FEATURES) {
    const value = obs.features[feature];
    if (value === undefined) continue;
    let table = counts.features.get(feature);
    if (table === undefined) {
      table = { total: { w: -Infinity, n: 0, last: 0 }, values: new Map() };
      counts.features.set(feature, table);
    }
    bump(table.total, lw, obs.timeMs);
    table.values.set(value, bump(table.values.get(value), lw, obs.timeMs));
    if (table.values.size > cap) prune(table, cap, value);
  }
}

/**
 * Drops the lightest values until `keep` remain, never the value just observed: a new device is the lightest
 * value of a full baseline, and dropping it would mean a principal could never learn anything new. Pruning in
 * bulk keeps the cost amortised for large caps.
 */
function prune(table: CountTable, cap: number, justSeen: string): void {
  const keep = cap <= 64 ? cap : Math.floor(cap * 0.8);
  const others = [...table.values.entries()].filter(([v]) => v !== justSeen).sort((a, b) => b[1].w - a[1].w);
  table.values = new Map([...others.slice(0, keep - 1), [justSeen, table.values.get(justSeen)!]]);
}

/** Folds one observation into the global statistics (context counts and the population's pointer profile). */
export function foldGlobal(global: Counts, obs: Observation, decay: Decay, cap: number): void {
  fold(global, obs, decay, cap);
  if (obs.behaviour !== undefined) {
    const p = foldPopulation(global.pointer, obs.behaviour);
    if (p !== undefined) global.pointer = p;
  }
}

export function foldBaseline(
  baseline: Baseline,
  obs: Observation,
  decay: Decay,
  cap: number,
  behaviour?: { config: BehaviourConfig; population: PointerProfile | undefined },
): void {
  fold(baseline, obs, decay, cap);
  if (obs.behaviour !== undefined && behaviour !== undefined) {
    baseline.behaviour ??= emptySubjectBehaviour();
    foldBehaviour(baseline.behaviour, obs.behaviour, behaviour.population, behaviour.config);
  }
  if (baseline.first === 0 || obs.timeMs < baseline.first) baseline.first = obs.timeMs;
  if (obs.timeMs > baseline.last) baseline.last = obs.timeMs;
  const f = obs.features;
  // The last trusted *location*: an event without coordinates says nothing about where the principal is, so it
  // must not erase the place impossible travel is measured from.
  if (f.latitude === undefined || f.longitude === undefined) return;
  if (baseline.lastTrusted === undefined || obs.timeMs >= baseline.lastTrusted.time) {
    const lt: LastTrusted = { time: obs.timeMs, latitude: f.latitude, longitude: f.longitude };
    if (f.country !== undefined) lt.country = f.country;
    if (f.city !== undefined) lt.city = f.city;
    if (f.ip !== undefined) lt.ip = f.ip;
    baseline.lastTrusted = lt;
  }
}

export function valueStats(counts: Counts, feature: TrackedFeature, value: string): ValueStats | undefined {
  return counts.features.get(feature)?.values.get(value);
}

export function featureTotal(counts: Counts, feature: TrackedFeature): ValueStats | undefined {
  return counts.features.get(feature)?.total;
}

// ---- serialisation: compact JSON, stable across versions (v: 1) ----

type SerialStats = [w: number, n: number, last: number];
interface SerialCounts {
  v: 1;
  n: number;
  nl: number;
  w: number | null;
  seq: number;
  f: Record<string, { t: SerialStats; v: Array<[string, ...SerialStats]> }>;
  /** The population's pointer profile. */
  bp?: SerialPointerProfile;
}
export interface SerialBaseline extends SerialCounts {
  key: string;
  first: number;
  last: number;
  lt?: LastTrusted;
  bh?: SerialBehaviour;
}

// JSON has no -Infinity: an empty weight is written as null.
const enc = (w: number): number | null => (w === -Infinity ? null : w);
const dec = (w: number | null): number => (w === null ? -Infinity : w);

export function serialiseCounts(c: Counts): SerialCounts {
  const f: SerialCounts['f'] = {};
  for (const [feature, table] of c.features) {
    f[feature] = {
      // A table exists only once a value was observed, so its weights are always finite.
      t: [table.total.w, table.total.n, table.total.last],
      v: [...table.values].map(([value, s]) => [value, s.w, s.n, s.last]),
    };
  }
  const out: SerialCounts = { v: 1, n: c.n, nl: c.nLogin, w: enc(c.w), seq: c.learnedSeq, f };
  if (c.pointer !== undefined) out.bp = serialisePointer(c.pointer);
  return out;
}

export function deserialiseCounts(s: SerialCounts): Counts {
  const features = new Map<TrackedFeature, CountTable>();
  for (const [feature, t] of Object.entries(s.f)) {
    features.set(feature as TrackedFeature, {
      total: { w: t.t[0], n: t.t[1], last: t.t[2] },
      values: new Map(t.v.map(([value, w, n, last]) => [value, { w, n, last }])),
    });
  }
  const out: Counts = { n: s.n, nLogin: s.nl, w: dec(s.w), features, learnedSeq: s.seq };
  if (s.bp !== undefined) out.pointer = deserialisePointer(s.bp);
  return out;
}

export function serialiseBaseline(b: Baseline): SerialBaseline {
  const s: SerialBaseline = { key: b.key, ...serialiseCounts(b), first: b.first, last: b.last };
  if (b.lastTrusted !== undefined) s.lt = b.lastTrusted;
  if (b.behaviour !== undefined) s.bh = serialiseBehaviour(b.behaviour);
  return s;
}

export function deserialiseBaseline(s: SerialBaseline): Baseline {
  const b: Baseline = { key: s.key, ...deserialiseCounts(s), first: s.first, last: s.last };
  if (s.lt !== undefined) b.lastTrusted = s.lt;
  if (s.bh !== undefined) b.behaviour = deserialiseBehaviour(s.bh);
  return b;
}

/** A readable summary of a baseline, for policies (`risk.baseline`) and reviewers. */
export interface BaselineSummary {
  events: number;
  logins: number;
  first_seen: string | null;
  last_seen: string | null;
  /** The most frequent values per feature (only when asked for: reviewers' view, not the hot path). */
  top?: Partial<Record<TrackedFeature, Array<{ value: string; count: number; last_seen: string }>>>;
  /** Typing and pointer profiles: what is enrolled, never the timings or keys (reviewers' view). */
  behaviour?: BehaviourSummary;
}

export function summariseBaseline(b: Baseline | undefined, topN = 5): BaselineSummary {
  if (b === undefined || b.n === 0) return { events: 0, logins: 0, first_seen: null, last_seen: null };
  const summary: BaselineSummary = {
    events: b.n,
    logins: b.nLogin,
    first_seen: new Date(b.first).toISOString(),
    last_seen: new Date(b.last).toISOString(),
  };
  if (topN > 0) {
    const top: NonNullable<BaselineSummary['top']> = {};
    for (const [feature, table] of b.features) {
      top[feature] = [...table.values]
        .sort((x, y) => y[1].w - x[1].w)
        .slice(0, topN)
        .map(([value, s]) => ({ value, count: s.n, last_seen: new Date(s.last).toISOString() }));
    }
    summary.top = top;
    summary.behaviour = summariseBehaviour(b.behaviour);
  }
  return summary;
}
