/**
 * Keystroke dynamics (pure: no I/O, no clock). A sample is the ordered key events of one entry of a field, each
 * `{ key, press, release }` (milliseconds, any origin). Two detectors score a test sample against a user's
 * enrolment; HIGHER scores mean LESS like the user (see roc.ts for the evaluation).
 *
 * FEATURES. Against a reference key sequence of length L, the features are, in this order:
 *   hold_j = release_j − press_j                    (L of them)
 *   dd_j   = press_{j+1} − press_j      (down-down)  (L − 1)
 *   ud_j   = press_{j+1} − release_j    (up-down, negative when keys overlap)  (L − 1)
 *
 * VARIABLE LENGTH (typos, corrections, a different key sequence). The rule, applied the same way to enrolment and
 * test samples:
 *   1. The reference is the enrolment's medoid key sequence: the enrolment sample whose key sequence has the greatest
 *      total similarity 2·LCS(a, b) / (|a| + |b|) (LCS: longest common subsequence) to all the others (ties: the
 *      earliest). For a fixed phrase mostly typed without mistakes this is the modal sequence; a sequence with an
 *      extra key scores lower than the clean one it contains.
 *   2. Alignment. mode 'keyed': a sample is aligned to the reference by an LCS over key names (deterministic
 *      backtracking that prefers the earliest match in the sample); reference position j is matched or not.
 *      mode 'positional' (secret fields, where the collector never sends which key was pressed): event j of the
 *      sample is matched to reference position j, for j < min(L, sample length); extra events are ignored.
 *   3. hold_j is present when position j is matched; dd_j and ud_j are present only when positions j and j+1 are
 *      both matched to ADJACENT events of the sample (an inserted key or a correction in between breaks the digraph).
 *      Absent features are NaN.
 *   4. Enrolment statistics of a feature use the enrolment samples in which it is present (a feature present in none
 *      is dropped from the model). Scoring sums the per-feature contributions of the present features and adds a
 *      fixed penalty P for every model feature absent from the test sample: score = Σ_present c_k + P·(#absent).
 *      So a test sample that skips half the phrase is not rewarded for having fewer terms.
 *
 * DETECTOR 1: scaled Manhattan (Killourhy & Maxion, DSN 2009). c_k = |x_k − mean_k| / mad_k, where mean_k is the
 * enrolment mean and mad_k the mean absolute deviation from it, floored at 1 ms (so a feature that was constant in
 * enrolment, e.g. on a coarse timer, does not divide by zero). Missing-feature penalty P = 3.
 *
 * DETECTOR 2: Loopgate robust ("loopgate"). Differences from scaled Manhattan:
 *   - Timings are transformed by u = asinh(x / 10 ms): logarithmic for long intervals (timing noise is roughly
 *     multiplicative), linear near zero, defined for the negative up-down times of overlapping keys.
 *   - Centre: the enrolment median of u_k. Spread: s_k = sqrt(σ_k² + (α·S_kind)²) where σ_k = 1.4826 × the median
 *     absolute deviation of u_k (a robust standard deviation) and S_kind is the population spread of that feature
 *     kind (hold, down-down, up-down): the median of σ over every feature of every user's enrolment in the
 *     population model (built from all users' enrolment samples only — never from test samples). With 10 or fewer
 *     enrolment samples σ_k is noisy and often near 0; the population term shrinks it towards a typical spread.
 *     S_kind is floored at 0.05 (about 5 % of a 100 ms interval; a coarse timer can make most per-user spreads 0).
 *     Without a population model, S_kind defaults to 0.25 (hold), 0.35 (down-down), 0.35 (up-down).
 *   - Contribution: c_k = min(|u_k − centre_k| / s_k, CAP) with CAP = 3: one wild feature (a distraction, a pause)
 *     cannot dominate the score. Missing-feature penalty P = CAP.
 *   Constants: α = 0.5, CAP = 3, τ = 10 ms, chosen by a 27-point grid (α ∈ {0.5, 1, 1.5}, CAP ∈ {2, 3, 5},
 *   τ ∈ {5, 10, 30}) on keypad.csv and mobile.csv; docs/evaluation.md reports the whole grid's spread.
 *   Scoring is a single pass over ≤ 3L features (plus an O(L·n) LCS only when the key sequence differs from the
 *   reference): about a microsecond for a 10-digit entry; tens of microseconds for a 100-key text with a typo.
 */

export interface KeyEvent {
  /** Key name; null when unknown (secret fields). */
  key: string | null;
  press: number;
  release: number;
}
export type KeySample = readonly KeyEvent[];
export type AlignMode = 'keyed' | 'positional';

export type FeatureKind = 'hold' | 'dd' | 'ud';

/** The reference sequence a model's features are defined on. */
export interface Reference {
  keys: readonly (string | null)[];
  mode: AlignMode;
}

export function featureCount(length: number): number {
  return length === 0 ? 0 : 3 * length - 2;
}

