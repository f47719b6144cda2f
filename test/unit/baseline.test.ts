import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  deserialiseBaseline,
  deserialiseCounts,
  effective,
  emptyBaseline,
  emptyCounts,
  featureTotal,
  fold,
  foldBaseline,
  logAddExp,
  logWeightAt,
  serialiseBaseline,
  serialiseCounts,
  summariseBaseline,
  valueStats,
  type Baseline,
  type Decay,
  type Observation,
  type SerialBaseline,
} from '../../src/core/risk/baseline.js';
import type { ContextFeatures } from '../../src/core/risk/features.js';

const DAY = 86_400_000;
const DECAY: Decay = { halfLifeMs: 90 * DAY };
const T = Date.parse('2026-06-01T09:00:00Z');

function features(f: Partial<ContextFeatures>, timeMs = T): ContextFeatures {
  return { hour: String(new Date(timeMs).getUTCHours()).padStart(2, '0'), time_ms: timeMs, ...f };
}

function obs(f: Partial<ContextFeatures>, timeMs = T, isLogin = true): Observation {
  return { timeMs, isLogin, features: features(f, timeMs) };
}

describe('logAddExp', () => {
  it('treats -Infinity as the identity', () => {
    expect(logAddExp(-Infinity, 3)).toBe(3);
    expect(logAddExp(3, -Infinity)).toBe(3);
    expect(logAddExp(-Infinity, -Infinity)).toBe(-Infinity);
  });

  it('adds in log space: ln 2 + ln 3 → ln 5, 0 + 0 → ln 2', () => {
    expect(logAddExp(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logAddExp(0, 0)).toBeCloseTo(Math.LN2, 15);
  });

  it('does not overflow for large arguments', () => {
    // exp(1000) is Infinity in doubles, but log(e^1000 + e^1000) = 1000 + ln 2
    expect(Math.exp(1000)).toBe(Infinity);
    expect(logAddExp(1000, 1000)).toBeCloseTo(1000 + Math.LN2, 10);
    // log(e^1e6 + e^0) = 1e6 + log1p(e^-1e6) = 1e6
    expect(logAddExp(1e6, 0)).toBe(1e6);
    expect(Number.isFinite(logAddExp(1e300, 1e300))).toBe(true);
  });

  it('is commutative, at least the maximum, and at most max + ln 2', () => {
    const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(finite, finite, (a, b) => {
        const r = logAddExp(a, b);
        expect(r).toBe(logAddExp(b, a));
        expect(r).toBeGreaterThanOrEqual(Math.max(a, b));
        expect(r).toBeLessThanOrEqual(Math.max(a, b) + Math.LN2 + 1e-9);
      }),
    );
  });

  it('matches log(exp a + exp b) where that is representable', () => {
    const small = fc.double({ min: -50, max: 50, noNaN: true });
    fc.assert(
      fc.property(small, small, (a, b) => {
        expect(logAddExp(a, b)).toBeCloseTo(Math.log(Math.exp(a) + Math.exp(b)), 9);
      }),
    );
  });
});

