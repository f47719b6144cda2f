import { describe, expect, it } from 'vitest';
import { auc, eer, roc, zeroMissFalseAlarmRate } from '../../src/core/behaviour/roc.js';

// Convention: higher score = more likely an impostor; a threshold t rejects scores ≥ t.

describe('roc', () => {
  it('walks from FAR 1 / FRR 0 to FAR 0 / FRR 1, one point per distinct score', () => {
    expect(roc([1, 2, 3], [2.5, 4, 5])).toEqual([
      { threshold: Infinity, far: 1, frr: 0 },
      { threshold: 5, far: 2 / 3, frr: 0 },
      { threshold: 4, far: 1 / 3, frr: 0 },
      { threshold: 3, far: 1 / 3, frr: 1 / 3 },
      { threshold: 2.5, far: 0, frr: 1 / 3 },
      { threshold: 2, far: 0, frr: 2 / 3 },
      { threshold: 1, far: 0, frr: 1 },
    ]);
  });

  it('makes a tie between a genuine and an impostor score one diagonal step', () => {
    expect(roc([1, 2], [2, 3])).toEqual([
      { threshold: Infinity, far: 1, frr: 0 },
      { threshold: 3, far: 0.5, frr: 0 },
      { threshold: 2, far: 0, frr: 0.5 },
      { threshold: 1, far: 0, frr: 1 },
    ]);
  });

  it('rejects empty or NaN score lists', () => {
    expect(() => roc([], [1])).toThrow(RangeError);
    expect(() => eer([1], [])).toThrow(RangeError);
    expect(() => auc([NaN], [1])).toThrow(RangeError);
  });
});

describe('eer', () => {
  it('is the rate where the ROC meets FAR = FRR exactly', () => {
    expect(eer([1, 2, 3], [2.5, 4, 5])).toBeCloseTo(1 / 3, 12);
  });

  it('interpolates between the two bracketing thresholds', () => {
    // t=5: FAR 1, FRR 1/3 (d = 2/3); t=4: FAR 1/2, FRR 1/3 (d = 1/6); t=3: FAR 0, FRR 1/3 (d = −1/3).
    // s = (1/6) / (1/6 + 1/3) = 1/3 → EER = 1/2 + (1/3)(0 − 1/2) = 1/3.
    expect(eer([1, 2, 5], [3, 4])).toBeCloseTo(1 / 3, 12);
  });

  it('interpolates across a tie (both rates move at once)', () => {
    // t=3: FAR 1/2, FRR 0 (d = 1/2); t=2 (tie): FAR 0, FRR 1/2 (d = −1/2) → s = 1/2 → EER 1/4.
    expect(eer([1, 2], [2, 3])).toBeCloseTo(0.25, 12);
  });

  it('is 0 for perfect separation, 1 when reversed, 1/2 when everything ties', () => {
    expect(eer([1, 2], [3, 4])).toBe(0);
    expect(eer([3, 4], [1, 2])).toBe(1);
    expect(eer([1, 1], [1, 1])).toBeCloseTo(0.5, 12);
  });
});

describe('zero-miss false-alarm rate', () => {
  it('is the fraction of genuine scores at or above the lowest impostor score', () => {
    expect(zeroMissFalseAlarmRate([1, 2, 3], [2.5, 4, 5])).toBeCloseTo(1 / 3, 12);
    expect(zeroMissFalseAlarmRate([1, 2], [3, 4])).toBe(0);
    expect(zeroMissFalseAlarmRate([3, 4], [1, 2])).toBe(1);
  });

  it('counts a genuine score tied with the lowest impostor as a false alarm', () => {
    expect(zeroMissFalseAlarmRate([1, 2], [2, 3])).toBe(0.5);
    expect(zeroMissFalseAlarmRate([1, 1], [1, 1])).toBe(1);
  });
});

describe('auc (Mann–Whitney)', () => {
  it('counts impostor-above-genuine pairs', () => {
    // 2.5 beats 1, 2; 4 and 5 beat all three: 8 of 9 pairs.
    expect(auc([1, 2, 3], [2.5, 4, 5])).toBeCloseTo(8 / 9, 12);
    expect(auc([1, 2], [3, 4])).toBe(1);
    expect(auc([3, 4], [1, 2])).toBe(0);
  });

  it('counts ties half', () => {
    // pairs: (2,1) 1, (2,2) ½, (3,1) 1, (3,2) 1 → 3.5 / 4.
    expect(auc([1, 2], [2, 3])).toBeCloseTo(0.875, 12);
    expect(auc([1, 1], [1, 1])).toBe(0.5);
  });
});