export function featureKind(index: number, length: number): FeatureKind {
  if (index < length) return 'hold';
  if (index < 2 * length - 1) return 'dd';
  return 'ud';
}

/** LCS alignment: for each reference position, the matched sample index or −1. */
export function alignKeys(ref: readonly (string | null)[], keys: readonly (string | null)[]): Int32Array {
  const L = ref.length;
  const n = keys.length;
  const match = new Int32Array(L).fill(-1);
  // Fast path: identical sequences.
  if (L === n) {
    let same = true;
    for (let j = 0; j < L; j++) if (ref[j] !== keys[j]) { same = false; break; }
    if (same) {
      for (let j = 0; j < L; j++) match[j] = j;
      return match;
    }
  }
  // dp[j][i] = LCS of ref[j..] and keys[i..]
  const w = n + 1;
  const dp = new Int32Array((L + 1) * w);
  for (let j = L - 1; j >= 0; j--) {
    for (let i = n - 1; i >= 0; i--) {
      dp[j * w + i] = ref[j] === keys[i] ? dp[(j + 1) * w + i + 1]! + 1 : Math.max(dp[(j + 1) * w + i]!, dp[j * w + i + 1]!);
    }
  }
  let j = 0;
  let i = 0;
  while (j < L && i < n) {
    if (ref[j] === keys[i] && dp[j * w + i] === dp[(j + 1) * w + i + 1]! + 1) {
      match[j] = i;
      j++;
      i++;
    } else if (dp[(j + 1) * w + i]! >= dp[j * w + i + 1]!) {
      j++;
    } else {
      i++;
    }
  }
  return match;
}

function lcsLength(a: readonly (string | null)[], b: readonly (string | null)[]): number {
  let m = 0;
  for (const i of alignKeys(a, b)) if (i >= 0) m++;
  return m;
}

/** The enrolment's medoid key sequence (rule 1 of the header). */
export function referenceOf(samples: readonly KeySample[], mode: AlignMode): Reference {
  if (samples.length === 0) throw new RangeError('enrolment needs at least one sample');
  const seqs = samples.map((s) => s.map((e) => (mode === 'positional' ? null : e.key)));
  if (mode === 'positional') {
    // Positions only: the medoid length is the median length (ties: the shorter).
    const lengths = seqs.map((s) => s.length).sort((a, b) => a - b);
    return { keys: new Array<null>(lengths[(lengths.length - 1) >> 1]!).fill(null), mode };
  }
  let best = 0;
  let bestTotal = -1;
  for (let a = 0; a < seqs.length; a++) {
    let total = 0;
    for (let b = 0; b < seqs.length; b++) {
      if (a === b) continue;
      const n = seqs[a]!.length + seqs[b]!.length;
      total += n === 0 ? 1 : (2 * lcsLength(seqs[a]!, seqs[b]!)) / n;
    }
    if (total > bestTotal) {
      bestTotal = total;
      best = a;
    }
  }
  return { keys: seqs[best]!, mode };
}

/** The 3L − 2 features of a sample against a reference; NaN where absent (rule 3). */
export function extractFeatures(sample: KeySample, ref: Reference): Float64Array {
  const L = ref.keys.length;
  const out = new Float64Array(featureCount(L)).fill(NaN);
  let match: Int32Array;
  if (ref.mode === 'positional') {
    match = new Int32Array(L).fill(-1);
    for (let j = 0; j < Math.min(L, sample.length); j++) match[j] = j;
  } else {
    match = alignKeys(ref.keys, sample.map((e) => e.key));
  }
  for (let j = 0; j < L; j++) {
    const i = match[j]!;
    if (i < 0) continue;
    const e = sample[i]!;
    out[j] = e.release - e.press;
    if (j + 1 < L && match[j + 1] === i + 1) {
      const next = sample[i + 1]!;
      out[L + j] = next.press - e.press;
      out[2 * L - 1 + j] = next.press - e.release;
    }
  }
  return out;
}

export interface KeystrokeModel {
  readonly detector: string;
  readonly reference: Reference;
  /** Score a sample: higher = less like the enrolled user. */
  score(sample: KeySample): number;
  /** Score a sample's features already extracted against `reference` (extractFeatures). */
  scoreFeatures(features: Float64Array): number;
}

export interface PopulationModel {
  /** Typical within-user robust spread of the transformed timings, per feature kind. */
  spread: Record<FeatureKind, number>;
}

export interface KeystrokeDetector {
  readonly name: string;
  enrol(samples: readonly KeySample[], options?: { mode?: AlignMode; population?: PopulationModel }): KeystrokeModel;
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? v[(n - 1) >> 1]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
}

/** Present values of each feature over the enrolment. */
function columns(samples: readonly KeySample[], ref: Reference, transform?: (x: number) => number): number[][] {
  return columnsOfRows(samples.map((s) => extractFeatures(s, ref)), ref, transform);
}

