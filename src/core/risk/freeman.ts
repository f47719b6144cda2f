/**
 * The statistical login-risk model of Freeman, Jain, Dürmuth, Biggio and Giacinto, "Who Are You? A Statistical
 * Approach to Measuring User Authenticity" (NDSS 2016).
 *
 * For each feature family the evidence is the likelihood ratio p(x) / p(x | u): how common the value is among
 * all trusted events, against how common it is for this principal. A value the principal uses all the time
 * gives a ratio below 1 (evidence of legitimacy); a value they never used gives a large ratio.
 *
 * Families are hierarchies (IP → ASN → country; user agent → browser+OS → device type), and the principal's
 * probability of a leaf is a chain of conditionals, p_u(ip) = p_u(country) · p_u(asn | country) · p_u(ip | asn),
 * each smoothed towards the global distribution (back-off):
 *
 *   p_u(root)            = (c_u(root) + m · p_g(root)) / (n_u + m)
 *   p_u(child | parent)  = (c_u(child) + m · p_g(child | parent)) / (c_u(parent) + m)   when the parent is known
 *   p_u(child | parent)  = p_g(child | parent)                                         when it is not
 *
 * with decayed counts c_u, n_u and Witten–Bell smoothing mass m = max(α, distinct values the principal used at
 * that level): someone who changes IP all the time is not surprised by a new one, someone with one laptop is
 * surprised by a second. Below a parent the principal never used there is no extra surprise (a never-seen
 * browser necessarily comes with a never-seen user-agent string), so each family counts one novelty, at the
 * highest level where it happened. A principal with no history gives ratio 1 everywhere.
 *
 * Each family contributes weight × clamp(ln ratio) logit points to the risk score; the hour of day uses a
 * circular kernel over neighbouring hours.
 */
import {
  effective,
  type Baseline,
  type Counts,
  type Decay,
} from './baseline.js';
import type { ContextFeatures, TrackedFeature } from './features.js';

export type FamilyName = 'network' | 'client' | 'device' | 'hour';

export interface FreemanConfig {
  /** Smoothing pseudo-count α. */
  alpha: number;
  /** Logit points per unit of log likelihood ratio, per family. */
  weights: Record<FamilyName, number>;
  /**
   * Weight of each level's term in its family's log ratio (default 1). By the chain rule the family's log ratio
   * is a sum of one term per level; the levels that change for benign reasons all the time (the exact user-agent
   * string at every browser update, the exact IP at every DHCP lease) can count for less than the others.
   */
  levelWeights: Partial<Record<TrackedFeature, number>>;
  /** Bounds on ln(ratio) per family, so one feature cannot dominate (and independence is not over-trusted). */
  maxLogRatio: number;
  minLogRatio: number;
}

export interface SignalResult {
  signal: string;
  contribution: number;
  sentence: string;
  detail: Record<string, unknown>;
}

export interface FreemanFacts {
  new_ip?: boolean;
  new_network?: boolean;
  new_country?: boolean;
  new_user_agent?: boolean;
  new_client?: boolean;
  new_device_type?: boolean;
  new_device?: boolean;
  unusual_hour?: boolean;
}

interface Level {
  feature: TrackedFeature;
  value: string;
}

interface LevelEstimate extends Level {
  pGlobal: number;
  pSubject: number;
  /** raw count of this value for the principal */
  seen: number;
  /** raw count of events with this feature for the principal */
  total: number;
  /** decayed count of this value for the principal */
  count: number;
}

const FAMILIES: Record<Exclude<FamilyName, 'hour'>, TrackedFeature[]> = {
  network: ['ip', 'asn', 'country'],
  client: ['ua', 'client', 'device_type'],
  device: ['device_id'],
};

export interface FreemanInputs {
  features: ContextFeatures;
  baseline: Baseline | undefined;
  global: Counts;
  decay: Decay;
  nowMs: number;
  /** How the principal is named in sentences. */
  who: string;
}

export function assessContext(inputs: FreemanInputs, config: FreemanConfig): { signals: SignalResult[]; facts: FreemanFacts } {
  const { baseline } = inputs;
  const signals: SignalResult[] = [];
  const facts: FreemanFacts = {};
  if (baseline === undefined || baseline.n === 0) {
    signals.push({
      signal: 'baseline',
      contribution: 0,
      sentence: `no trusted history for ${inputs.who} yet; context cannot be compared`,
      detail: { events: 0 },
    });
    return { signals, facts };
  }
  for (const family of ['network', 'client', 'device'] as const) {
    const levels = chain(inputs.features, FAMILIES[family]);
    if (levels.length === 0) continue;
    const estimates = estimateChain(levels, baseline, inputs, config.alpha);
    const logRatio = clamp(weightedLogRatio(estimates, config.levelWeights), config.minLogRatio, config.maxLogRatio);
    const contribution = config.weights[family] * logRatio;
    recordFacts(facts, estimates);
    signals.push({
      signal: family,
      contribution,
      sentence: describeFamily(family, estimates, baseline, inputs),
      detail: {
        log_likelihood_ratio: round(logRatio, 3),
        levels: estimates.map((e) => ({
          feature: e.feature,
          seen: e.seen,
          subject_probability: significant(e.pSubject),
          global_probability: significant(e.pGlobal),
        })),
      },
    });
  }
  const hour = assessHour(inputs, config);
  if (hour !== undefined) {
    signals.push(hour.signal);
    facts.unusual_hour = hour.unusual;
  }
  return { signals, facts };
}