describe('effective', () => {
  it('is the raw weight at observation time and halves after each half-life', () => {
    const c = emptyCounts();
    fold(c, obs({ ip: '192.0.2.1' }), DECAY, 32);
    // one observation at T: exp(λ(T−T0) − λ(now−T0)) = 2^-(now−T)/H
    expect(effective(c.w, T, DECAY)).toBeCloseTo(1, 12);
    expect(effective(c.w, T + 90 * DAY, DECAY)).toBeCloseTo(0.5, 12);
    expect(effective(c.w, T + 180 * DAY, DECAY)).toBeCloseTo(0.25, 12);
    expect(effective(c.w, T + 45 * DAY, DECAY)).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('adds an old and a new observation with their own decay', () => {
    const c = emptyCounts();
    fold(c, obs({}, T), DECAY, 32);
    fold(c, obs({}, T + 90 * DAY), DECAY, 32);
    // at T + 90 d: 0.5 (the old one) + 1 (the new one) = 1.5
    expect(effective(c.w, T + 90 * DAY, DECAY)).toBeCloseTo(1.5, 12);
  });

  it('uses a weight that grows linearly with time in log space', () => {
    // λ = ln 2 / H, so one half-life later the log weight is ln 2 larger
    expect(logWeightAt(T + DECAY.halfLifeMs, DECAY) - logWeightAt(T, DECAY)).toBeCloseTo(Math.LN2, 9);
  });
});

describe('fold', () => {
  it('counts raw observations, logins and per-feature totals', () => {
    const c = emptyCounts();
    fold(c, obs({ ip: '192.0.2.1', country: 'GB' }), DECAY, 32);
    fold(c, obs({ ip: '192.0.2.1' }, T, false), DECAY, 32);
    fold(c, obs({ ip: '198.51.100.7', country: 'FR', device_id: 'd1' }), DECAY, 32);
    expect(c.n).toBe(3);
    expect(c.nLogin).toBe(2);
    expect(featureTotal(c, 'ip')?.n).toBe(3);
    expect(featureTotal(c, 'country')?.n).toBe(2);
    expect(featureTotal(c, 'device_id')?.n).toBe(1);
    expect(featureTotal(c, 'hour')?.n).toBe(3);
    expect(valueStats(c, 'ip', '192.0.2.1')?.n).toBe(2);
    expect(valueStats(c, 'ip', '198.51.100.7')?.n).toBe(1);
    expect(valueStats(c, 'country', 'GB')?.n).toBe(1);
    // features that never had a value have no table at all
    expect(c.features.has('ua')).toBe(false);
    expect(featureTotal(c, 'asn')).toBeUndefined();
    // all three at the same instant: effective total weight = 3
    expect(effective(c.w, T, DECAY)).toBeCloseTo(3, 12);
    expect(effective(featureTotal(c, 'country')!.w, T, DECAY)).toBeCloseTo(2, 12);
  });

  it('tracks the last observation time per value', () => {
    const c = emptyCounts();
    fold(c, obs({ ip: '192.0.2.1' }, T + 1000), DECAY, 32);
    fold(c, obs({ ip: '192.0.2.1' }, T), DECAY, 32); // out of order: last stays at T+1000
    expect(valueStats(c, 'ip', '192.0.2.1')?.last).toBe(T + 1000);
    expect(featureTotal(c, 'ip')?.last).toBe(T + 1000);
  });

  it('prunes beyond the cap, keeping the heaviest values', () => {
    const c = emptyCounts();
    const add = (ip: string, times: number) => {
      for (let i = 0; i < times; i++) fold(c, obs({ ip }), DECAY, 2);
    };
    add('a', 3);
    add('b', 2);
    add('c', 1); // three values, cap 2: c is the lightest but was just seen, so b (the lightest other) goes
    expect([...c.features.get('ip')!.values.keys()].sort()).toEqual(['a', 'c']);
    // the total still counts every observation
    expect(featureTotal(c, 'ip')?.n).toBe(6);
  });

  it('lets a recent value outweigh an old, decayed one when pruning', () => {
    const c = emptyCounts();
    fold(c, obs({ ip: 'old' }, T), DECAY, 1);
    fold(c, obs({ ip: 'old' }, T), DECAY, 1);
    // two observations a year (≈ 4 half-lives) ago weigh 2 · 2^-4 ≈ 0.13 < 1 observation now
    fold(c, obs({ ip: 'new' }, T + 360 * DAY), DECAY, 1);
    expect([...c.features.get('ip')!.values.keys()]).toEqual(['new']);
  });

  it('prunes to 80 % of a cap above 64', () => {
    const c = emptyCounts();
    // 101 distinct values, one a day: a later observation weighs more
    for (let i = 0; i <= 100; i++) fold(c, obs({ device_id: `d${i}` }, T + i * DAY), DECAY, 100);
    // at the 101st value the table exceeds 100 and is cut to floor(100 · 0.8) = 80: the 80 newest remain
    const kept = [...c.features.get('device_id')!.values.keys()];
    expect(kept).toHaveLength(80);
    expect(kept).toContain('d100');
    expect(kept).toContain('d21');
    expect(kept).not.toContain('d20');
  });
});

describe('foldBaseline', () => {
  it('tracks first and last observation times regardless of order', () => {
    const b = emptyBaseline('alice');
    foldBaseline(b, obs({}, T + 2000), DECAY, 32);
    foldBaseline(b, obs({}, T), DECAY, 32);
    foldBaseline(b, obs({}, T + 5000), DECAY, 32);
    foldBaseline(b, obs({}, T + 3000), DECAY, 32);
    expect(b.first).toBe(T);
    expect(b.last).toBe(T + 5000);
    expect(b.n).toBe(4);
    expect(b.key).toBe('alice');
  });

  it('keeps the latest trusted location, with latitude and longitude carried', () => {
    const b = emptyBaseline('alice');
    foldBaseline(
      b,
      obs({ ip: '81.2.69.1', country: 'GB', city: 'London, GB', latitude: 51.5, longitude: -0.1 }, T + 1000),
      DECAY,
      32,
    );
    expect(b.lastTrusted).toEqual({ time: T + 1000, latitude: 51.5, longitude: -0.1, country: 'GB', city: 'London, GB', ip: '81.2.69.1' });
    // an older event does not replace it
    foldBaseline(b, obs({ ip: '90.84.0.1', country: 'FR', latitude: 48.9, longitude: 2.35 }, T), DECAY, 32);
    expect(b.lastTrusted?.ip).toBe('81.2.69.1');
    expect(b.lastTrusted?.time).toBe(T + 1000);
    // a newer one does
    foldBaseline(b, obs({ ip: '90.84.0.2', country: 'FR', latitude: 48.9, longitude: 2.35 }, T + 2000), DECAY, 32);
    expect(b.lastTrusted).toEqual({ time: T + 2000, latitude: 48.9, longitude: 2.35, country: 'FR', ip: '90.84.0.2' });
  });

  it('lets an event at the same time replace the last trusted one', () => {
    const b = emptyBaseline('alice');
    foldBaseline(b, obs({ ip: '192.0.2.1', latitude: 1, longitude: 2 }, T), DECAY, 32);
    foldBaseline(b, obs({ ip: '192.0.2.2', latitude: 3, longitude: 4 }, T), DECAY, 32);
    expect(b.lastTrusted).toEqual({ time: T, ip: '192.0.2.2', latitude: 3, longitude: 4 });
  });

  it('is only set by events with both coordinates (it is a location for impossible travel)', () => {
    const b = emptyBaseline('alice');
    foldBaseline(b, obs({ latitude: 10 }, T), DECAY, 32);
    foldBaseline(b, obs({ ip: '192.0.2.9' }, T), DECAY, 32);
    expect(b.lastTrusted).toBeUndefined();
    expect(b.n).toBe(2);
  });
});

describe('serialisation', () => {
  const viaJson = <S>(s: S): S => JSON.parse(JSON.stringify(s)) as S;

  it('round-trips empty counts, including the -Infinity total weight', () => {
    const c = emptyCounts();
    const s = viaJson(serialiseCounts(c));
    expect(s.w).toBeNull();
    const back = deserialiseCounts(s);
    expect(back.w).toBe(-Infinity);
    expect(back).toStrictEqual(c);
  });

  it('round-trips counts exactly', () => {
    const c = emptyCounts();
    fold(c, obs({ ip: '192.0.2.1', asn: 'AS64500', country: 'GB', ua: 'Mozilla/5.0', device_id: 'd1' }, T), DECAY, 32);
    fold(c, obs({ ip: '192.0.2.2', country: 'GB' }, T + 3_600_000, false), DECAY, 32);
    c.learnedSeq = 17;
    const back = deserialiseCounts(viaJson(serialiseCounts(c)));
    expect(back).toStrictEqual(c);
    expect(back.features.get('ip')!.values.get('192.0.2.2')).toStrictEqual(c.features.get('ip')!.values.get('192.0.2.2'));
  });

  it('round-trips an empty baseline and one with history', () => {
    const empty = emptyBaseline('bob');
    expect(deserialiseBaseline(viaJson(serialiseBaseline(empty)))).toStrictEqual(empty);

    const b = emptyBaseline('alice');
    foldBaseline(b, obs({ ip: '81.2.69.1', country: 'GB', latitude: 51.5, longitude: -0.1 }, T), DECAY, 32);
    foldBaseline(b, obs({ ip: '81.2.69.2' }, T + DAY), DECAY, 32);
    const s = viaJson(serialiseBaseline(b));
    // The second event has no coordinates: the last trusted location is still the first.
    expect(s.lt).toEqual({ time: T, ip: '81.2.69.1', country: 'GB', latitude: 51.5, longitude: -0.1 });
    expect(deserialiseBaseline(s)).toStrictEqual(b);
  });

  it('round-trips any sequence of folds (property)', () => {
    const value = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
    const observation = fc.record({
      dt: fc.integer({ min: 0, max: 1000 * DAY }),
      isLogin: fc.boolean(),
      ip: fc.option(value, { nil: undefined }),
      device_id: fc.option(value, { nil: undefined }),
      country: fc.option(fc.constantFrom('GB', 'FR'), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (list, cap) => {
        const b = emptyBaseline('k');
        for (const o of list) {
          const f: Partial<ContextFeatures> = {};
          if (o.ip !== undefined) f.ip = o.ip;
          if (o.device_id !== undefined) f.device_id = o.device_id;
          if (o.country !== undefined) f.country = o.country;
          foldBaseline(b, obs(f, T + o.dt, o.isLogin), DECAY, cap);
        }
        const back = deserialiseBaseline(JSON.parse(JSON.stringify(serialiseBaseline(b))) as SerialBaseline);
        expect(back).toStrictEqual(b);
      }),
      { numRuns: 100 },
    );
  });
});

describe('summariseBaseline', () => {
  it('summarises no history as zeros', () => {
    const empty = { events: 0, logins: 0, first_seen: null, last_seen: null };
    expect(summariseBaseline(undefined)).toEqual(empty);
    expect(summariseBaseline(emptyBaseline('x'))).toEqual(empty);
  });

  it('lists the top N values per feature by weight, with raw counts', () => {
    const b: Baseline = emptyBaseline('alice');
    const add = (device_id: string, times: number, t: number) => {
      for (let i = 0; i < times; i++) foldBaseline(b, obs({ device_id }, t, false), DECAY, 32);
    };
    add('laptop', 3, T);
    add('phone', 5, T - 360 * DAY); // 5 · 2^-4 ≈ 0.31 decayed weight: lighter than laptop
    add('tablet', 2, T);
    add('old', 1, T - 720 * DAY);
    const s = summariseBaseline(b, 2);
    expect(s.events).toBe(11); // 3 + 5 + 2 + 1
    expect(s.logins).toBe(0);
    expect(s.first_seen).toBe(new Date(T - 720 * DAY).toISOString());
    expect(s.last_seen).toBe(new Date(T).toISOString());
    expect(s.top.device_id).toEqual([
      { value: 'laptop', count: 3, last_seen: new Date(T).toISOString() },
      { value: 'tablet', count: 2, last_seen: new Date(T).toISOString() },
    ]);
    const all = summariseBaseline(b, 10).top.device_id!.map((v) => v.value);
    expect(all).toEqual(['laptop', 'tablet', 'phone', 'old']);
  });

  it('omits values with topN 0 but keeps the counts', () => {
    const b = emptyBaseline('alice');
    foldBaseline(b, obs({ ip: '192.0.2.1' }), DECAY, 32);
    const s = summariseBaseline(b, 0);
    expect(s.top).toBeUndefined();
    expect(s.events).toBe(1);
    expect(s.logins).toBe(1);
  });
});

describe('learning into a full baseline', () => {
  it('keeps the value just observed even when it is the lightest, so a full baseline still learns', () => {
    const b = emptyBaseline('alice');
    for (let i = 0; i < 3; i++) foldBaseline(b, obs({ device_id: 'a' }), DECAY, 2);
    for (let i = 0; i < 2; i++) foldBaseline(b, obs({ device_id: 'b' }), DECAY, 2);
    foldBaseline(b, obs({ device_id: 'c' }), DECAY, 2);
    // Cap 2: the lightest of the others (b) goes, the new device c stays.
    expect([...b.features.get('device_id')!.values.keys()].sort()).toEqual(['a', 'c']);
  });
});

describe('the last trusted location', () => {
  it('is not erased by a later trusted event without coordinates', () => {
    const b = emptyBaseline('alice');
    foldBaseline(b, { timeMs: T, isLogin: true, features: { hour: '09', time_ms: T, latitude: 51.5, longitude: -0.1, city: 'London, GB' } }, DECAY, 32);
    foldBaseline(b, { timeMs: T + 60_000, isLogin: true, features: { hour: '09', time_ms: T + 60_000, device_id: 'd' } }, DECAY, 32);
    expect(b.lastTrusted).toMatchObject({ time: T, latitude: 51.5, longitude: -0.1, city: 'London, GB' });
    expect(b.last).toBe(T + 60_000);
  });
});
