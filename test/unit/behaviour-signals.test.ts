import { describe, expect, it } from 'vitest';
import {
  assessBehaviour,
  behaviourOf,
  DEFAULT_BEHAVIOUR_CONFIG,
  deserialiseBehaviour,
  emptySubjectBehaviour,
  fieldSample,
  foldBehaviour,
  foldPopulation,
  pointerEvents,
  roundSample,
  serialiseBehaviour,
  type CollectorSignals,
  type SubjectBehaviour,
} from '../../src/core/behaviour/signals.js';
import { emptyPointerProfile, foldPointer, scorePointer } from '../../src/core/behaviour/pointer-profile.js';
import type { PointerProfile } from '../../src/core/behaviour/pointer-profile.js';
import { ALICE, collectorPayload, MALLORY, type Style } from '../helpers/signals.js';

const config = DEFAULT_BEHAVIOUR_CONFIG;

function sampleOf(style: Style, seed: number, options: { timerMs?: number } = {}) {
  const b = behaviourOf(collectorPayload(style, seed, options) as CollectorSignals);
  if (b === undefined) throw new Error('no behaviour in the payload');
  return b;
}

/** Alice enrolled from n trusted logins; the population also saw a few other people. */
function enrolled(n: number): { alice: SubjectBehaviour; population: PointerProfile | undefined } {
  let population: PointerProfile | undefined;
  const others: Style[] = [
    { ...ALICE, speed: 1.5, bow: 0.03, restMs: 70 },
    { ...ALICE, speed: 0.6, bow: 0.12, restMs: 200 },
    MALLORY,
  ];
  others.forEach((s, i) => {
    for (let k = 0; k < 4; k++) population = foldPopulation(population, sampleOf(s, 1000 + i * 10 + k));
  });
  const alice = emptySubjectBehaviour();
  for (let i = 0; i < n; i++) {
    const b = sampleOf(ALICE, i + 1);
    population = foldPopulation(population, b);
    foldBehaviour(alice, b, population, config);
  }
  return { alice, population };
}

describe('collector payload → samples', () => {
  it('orders strokes by position, keeps keys only for fields that are not secret', () => {
    expect(fieldSample({ secret: false, keys: ['a', 'b'], strokes: [[1, 120, 180], [0, 0, 90]] })).toEqual([
      { key: 'a', press: 0, release: 90 },
      { key: 'b', press: 120, release: 180 },
    ]);
    expect(fieldSample({ secret: true, strokes: [[0, 0, 90], [1, 120, 180]] }).map((e) => e.key)).toEqual([null, null]);
  });

  it('turns the pointer track into moves, presses, drags and releases in seconds', () => {
    const events = pointerEvents([0, 10, 10, 0, 16, 20, 12, 0, 30, 20, 12, 10, 40, 25, 14, 0, 55, 25, 14, 20, 60, 25, 14, 3]);
    expect(events.map((e) => `${e.state}:${e.button}`)).toEqual(['Move:NoButton', 'Move:NoButton', 'Pressed:Left', 'Drag:Left', 'Released:Left', 'Down:Scroll']);
    expect(events[1]!.t).toBeCloseTo(0.016);
  });

  it('extracts pointer actions from a login page’s track', () => {
    const b = sampleOf(ALICE, 1);
    expect(b.fields.map((f) => f.field)).toEqual(['account', 'password']);
    expect(b.pointer?.length).toBe(3); // three point-and-clicks
  });

  it('rounds timings to a coarse clock and leaves fine ones alone', () => {
    const s = [{ key: null, press: 0, release: 91.3 }];
    expect(roundSample(s, 16.7)[0]!.release).toBeCloseTo(83.5);
    expect(roundSample(s, 0.1)).toBe(s);
  });
});