/** The defined values of a family, leaf first, starting at the first level the event has. */
function chain(features: ContextFeatures, levels: TrackedFeature[]): Level[] {
  const out: Level[] = [];
  for (const feature of levels) {
    const value = features[feature];
    if (value !== undefined) out.push({ feature, value });
  }
  return out;
}

function globalProbability(global: Counts, level: Level, inputs: FreemanInputs): number {
  const table = global.features.get(level.feature);
  if (table === undefined) return 1;
  const total = effective(table.total.w, inputs.nowMs, inputs.decay);
  const stats = table.values.get(level.value);
  const count = stats === undefined ? 0 : effective(stats.w, inputs.nowMs, inputs.decay);
  return (count + 1) / (total + table.values.size + 1);
}

// Hot path: estimates are built with one fixed object shape (no spread, no holey arrays) so that V8 keeps these
// functions monomorphic; a spread here tripled the cost of scoring an event.
function estimateChain(levels: Level[], baseline: Baseline, inputs: FreemanInputs, alpha: number): LevelEstimate[] {
  const out: LevelEstimate[] = [];
  let parent: LevelEstimate | undefined;
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i]!;
    const pGlobal = globalProbability(inputs.global, level, inputs);
    const table = baseline.features.get(level.feature);
    const stats = table?.values.get(level.value);
    const count = stats === undefined ? 0 : effective(stats.w, inputs.nowMs, inputs.decay);
    const mass = Math.max(alpha, table?.values.size ?? 0);
    let pSubject: number;
    if (parent === undefined) {
      const n = table === undefined ? 0 : effective(table.total.w, inputs.nowMs, inputs.decay);
      pSubject = (count + mass * pGlobal) / (n + mass);
    } else {
      const pGlobalGivenParent = Math.min(1, pGlobal / parent.pGlobal);
      const pGivenParent =
        parent.seen === 0 ? pGlobalGivenParent : Math.min(1, (count + mass * pGlobalGivenParent) / (parent.count + mass));
      pSubject = parent.pSubject * pGivenParent;
    }
    const estimate: LevelEstimate = {
      feature: level.feature,
      value: level.value,
      pGlobal,
      pSubject,
      seen: stats === undefined ? 0 : stats.n,
      total: table === undefined ? 0 : table.total.n,
      count,
    };
    out.unshift(estimate);
    parent = estimate;
  }
  return out;
}

/**
 * ln(p_g(leaf) / p_u(leaf)) written as the sum of one term per level, root first:
 * ln(p_g(root)/p_u(root)) + Σ ln(p_g(child|parent) / p_u(child|parent)), each term weighted by its level's weight.
 * With all weights 1 this is exactly the leaf's log likelihood ratio.
 */
function weightedLogRatio(estimates: LevelEstimate[], levelWeights: FreemanConfig['levelWeights']): number {
  let total = 0;
  let parent: LevelEstimate | undefined;
  for (let i = estimates.length - 1; i >= 0; i--) {
    const e = estimates[i]!;
    const term =
      parent === undefined
        ? Math.log(e.pGlobal / e.pSubject)
        : Math.log(Math.min(1, e.pGlobal / parent.pGlobal) / (e.pSubject / parent.pSubject));
    total += (levelWeights[e.feature] ?? 1) * term;
    parent = e;
  }
  return total;
}

function recordFacts(facts: FreemanFacts, estimates: LevelEstimate[]): void {
  for (const e of estimates) {
    if (e.total === 0) continue; // the principal never reported this feature: nothing is "new"
    const isNew = e.seen === 0;
    switch (e.feature) {
      case 'ip': facts.new_ip = isNew; break;
      case 'asn': facts.new_network = isNew; break;
      case 'country': facts.new_country = isNew; break;
      case 'ua': facts.new_user_agent = isNew; break;
      case 'client': facts.new_client = isNew; break;
      case 'device_type': facts.new_device_type = isNew; break;
      case 'device_id': facts.new_device = isNew; break;
      default: break;
    }
  }
}

// ---- sentences ----