function columnsOfRows(rows: readonly Float64Array[], ref: Reference, transform?: (x: number) => number): number[][] {
  const cols: number[][] = Array.from({ length: featureCount(ref.keys.length) }, () => []);
  for (const f of rows) {
    for (let k = 0; k < f.length; k++) {
      const x = f[k]!;
      if (!Number.isNaN(x)) cols[k]!.push(transform === undefined ? x : transform(x));
    }
  }
  return cols;
}

/** Per-feature centre/scale scoring with a cap and a missing-feature penalty (rule 4). */
function makeModel(
  detector: string,
  reference: Reference,
  centre: Float64Array,
  scale: Float64Array,
  cap: number,
  penalty: number,
  transform: ((x: number) => number) | undefined,
): KeystrokeModel {
  const scoreFeatures = (f: Float64Array): number => {
    let total = 0;
    for (let k = 0; k < f.length; k++) {
      const c = centre[k]!;
      if (Number.isNaN(c)) continue; // not in the model
      const raw = f[k]!;
      if (Number.isNaN(raw)) {
        total += penalty;
        continue;
      }
      const x = transform === undefined ? raw : transform(raw);
      const d = Math.abs(x - c) / scale[k]!;
      total += d < cap ? d : cap;
    }
    return total;
  };
  return { detector, reference, scoreFeatures, score: (sample) => scoreFeatures(extractFeatures(sample, reference)) };
}

export const scaledManhattan: KeystrokeDetector = {
  name: 'scaled-manhattan',
  enrol(samples, options = {}) {
    const reference = referenceOf(samples, options.mode ?? 'keyed');
    const cols = columns(samples, reference);
    const centre = new Float64Array(cols.length).fill(NaN);
    const scale = new Float64Array(cols.length).fill(1);
    cols.forEach((v, k) => {
      if (v.length === 0) return;
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const mad = v.reduce((a, b) => a + Math.abs(b - m), 0) / v.length;
      centre[k] = m;
      scale[k] = Math.max(mad, 1);
    });
    return makeModel('scaled-manhattan', reference, centre, scale, Infinity, 3, undefined);
  },
};

const TAU_MS = 10;
const ALPHA = 0.5;
const CAP = 3;
const MIN_POPULATION_SPREAD = 0.05;
const DEFAULT_SPREAD: Record<FeatureKind, number> = { hold: 0.25, dd: 0.35, ud: 0.35 };
const transformTiming = (x: number): number => Math.asinh(x / TAU_MS);

function robustSpread(v: number[]): number {
  const m = median(v);
  return 1.4826 * median(v.map((x) => Math.abs(x - m)));
}

/** The population spread per feature kind from several users' enrolment samples (see the header). */
export function populationModel(enrolments: readonly (readonly KeySample[])[], mode: AlignMode = 'keyed'): PopulationModel {
  const per: Record<FeatureKind, number[]> = { hold: [], dd: [], ud: [] };
  for (const samples of enrolments) {
    if (samples.length < 2) continue;
    const ref = referenceOf(samples, mode);
    const cols = columns(samples, ref, transformTiming);
    cols.forEach((v, k) => {
      if (v.length >= 2) per[featureKind(k, ref.keys.length)].push(robustSpread(v));
    });
  }
  const pick = (kind: FeatureKind) => (per[kind].length > 0 ? Math.max(median(per[kind]), MIN_POPULATION_SPREAD) : DEFAULT_SPREAD[kind]);
  return { spread: { hold: pick('hold'), dd: pick('dd'), ud: pick('ud') } };
}

/**
 * Loopgate's detector from enrolment features already extracted against a reference: lets a caller reuse one
 * reference and one extraction for many models (the leave-one-out calibration of signals.ts).
 */
export function loopgateModelFromRows(reference: Reference, rows: readonly Float64Array[], population?: PopulationModel): KeystrokeModel {
  const spread = population?.spread ?? DEFAULT_SPREAD;
  const L = reference.keys.length;
  const cols = columnsOfRows(rows, reference, transformTiming);
  const centre = new Float64Array(cols.length).fill(NaN);
  const scale = new Float64Array(cols.length).fill(1);
  cols.forEach((v, k) => {
    if (v.length === 0) return;
    const pop = ALPHA * spread[featureKind(k, L)];
    const own = v.length >= 2 ? robustSpread(v) : 0;
    centre[k] = median(v);
    scale[k] = Math.sqrt(own * own + pop * pop) || 1e-6;
  });
  return makeModel('loopgate', reference, centre, scale, CAP, CAP, transformTiming);
}

export const loopgateKeystroke: KeystrokeDetector = {
  name: 'loopgate',
  enrol(samples, options = {}) {
    const reference = referenceOf(samples, options.mode ?? 'keyed');
    return loopgateModelFromRows(reference, samples.map((s) => extractFeatures(s, reference)), options.population);
  },
};
export const keystrokeDetectors: readonly KeystrokeDetector[] = [scaledManhattan, loopgateKeystroke];
