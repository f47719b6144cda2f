/**
 * ROC analysis for anomaly detectors (pure). Scores follow one convention throughout: HIGHER = MORE LIKELY AN
 * IMPOSTOR. A threshold t rejects (raises an alarm on) every sample whose score is ≥ t.
 *
 *   FRR(t) (false-alarm / false-reject rate) = fraction of genuine samples with score ≥ t
 *   FAR(t) (miss / false-accept rate)        = fraction of impostor samples with score < t
 *
 * The ROC is evaluated at t = +∞ (reject nothing: FAR 1, FRR 0) and at every distinct score, from the highest down
 * (at the lowest score everything is rejected: FAR 0, FRR 1). Tied scores are one threshold, so a tie moves both
 * rates at once (a diagonal step).
 *
 * - EER: walking the ROC from FAR 1 / FRR 0, the first point where FAR − FRR ≤ 0; if it is exactly 0 the EER is that
 *   rate, otherwise the crossing is interpolated linearly between this point and the one before (the two thresholds
 *   that bracket the crossing): with d = FAR − FRR, s = d₀ / (d₀ − d₁), EER = FAR₀ + s·(FAR₁ − FAR₀)
 *   (= FRR₀ + s·(FRR₁ − FRR₀)).
 * - Zero-miss false-alarm rate (Killourhy & Maxion's "zero-miss FAR", in our naming the FRR at FAR = 0): the
 *   highest threshold that still rejects every impostor is t = the lowest impostor score; the rate is the fraction
 *   of genuine samples scoring ≥ that (a genuine sample tied with the lowest impostor counts as a false alarm).
 * - AUC (Mann–Whitney): the probability that a random impostor scores higher than a random genuine sample, ties
 *   counting half. 1 = perfect separation, 0.5 = chance.
 */
import { lowerBound, upperBound } from '../sorted.js';

export interface RocPoint {
  /** The threshold: samples with score ≥ threshold are rejected. */
  threshold: number;
  /** Fraction of impostors accepted (score < threshold). */
  far: number;
  /** Fraction of genuine samples rejected (score ≥ threshold). */
  frr: number;
}

function checkScores(genuine: readonly number[], impostor: readonly number[]): void {
  if (genuine.length === 0 || impostor.length === 0) throw new RangeError('ROC needs at least one genuine and one impostor score');
  for (const s of genuine) if (Number.isNaN(s)) throw new RangeError('genuine score is NaN');
  for (const s of impostor) if (Number.isNaN(s)) throw new RangeError('impostor score is NaN');
}

/** The ROC from t = +∞ (FAR 1, FRR 0) down to the lowest score (FAR 0, FRR 1). */
export function roc(genuine: readonly number[], impostor: readonly number[]): RocPoint[] {
  checkScores(genuine, impostor);
  const g = [...genuine].sort((a, b) => b - a);
  const im = [...impostor].sort((a, b) => b - a);
  const points: RocPoint[] = [{ threshold: Infinity, far: 1, frr: 0 }];
  let gi = 0; // genuine with score ≥ t
  let ii = 0; // impostors with score ≥ t
  while (gi < g.length || ii < im.length) {
    const t = Math.max(gi < g.length ? g[gi]! : -Infinity, ii < im.length ? im[ii]! : -Infinity);
    while (gi < g.length && g[gi]! >= t) gi++;
    while (ii < im.length && im[ii]! >= t) ii++;
    points.push({ threshold: t, far: (im.length - ii) / im.length, frr: gi / g.length });
  }
  return points;
}

/** Equal error rate by linear interpolation between the two ROC points that bracket FAR = FRR. */
export function eer(genuine: readonly number[], impostor: readonly number[]): number {
  const points = roc(genuine, impostor);
  let prev = points[0]!;
  for (let i = 1; i < points.length; i++) {
    const p = points[i]!;
    const d1 = p.far - p.frr;
    if (d1 <= 0) {
      if (d1 === 0) return p.far;
      const d0 = prev.far - prev.frr; // > 0
      const s = d0 / (d0 - d1);
      return prev.far + s * (p.far - prev.far);
    }
    prev = p;
  }
  return prev.far; // unreachable: the last point has FAR 0, FRR 1
}

/** The false-alarm rate (FRR) at the highest threshold that rejects every impostor (see the module header). */
export function zeroMissFalseAlarmRate(genuine: readonly number[], impostor: readonly number[]): number {
  checkScores(genuine, impostor);
  let lowest = Infinity;
  for (const s of impostor) if (s < lowest) lowest = s;
  let n = 0;
  for (const s of genuine) if (s >= lowest) n++;
  return n / genuine.length;
}

/** Mann–Whitney AUC: P(impostor > genuine) + ½·P(impostor = genuine). */
export function auc(genuine: readonly number[], impostor: readonly number[]): number {
  checkScores(genuine, impostor);
  const g = [...genuine].sort((a, b) => a - b);
  let total = 0;
  for (const s of impostor) {
    // genuine strictly below s, and equal to s, by binary search
    const below = lowerBound(g, s);
    const upTo = upperBound(g, s);
    total += below + (upTo - below) / 2;
  }
  return total / (g.length * impostor.length);
}
