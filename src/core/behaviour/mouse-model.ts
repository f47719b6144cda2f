/**
 * Per-user mouse models (pure). Inputs are per-action feature vectors (mouse.ts sessionFeatures).
 * - Two-class: L2-regularised logistic regression on standardised features, the user's actions as positives and
 *   other users' actions as negatives (classes weighted equally); session score = −mean log-odds of its actions.
 * - One-class: robust z-scores (median, MAD) per feature against the user's own actions of the same type;
 *   action score = mean clipped |z|; session score = mean over actions.
 * Higher session score = more likely not the user.
 */
import { auc } from './roc.js';

export interface Standardiser {
  mean: number[];
  sd: number[];
}

export function fitStandardiser(rows: readonly number[][]): Standardiser {
  const d = rows[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += r[j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / Math.max(1, rows.length);
  for (const r of rows) for (let j = 0; j < d; j++) sd[j]! += (r[j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]! / Math.max(1, rows.length)) || 1;
  return { mean, sd };
}

export interface LogisticModel {
  std: Standardiser;
  /** weights[0] is the intercept. */
  weights: number[];
}

/** Solves A x = b (A symmetric positive definite, d×d) by Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]! || 1e-12;
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / piv;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / (m[r]![r]! || 1e-12);
  }
  return x;
}

export interface LogisticOptions {
  /** L2 penalty on the (non-intercept) weights, relative to the total sample weight. */
  l2: number;
  iterations: number;
}

/** Fits P(positive | x) by Newton's method; positives and negatives each carry half of the total weight. */
export function fitLogistic(pos: readonly number[][], neg: readonly number[][], options: LogisticOptions = { l2: 1e-2, iterations: 12 }): LogisticModel {
  const std = fitStandardiser([...pos, ...neg]);
  const d = std.mean.length + 1;
  const rows: number[][] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  const wPos = 0.5 / Math.max(1, pos.length);
  const wNeg = 0.5 / Math.max(1, neg.length);
  const z = (r: readonly number[]): number[] => [1, ...r.map((v, j) => (v - std.mean[j]!) / std.sd[j]!)];
  for (const r of pos) (rows.push(z(r)), ys.push(1), ws.push(wPos));
  for (const r of neg) (rows.push(z(r)), ys.push(0), ws.push(wNeg));
  let w = new Array<number>(d).fill(0);
  for (let it = 0; it < options.iterations; it++) {
    const grad = new Array<number>(d).fill(0);
    const hess: number[][] = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < rows.length; i++) {
      const x = rows[i]!;
      let s = 0;
      for (let j = 0; j < d; j++) s += w[j]! * x[j]!;
      const p = 1 / (1 + Math.exp(-s));
      const g = ws[i]! * (p - ys[i]!);
      const h = ws[i]! * Math.max(p * (1 - p), 1e-9);
      for (let j = 0; j < d; j++) {
        const xj = x[j]!;
        if (xj === 0) continue;
        grad[j]! += g * xj;
        const hx = h * xj;
        const row = hess[j]!;
        for (let k = j; k < d; k++) row[k]! += hx * x[k]!;
      }
    }
    for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) hess[j]![k] = hess[k]![j]!;
    for (let j = 1; j < d; j++) {
      grad[j]! += options.l2 * w[j]!;
      hess[j]![j]! += options.l2;
    }
    hess[0]![0]! += 1e-9;
    const step = solve(hess, grad);
    let change = 0;
    w = w.map((v, j) => {
      change = Math.max(change, Math.abs(step[j]!));
      return v - step[j]!;
    });
    if (change < 1e-6) break;
  }
  return { std, weights: w };
}

/** Log-odds that the action is the user's. */
export function logisticLogit(model: LogisticModel, row: readonly number[]): number {
  let s = model.weights[0]!;
  for (let j = 0; j < row.length; j++) s += model.weights[j + 1]! * ((row[j]! - model.std.mean[j]!) / model.std.sd[j]!);
  return s;
}

/** −mean log-odds over the actions (higher = less like the user); 0 for a session without actions. */
export function twoClassSessionScore(model: LogisticModel, actions: readonly number[][]): number {
  if (actions.length === 0) return 0;
  let s = 0;
  for (const a of actions) s += Math.max(-20, Math.min(20, logisticLogit(model, a)));
  return -s / actions.length;
}

export interface RobustProfile {
  median: number[];
  scale: number[];
}

export interface OneClassModel {
  /** One profile per action type (index of the one-hot type in the first typeCount features), plus one for all. */
  byType: RobustProfile[];
  all: RobustProfile;
  typeCount: number;
  /** |z| is clipped at this. */
  clip: number;
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

export function fitRobustProfile(rows: readonly number[][]): RobustProfile {
  const d = rows[0]?.length ?? 0;
  const med: number[] = [];
  const scale: number[] = [];
  for (let j = 0; j < d; j++) {
    const col = rows.map((r) => r[j]!).sort((a, b) => a - b);
    const m = median(col);
    const mad = median(col.map((v) => Math.abs(v - m)).sort((a, b) => a - b));
    // MAD of a constant-ish feature is 0: fall back on the standard deviation, then on 1.
    let s = 1.4826 * mad;
    if (!(s > 1e-9)) {
      const mean = col.reduce((a, b) => a + b, 0) / Math.max(1, col.length);
      s = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, col.length)) || 1;
    }
    med.push(m);
    scale.push(s);
  }
  return { median: med, scale };
}

/** typeCount: the first typeCount features are the one-hot action type. */
export function fitOneClass(rows: readonly number[][], typeCount = 3, clip = 6): OneClassModel {
  const all = fitRobustProfile(rows);
  const byType: RobustProfile[] = [];
  for (let t = 0; t < typeCount; t++) {
    const sub = rows.filter((r) => r[t]! > 0);
    byType.push(sub.length >= 20 ? fitRobustProfile(sub) : all);
  }
  return { byType, all, typeCount, clip };
}

export function oneClassActionScore(model: OneClassModel, row: readonly number[]): number {
  let t = -1;
  for (let k = 0; k < model.typeCount; k++) if (row[k]! > 0) t = k;
  const p = t >= 0 ? model.byType[t]! : model.all;
  let s = 0;
  let n = 0;
  for (let j = model.typeCount; j < row.length; j++) {
    s += Math.min(model.clip, Math.abs((row[j]! - p.median[j]!) / p.scale[j]!));
    n++;
  }
  return n === 0 ? 0 : s / n;
}

export function oneClassSessionScore(model: OneClassModel, actions: readonly number[][]): number {
  if (actions.length === 0) return 0;
  let s = 0;
  for (const a of actions) s += oneClassActionScore(model, a);
  return s / actions.length;
}

/**
 * Area under the ROC curve (roc.ts, Mann–Whitney, ties count half) for labelled scores: the probability that a
 * positive (label true, e.g. an impostor session) scores higher than a negative. NaN if either class is empty.
 */
export function aucMannWhitney(scores: readonly number[], labels: readonly boolean[]): number {
  const impostor = scores.filter((_, i) => labels[i] === true);
  const genuine = scores.filter((_, i) => labels[i] !== true);
  if (impostor.length === 0 || genuine.length === 0) return Number.NaN;
  return auc(genuine, impostor);
}
