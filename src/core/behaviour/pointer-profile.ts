/**
 * The pointer profile Loopgate keeps per subject in production (pure): running weighted means and variances of the
 * per-action features (mouse.ts `sessionFeatures`), per action type (move, point-and-click, drag-and-drop). The
 * same structure, folded over every subject's trusted sessions, is the population profile.
 *
 * WHY NOT THE EVALUATION'S LOGISTIC MODEL. The two-class logistic regression of mouse-model.ts needs the raw
 * actions of the subject and of many other people at training time, and a refit per subject when anything changes.
 * A baseline must fold one trusted session at a time, survive restarts as a small snapshot and score in
 * microseconds. Sufficient statistics do all three: a few hundred numbers per subject, an O(features) update per
 * action, and a score that still uses other people's data as negatives (the population profile), in the form of
 * a per-feature Gaussian likelihood ratio:
 *
 *   action score = (1/F) Σ_j clip( log N(x_j; μ_pop, σ_pop) − log N(x_j; μ_user, σ_user), −CLIP, CLIP )
 *   session score = the mean over its actions (higher = less like the subject).
 *
 * The subject's mean and variance are shrunk towards the population's with a pseudo-count of PRIOR_ACTIONS
 * actions, so a young profile scores near 0 (no evidence either way) instead of flagging everything. Old actions
 * fade: when a type's weight passes the cap, every weight is scaled down (exponential forgetting), so a profile
 * follows a person who changes mouse or screen. docs/evaluation.md reports this model's AUC beside the others.
 */

/** Action types, in the order of the one-hot type features that open every feature row. */
export const POINTER_TYPES = 3;

export interface PointerTypeStats {
  /** Total weight (actions, after forgetting). */
  w: number;
  mean: number[];
  /** Weighted sum of squared deviations from the mean. */
  m2: number[];
}

export interface PointerProfile {
  byType: PointerTypeStats[];
  /** Trusted sessions folded in. */
  sessions: number;
}

export const POINTER_PRIOR_ACTIONS = 10;
/** Weight cap per action type: a subject's profile follows their last ~2,000 actions of each type. */
export const POINTER_SUBJECT_CAP = 2000;
/** The population's cap is large: it should describe everyone, not the last few people. */
export const POINTER_POPULATION_CAP = 1_000_000;
const CLIP = 4;
/** Variance floor relative to the population's, so a constant feature cannot give infinite evidence. */
const MIN_VARIANCE_RATIO = 0.01;
const LOG_2PI = Math.log(2 * Math.PI);

export function emptyPointerProfile(featureCount: number): PointerProfile {
  const d = featureCount - POINTER_TYPES;
  return {
    byType: Array.from({ length: POINTER_TYPES }, () => ({ w: 0, mean: new Array<number>(d).fill(0), m2: new Array<number>(d).fill(0) })),
    sessions: 0,
  };
}

function typeOf(row: readonly number[]): number {
  for (let t = 0; t < POINTER_TYPES; t++) if (row[t]! > 0) return t;
  return 0;
}

/** Folds one session's action rows; `cap` bounds each type's weight (older actions fade). */
export function foldPointer(profile: PointerProfile, rows: readonly number[][], cap: number): void {
  for (const row of rows) {
    const s = profile.byType[typeOf(row)]!;
    if (s.mean.length !== row.length - POINTER_TYPES) continue; // a row of another feature version: ignored
    if (s.w + 1 > cap) {
      const f = (cap - 1) / s.w;
      s.w *= f;
      for (let j = 0; j < s.m2.length; j++) s.m2[j]! *= f;
    }
    s.w += 1;
    for (let j = 0; j < s.mean.length; j++) {
      const x = row[j + POINTER_TYPES]!;
      const delta = x - s.mean[j]!;
      s.mean[j]! += delta / s.w;
      s.m2[j]! += delta * (x - s.mean[j]!);
    }
  }
  profile.sessions += 1;
}

/** Actions folded in, all types together (after forgetting). */
export function pointerActions(profile: PointerProfile): number {
  return profile.byType.reduce((a, s) => a + s.w, 0);
}

/**
 * Scores a session's action rows against a subject's profile and the population's: the mean action score (see the
 * header), 0 for no actions. Actions of a type the population has never seen are skipped.
 */
export function scorePointer(user: PointerProfile, population: PointerProfile, rows: readonly number[][]): number {
  let total = 0;
  let counted = 0;
  for (const row of rows) {
    const t = typeOf(row);
    const u = user.byType[t]!;
    const p = population.byType[t]!;
    if (p.w < 2 || p.mean.length !== row.length - POINTER_TYPES) continue;
    let s = 0;
    for (let j = 0; j < p.mean.length; j++) {
      const x = row[j + POINTER_TYPES]!;
      const popVar = Math.max(p.m2[j]! / p.w, 1e-12);
      const muP = p.mean[j]!;
      // Shrink the subject's statistics towards the population's (a pseudo-count of PRIOR actions).
      const k = POINTER_PRIOR_ACTIONS;
      const muU = (u.w * u.mean[j]! + k * muP) / (u.w + k);
      const userVar = Math.max((u.m2[j]! + k * popVar + ((u.w * k) / (u.w + k)) * (u.mean[j]! - muP) ** 2) / (u.w + k), popVar * MIN_VARIANCE_RATIO);
      const llPop = -0.5 * (LOG_2PI + Math.log(popVar) + ((x - muP) * (x - muP)) / popVar);
      const llUser = -0.5 * (LOG_2PI + Math.log(userVar) + ((x - muU) * (x - muU)) / userVar);
      const d = llPop - llUser;
      s += d > CLIP ? CLIP : d < -CLIP ? -CLIP : d;
    }
    total += s / p.mean.length;
    counted++;
  }
  return counted === 0 ? 0 : total / counted;
}

// ---- serialisation (compact: 4 significant digits) ----

export interface SerialPointerProfile {
  n: number;
  t: Array<[w: number, mean: number[], m2: number[]]>;
}

const sig = (x: number): number => (x === 0 || !Number.isFinite(x) ? 0 : Number(x.toPrecision(4)));

export function serialisePointer(p: PointerProfile): SerialPointerProfile {
  return { n: p.sessions, t: p.byType.map((s) => [sig(s.w), s.mean.map(sig), s.m2.map(sig)]) };
}

export function deserialisePointer(s: SerialPointerProfile): PointerProfile {
  return { sessions: s.n, byType: s.t.map(([w, mean, m2]) => ({ w, mean: [...mean], m2: [...m2] })) };
}
