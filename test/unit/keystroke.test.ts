import { describe, expect, it } from 'vitest';
import {
  alignKeys,
  extractFeatures,
  loopgateKeystroke,
  populationModel,
  referenceOf,
  scaledManhattan,
  type KeyEvent,
  type KeySample,
} from '../../src/core/behaviour/keystroke.js';

/** A sample from [key, press, release] triples. */
const sample = (...events: Array<[string | null, number, number]>): KeyEvent[] => events.map(([key, press, release]) => ({ key, press, release }));
const abc = sample(['a', 0, 100], ['b', 150, 230], ['c', 300, 350]);

const list = (f: Float64Array) => Array.from(f, (x) => (Number.isNaN(x) ? null : x));

describe('features', () => {
  it('are holds, then down-down, then up-down', () => {
    const ref = referenceOf([abc], 'keyed');
    expect(ref.keys).toEqual(['a', 'b', 'c']);
    expect(list(extractFeatures(abc, ref))).toEqual([100, 80, 50, 150, 150, 50, 70]);
  });

  it('keep matched holds but drop digraphs broken by an inserted key', () => {
    const ref = referenceOf([abc], 'keyed');
    const typo = sample(['a', 0, 100], ['x', 120, 140], ['b', 150, 230], ['c', 300, 350]);
    expect(Array.from(alignKeys(ref.keys, typo.map((e) => e.key)))).toEqual([0, 2, 3]);
    expect(list(extractFeatures(typo, ref))).toEqual([100, 80, 50, null, 150, null, 70]);
  });

  it('mark a missing key and its digraphs absent', () => {
    const ref = referenceOf([abc], 'keyed');
    expect(list(extractFeatures(sample(['a', 0, 100], ['c', 300, 350]), ref))).toEqual([100, null, 50, null, null, null, null]);
  });

  it('negative up-down when keys overlap', () => {
    const ref = referenceOf([abc], 'keyed');
    const overlap = sample(['a', 0, 100], ['b', 80, 160], ['c', 300, 350]);
    expect(list(extractFeatures(overlap, ref)).slice(5)).toEqual([-20, 140]);
  });

  it('positional mode ignores key names and extra events', () => {
    const ref = referenceOf([sample([null, 0, 100], [null, 150, 230])], 'positional');
    expect(ref.keys).toEqual([null, null]);
    const longer = sample(['z', 0, 90], ['y', 200, 260], ['q', 400, 420]);
    expect(list(extractFeatures(longer, ref))).toEqual([90, 60, 200, 110]);
    expect(list(extractFeatures(sample([null, 0, 90]), ref))).toEqual([90, null, null, null]);
  });

  it('the reference is the medoid key sequence of the enrolment', () => {
    const typo = sample(['a', 0, 100], ['x', 120, 140], ['b', 150, 230], ['c', 300, 350]);
    expect(referenceOf([typo, abc, abc], 'keyed').keys).toEqual(['a', 'b', 'c']);
  });
});

describe('scaled Manhattan', () => {
  it('sums |x − mean| / mean absolute deviation', () => {
    // One key: holds 100 and 120 → mean 110, MAD 10.
    const model = scaledManhattan.enrol([sample(['k', 0, 100]), sample(['k', 0, 120])]);
    expect(model.score(sample(['k', 0, 130]))).toBeCloseTo(2, 12);
    expect(model.score(sample(['k', 0, 110]))).toBe(0);
  });

  it('adds 3 per absent feature', () => {
    const model = scaledManhattan.enrol([sample(['k', 0, 100]), sample(['k', 0, 120])]);
    expect(model.score(sample(['j', 0, 110]))).toBe(3);
  });

  it('floors the deviation at 1 ms', () => {
    const model = scaledManhattan.enrol([sample(['k', 0, 100]), sample(['k', 0, 100])]);
    expect(model.score(sample(['k', 0, 105]))).toBe(5);
  });
});

describe('Loopgate detector', () => {
  const enrolment: KeySample[] = Array.from({ length: 10 }, (_, i) =>
    sample(['a', 0, 100 + (i % 3) * 5], ['b', 180 + (i % 4) * 6, 260 + (i % 4) * 6], ['c', 400 + (i % 5) * 7, 470 + (i % 5) * 7]),
  );
  const model = loopgateKeystroke.enrol(enrolment);

  it('scores the user lower than a different rhythm', () => {
    const genuine = sample(['a', 0, 104], ['b', 186, 266], ['c', 410, 478]);
    const impostor = sample(['a', 0, 60], ['b', 300, 340], ['c', 520, 560]);
    expect(model.score(genuine)).toBeLessThan(model.score(impostor));
  });

  it('caps each feature at 3, and charges 3 for an absent one', () => {
    const wild = sample(['a', 0, 10_000], ['b', 90_000, 99_000], ['c', 200_000, 201_000]);
    expect(model.score(wild)).toBeLessThanOrEqual(3 * 7);
    expect(model.score([])).toBe(3 * 7);
  });

  it('uses the population spread as a floor when the user is perfectly regular', () => {
    const same = Array.from({ length: 5 }, () => sample(['k', 0, 100]));
    const narrow = loopgateKeystroke.enrol(same, { population: { spread: { hold: 0.01, dd: 0.01, ud: 0.01 } } });
    const wide = loopgateKeystroke.enrol(same, { population: { spread: { hold: 1, dd: 1, ud: 1 } } });
    const probe = sample(['k', 0, 110]);
    expect(narrow.score(probe)).toBe(3);
    expect(wide.score(probe)).toBeGreaterThan(0);
    expect(wide.score(probe)).toBeLessThan(1);
  });

  it('builds a population model of positive spreads', () => {
    const pop = populationModel([enrolment, enrolment.map((s) => s.map((e) => ({ ...e, release: e.release + 20 })))]);
    for (const v of Object.values(pop.spread)) expect(v).toBeGreaterThan(0);
  });

  it('scores a 10-key sample in well under 50 µs', () => {
    const ten = sample(...Array.from({ length: 10 }, (_, i): [string, number, number] => [`k${i}`, i * 200, i * 200 + 90]));
    const m = loopgateKeystroke.enrol([ten, ten.map((e) => ({ ...e, release: e.release + 7 }))]);
    const probe = ten.map((e) => ({ ...e, press: e.press + 3 }));
    for (let i = 0; i < 2000; i++) m.score(probe);
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) m.score(probe);
    expect(((performance.now() - t0) * 1000) / n).toBeLessThan(50);
  });
});