function noun(counts: Counts, n = counts.n): string {
  const word = counts.nLogin === counts.n ? 'login' : 'trusted event';
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

export function percent(p: number): string {
  const v = p * 100;
  if (v < 0.05) return '<0.1%';
  if (v < 1) return `${v.toFixed(1)}%`;
  return `${Math.round(v)}%`;
}

const LABELS: Partial<Record<TrackedFeature, string>> = {
  ip: 'IP',
  asn: 'network',
  country: 'country',
  ua: 'user agent',
  client: '',
  device_type: 'device type',
  device_id: 'device',
};

function name(e: Level, features: ContextFeatures): string {
  if (e.feature === 'asn' && features.as_org !== undefined) return `network ${e.value} (${features.as_org})`;
  if (e.feature === 'client') return e.value;
  if (e.feature === 'ua') return 'this user-agent string';
  return `${LABELS[e.feature] ?? e.feature} ${e.value}`;
}

function describeFamily(family: string, estimates: LevelEstimate[], baseline: Baseline, inputs: FreemanInputs): string {
  const { who, features, global } = inputs;
  const reported = estimates.filter((e) => e.total > 0);
  if (reported.length === 0) {
    return `${who} has no ${family} history to compare with`;
  }
  // The highest level the principal has never used explains the surprise best.
  let top: LevelEstimate | undefined;
  for (const e of reported) if (e.seen === 0) top = e;
  if (top === undefined) {
    const leaf = reported[0]!;
    return `${name(leaf, features)} seen in ${leaf.seen.toLocaleString('en-US')} of ${noun(baseline, leaf.total)} for ${who}`;
  }
  // The share of all events with this value; for a value nobody ever used, say so (the smoothed probability of an
  // unseen value is not a share of anything).
  const everywhere = global.nLogin === global.n ? 'logins' : 'trusted events';
  const globalCount = global.features.get(top.feature)?.values.get(top.value)?.n ?? 0;
  const sharePart = globalCount === 0 ? 'never seen for anyone before' : `${percent(top.pGlobal)} of all ${everywhere}`;
  const idx = estimates.indexOf(top);
  const parent = estimates[idx + 1];
  const head = `${name(top, features)} never seen for ${who} in ${noun(baseline, top.total)}`;
  if (parent === undefined || parent.total === 0) return `${head}; ${sharePart}`;
  return `${head}; ${sharePart}; ${name(parent, features)} seen in ${parent.seen.toLocaleString('en-US')} of them`;
}

// ---- hour of day ----

const HOUR_KERNEL = [1, 0.5, 0.25]; // weight of the same hour, ±1 h, ±2 h
const KERNEL_MASS = HOUR_KERNEL[0]! + 2 * (HOUR_KERNEL[1]! + HOUR_KERNEL[2]!);

function assessHour(inputs: FreemanInputs, config: FreemanConfig): { signal: SignalResult; unusual: boolean } | undefined {
  const { baseline, features, decay, nowMs } = inputs;
  if (baseline === undefined) return undefined;
  const table = baseline.features.get('hour');
  if (table === undefined) return undefined;
  const h = Number(features.hour);
  const n = effective(table.total.w, nowMs, decay);
  let near = 0;
  let nearRaw = 0;
  for (let d = -2; d <= 2; d++) {
    const key = String((h + d + 24) % 24).padStart(2, '0');
    const s = table.values.get(key);
    if (s === undefined) continue;
    const k = HOUR_KERNEL[Math.abs(d)]!;
    near += k * effective(s.w, nowMs, decay);
    nearRaw += s.n;
  }
  const pKernel = n > 0 ? near / (n * KERNEL_MASS) : 0;
  // The global side is smoothed with the same kernel, so that both compare the same thing.
  const pGlobal = globalHourProbability(inputs, h);
  const pSubject = (n * pKernel + config.alpha * pGlobal) / (n + config.alpha);
  const logRatio = clamp(Math.log(pGlobal / pSubject), config.minLogRatio, config.maxLogRatio);
  const unusual = logRatio > Math.log(3);
  const share = table.total.n > 0 ? nearRaw / table.total.n : 0;
  const within = `${percent(share)} of their ${noun(baseline, table.total.n)} were within 2 hours of it`;
  const sentence = unusual
    ? `${features.hour}:00 UTC is unusual for ${inputs.who}: ${within} (${percent(pGlobal)} of all events are around this hour)`
    : logRatio > 0
      ? `${features.hour}:00 UTC is a less usual time for ${inputs.who} (${within})`
      : `${features.hour}:00 UTC is a usual time for ${inputs.who} (${within})`;
  return {
    signal: {
      signal: 'hour',
      contribution: config.weights.hour * logRatio,
      sentence,
      detail: { log_likelihood_ratio: round(logRatio, 3), hour_utc: h, subject_probability: significant(pSubject), global_probability: significant(pGlobal) },
    },
    unusual,
  };
}


/** Four significant digits: enough to explain a score, and a much smaller stored decision. */
function significant(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(4));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function globalHourProbability(inputs: FreemanInputs, h: number): number {
  const table = inputs.global.features.get('hour');
  if (table === undefined) return 1 / 24;
  const total = effective(table.total.w, inputs.nowMs, inputs.decay);
  let near = 0;
  for (let d = -2; d <= 2; d++) {
    const s = table.values.get(String((h + d + 24) % 24).padStart(2, '0'));
    if (s !== undefined) near += HOUR_KERNEL[Math.abs(d)]! * effective(s.w, inputs.nowMs, inputs.decay);
  }
  // Add-one smoothing over the 24 hours, as for every other global probability.
  return (near / KERNEL_MASS + 1) / (total + 24);
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