describe('typing rhythm', () => {
  it('is not scored until enough trusted entries, and says so', () => {
    const { alice, population } = enrolled(3);
    const signals = assessBehaviour(sampleOf(ALICE, 50), alice, population, 'alice', config);
    const typing = signals.filter((s) => s.signal === 'typing_rhythm');
    expect(typing).toHaveLength(2);
    for (const s of typing) {
      expect(s.contribution).toBe(0);
      expect(s.sentence).toMatch(/not scored: 3 of 5 trusted entries enrolled for alice/);
    }
  });

  it('lowers the risk for the enrolled person and raises it for someone else', () => {
    const { alice, population } = enrolled(12);
    const own = assessBehaviour(sampleOf(ALICE, 77), alice, population, 'alice', config).find((s) => s.detail.field === 'password')!;
    const other = assessBehaviour(sampleOf(MALLORY, 77), alice, population, 'alice', config).find((s) => s.detail.field === 'password')!;
    expect(own.contribution).toBeLessThanOrEqual(0);
    expect(own.sentence).toMatch(/^typing rhythm on password as usual for alice/);
    expect(other.contribution).toBeGreaterThan(1);
    expect(other.sentence).toMatch(/^typing rhythm on password \d+\.\d deviations from alice's usual \(12 trusted entries, positions only\)$/);
    expect(Number(other.detail.deviations)).toBeGreaterThan(Number(own.detail.deviations) + 3);
  });

  it('caps the fields of one login together: one person typed them all', () => {
    const { alice, population } = enrolled(12);
    const typing = assessBehaviour(sampleOf(MALLORY, 78), alice, population, 'alice', config).filter((s) => s.signal === 'typing_rhythm');
    expect(typing).toHaveLength(2);
    const total = typing.reduce((a, s) => a + s.contribution, 0);
    expect(total).toBeCloseTo(config.keystroke.maxContribution, 6);
  });

  it('keeps only the newest entries of a field', () => {
    const { alice } = enrolled(25);
    expect(alice.fields.get('password')!.entries).toHaveLength(config.keystroke.window);
  });

  it('does not mistake a coarse clock for another person', () => {
    const { alice, population } = enrolled(12);
    const coarse = assessBehaviour(sampleOf(ALICE, 91, { timerMs: 16.7 }), alice, population, 'alice', config).find((s) => s.detail.field === 'password')!;
    const other = assessBehaviour(sampleOf(MALLORY, 91, { timerMs: 16.7 }), alice, population, 'alice', config).find((s) => s.detail.field === 'password')!;
    expect(coarse.contribution).toBeLessThan(0.5);
    expect(other.contribution).toBeGreaterThan(coarse.contribution + 1);
  });
});

describe('pointer movement', () => {
  it('is scored against the subject’s own usual once enough sessions are enrolled', () => {
    const few = enrolled(3);
    const early = assessBehaviour(sampleOf(MALLORY, 5), few.alice, few.population, 'alice', config).find((s) => s.signal === 'pointer_rhythm')!;
    expect(early.contribution).toBe(0);
    expect(early.sentence).toMatch(/pointer movement not scored: 3 of 5 trusted sessions/);

    const { alice, population } = enrolled(12);
    const own = assessBehaviour(sampleOf(ALICE, 66), alice, population, 'alice', config).find((s) => s.signal === 'pointer_rhythm')!;
    const other = assessBehaviour(sampleOf(MALLORY, 66), alice, population, 'alice', config).find((s) => s.signal === 'pointer_rhythm')!;
    expect(own.contribution).toBeLessThan(0.5);
    expect(other.contribution).toBeGreaterThan(own.contribution + 1);
    expect(other.sentence).toMatch(/^pointer movement \d+\.\d deviations from alice's usual \(3 actions; 12 trusted sessions/);
  });

  it('profile statistics: a young profile is shrunk to the population (no evidence), a grown one separates', () => {
    const pop = emptyPointerProfile(53);
    const row = (v: number) => [1, 0, 0, ...new Array<number>(50).fill(v)];
    foldPointer(pop, [row(0), row(2), row(4), row(-2), row(6)], 1e6);
    const user = emptyPointerProfile(53);
    expect(Math.abs(scorePointer(user, pop, [row(2)]))).toBeLessThan(1e-9);
    foldPointer(user, Array.from({ length: 200 }, (_, i) => row(1 + (i % 3) * 0.1)), 2000);
    expect(scorePointer(user, pop, [row(1.1)])).toBeLessThan(0);
    expect(scorePointer(user, pop, [row(5)])).toBeGreaterThan(0);
  });
});

describe('profiles survive a snapshot', () => {
  it('serialises and restores to the same scores', () => {
    const { alice, population } = enrolled(8);
    const copy = deserialiseBehaviour(JSON.parse(JSON.stringify(serialiseBehaviour(alice))));
    const probe = sampleOf(MALLORY, 9);
    const a = assessBehaviour(probe, alice, population, 'alice', config);
    const b = assessBehaviour(probe, copy, population, 'alice', config);
    expect(b.map((s) => s.contribution)).toEqual(a.map((s) => s.contribution));
    // A secret field's stored entries carry no keys.
    expect(serialiseBehaviour(alice).f.password!.e.every((e) => e.k === null)).toBe(true);
  });
});

describe('observations and baselines', () => {
  it('a stored login replays with its behaviour; other events carry none', async () => {
    const { observationFromDecision } = await import('../../src/services/baselines.js');
    const { foldBaseline, emptyBaseline, serialiseBaseline, deserialiseBaseline } = await import('../../src/core/risk/baseline.js');
    const event = { type: 'login', subject: { id: 'alice' }, actor: { kind: 'human', id: 'alice' }, context: {}, signals: collectorPayload(ALICE, 3) };
    const features = { hour: '09', time_ms: 1 };
    const obs = observationFromDecision(JSON.stringify({ event, features }));
    expect(obs.behaviour?.fields.map((f) => f.field)).toEqual(['account', 'password']);
    expect(obs.behaviour?.pointer?.length).toBe(3);
    const mfa = observationFromDecision(JSON.stringify({ event: { ...event, type: 'mfa' }, features }));
    expect(mfa.behaviour).toBeUndefined();

    const b = emptyBaseline('human:alice');
    foldBaseline(b, obs, { halfLifeMs: 1e9 }, 32, { config, population: undefined });
    const copy = deserialiseBaseline(JSON.parse(JSON.stringify(serialiseBaseline(b))));
    expect(copy.behaviour?.fields.get('password')?.entries).toHaveLength(1);
    expect(copy.behaviour?.pointer?.sessions).toBe(1);
    // Without the behaviour settings (e.g. an old caller), the context is folded and the profile left alone.
    const plain = emptyBaseline('human:alice');
    foldBaseline(plain, obs, { halfLifeMs: 1e9 }, 32);
    expect(plain.behaviour).toBeUndefined();
  });
});

describe('stored logins from before the payload was validated', () => {
  it('teach nothing from a malformed payload instead of stopping the replay', async () => {
    const { observationFromDecision } = await import('../../src/services/baselines.js');
    const event = { type: 'login', subject: { id: 'alice' }, actor: { kind: 'human', id: 'alice' }, context: {}, signals: { fields: { password: { secret: true } }, pointer: 'x' } };
    const obs = observationFromDecision(JSON.stringify({ event, features: { hour: '09', time_ms: 1 } }));
    expect(obs.isLogin).toBe(true);
    expect(obs.behaviour).toBeUndefined();
  });
});
