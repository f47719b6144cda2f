import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { LastTrusted } from '../../src/core/risk/baseline.js';
import type { ContextFeatures } from '../../src/core/risk/features.js';
import { assessTravel, distanceKm, formatDuration, type TravelConfig } from '../../src/core/risk/travel.js';

const LONDON = { latitude: 51.5074, longitude: -0.1278 };
const PARIS = { latitude: 48.8566, longitude: 2.3522 };
const SAO_PAULO = { latitude: -23.5505, longitude: -46.6333 };

const T = Date.parse('2026-06-01T09:00:00Z');
const HOUR = 3_600_000;
const CONFIG: TravelConfig = { maxSpeedKmh: 1000, minDistanceKm: 500, weight: 3 };

function here(at: { latitude: number; longitude: number }, timeMs: number, extra: Partial<ContextFeatures> = {}): ContextFeatures {
  return { hour: '09', time_ms: timeMs, ...at, ...extra };
}

function last(at: { latitude: number; longitude: number }, time: number, extra: Partial<LastTrusted> = {}): LastTrusted {
  return { time, ...at, ...extra };
}

describe('distanceKm', () => {
  it('measures London → Paris as about 344 km', () => {
    const d = distanceKm(LONDON.latitude, LONDON.longitude, PARIS.latitude, PARIS.longitude);
    expect(Math.abs(d - 344) / 344).toBeLessThan(0.01);
  });

  it('measures London → São Paulo as about 9,490 km', () => {
    const d = distanceKm(LONDON.latitude, LONDON.longitude, SAO_PAULO.latitude, SAO_PAULO.longitude);
    expect(Math.abs(d - 9490) / 9490).toBeLessThan(0.01);
  });

  it('measures 10° of longitude on the equator as R·θ', () => {
    // 6371.0088 km · 10·π/180 ≈ 1111.95 km
    expect(distanceKm(0, 0, 0, 10)).toBeCloseTo((6371.0088 * 10 * Math.PI) / 180, 6);
  });

  it('measures antipodes as half the circumference without NaN', () => {
    expect(distanceKm(0, 0, 0, 180)).toBeCloseTo(6371.0088 * Math.PI, 6);
    expect(distanceKm(90, 0, -90, 0)).toBeCloseTo(6371.0088 * Math.PI, 6);
  });

  it('is symmetric, zero to itself, and never more than half the circumference', () => {
    const lat = fc.double({ min: -90, max: 90, noNaN: true });
    const lon = fc.double({ min: -180, max: 180, noNaN: true });
    fc.assert(
      fc.property(lat, lon, lat, lon, (a, b, c, d) => {
        const x = distanceKm(a, b, c, d);
        expect(x).toBeCloseTo(distanceKm(c, d, a, b), 6);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(6371.0088 * Math.PI + 1e-6);
        expect(distanceKm(a, b, a, b)).toBe(0);
      }),
    );
  });
});

describe('assessTravel', () => {
  it('returns nothing without coordinates on either side', () => {
    expect(assessTravel(here(LONDON, T), undefined, 'alice', CONFIG)).toBeUndefined();
    expect(assessTravel(here(LONDON, T), { time: T - HOUR }, 'alice', CONFIG)).toBeUndefined();
    expect(assessTravel({ hour: '09', time_ms: T }, last(LONDON, T - HOUR), 'alice', CONFIG)).toBeUndefined();
  });

  it('ignores distances below minDistanceKm, however fast', () => {
    // London → Paris ≈ 344 km < 500 km, even within one second
    expect(assessTravel(here(PARIS, T), last(LONDON, T - 1000), 'alice', CONFIG)).toBeUndefined();
    // with the threshold lowered it counts
    expect(assessTravel(here(PARIS, T), last(LONDON, T - HOUR), 'alice', { ...CONFIG, minDistanceKm: 300 })).toBeDefined();
  });

  it('scales the contribution with speed above the maximum', () => {
    // (0,0) → (0,10°): 1111.95 km in 1 h = 1111.95 km/h > 1000 → 3 · 1.11195 ≈ 3.3359
    const r = assessTravel(here({ latitude: 0, longitude: 10 }, T), last({ latitude: 0, longitude: 0 }, T - HOUR), 'alice', CONFIG)!;
    const km = (6371.0088 * 10 * Math.PI) / 180;
    expect(r.impossible).toBe(true);
    expect(r.speedKmh).toBeCloseTo(km, 6);
    expect(r.signal.contribution).toBeCloseTo(3 * (km / 1000), 9);
    expect(r.signal.detail).toMatchObject({ elapsed_ms: HOUR });
  });

  it('caps the contribution at twice the weight', () => {
    // London → São Paulo ≈ 9,497 km in 1 h: 9.5 × the maximum speed, capped at 2 → 2 · 3 = 6
    const r = assessTravel(here(SAO_PAULO, T, { city: 'São Paulo, BR' }), last(LONDON, T - HOUR, { city: 'London, GB' }), 'alice', CONFIG)!;
    expect(r.impossible).toBe(true);
    expect(r.signal.contribution).toBe(6);
    expect(r.signal.signal).toBe('travel');
    expect(r.signal.sentence).toBe(
      "impossible travel: 9,497 km between London, GB and São Paulo, BR within 1 h of alice's last trusted event (9,497 km/h)",
    );
  });

  it('gives plausible travel a zero contribution', () => {
    // ≈ 9,497 km in 12 h ≈ 791 km/h < 1000
    const r = assessTravel(here(SAO_PAULO, T, { country: 'BR' }), last(LONDON, T - 12 * HOUR, { country: 'GB' }), 'alice', CONFIG)!;
    expect(r.impossible).toBe(false);
    expect(r.signal.contribution).toBe(0);
    expect(r.speedKmh).toBeCloseTo(r.signal.detail.distance_km as number / 12, 9);
    expect(r.signal.sentence).toBe("travelled 9,497 km between GB and BR within 12 h of alice's last trusted event (791 km/h, plausible)");
  });

  it('treats exactly the maximum speed as possible', () => {
    const km = distanceKm(0, 0, 0, 10);
    const ms = Math.round((km / 1000) * HOUR); // time at which the speed is 1000 km/h
    const r = assessTravel(here({ latitude: 0, longitude: 10 }, T), last({ latitude: 0, longitude: 0 }, T - ms), 'alice', {
      ...CONFIG,
      maxSpeedKmh: km / (ms / HOUR),
    })!;
    expect(r.impossible).toBe(false);
  });

  it('uses the absolute time difference for out-of-order events', () => {
    const forward = assessTravel(here(SAO_PAULO, T + 2 * HOUR), last(LONDON, T), 'alice', CONFIG)!;
    const backward = assessTravel(here(SAO_PAULO, T - 2 * HOUR), last(LONDON, T), 'alice', CONFIG)!;
    expect(backward.signal.detail.elapsed_ms).toBe(2 * HOUR);
    expect(backward.speedKmh).toBeCloseTo(forward.speedKmh, 9);
    expect(backward.impossible).toBe(true);
  });

  it('counts under a minute as a minute', () => {
    const r = assessTravel(here(SAO_PAULO, T), last(LONDON, T), 'alice', CONFIG)!;
    // elapsed 0 → 1 min: speed = km · 60
    expect(r.speedKmh).toBeCloseTo((r.signal.detail.distance_km as number) * 60, 6);
    expect(Number.isFinite(r.speedKmh)).toBe(true);
  });

  it('names unknown places generically', () => {
    const r = assessTravel(here(SAO_PAULO, T), last(LONDON, T - 30 * 60_000), 'alice', CONFIG)!;
    expect(r.signal.detail.from).toBe('the previous location');
    expect(r.signal.detail.to).toBe('here');
    expect(r.signal.sentence).toContain('between the previous location and here within 30 min');
  });
});

describe('formatDuration (travel)', () => {
  it('says "a minute" below a minute and rounds to minutes below an hour', () => {
    expect(formatDuration(0)).toBe('a minute');
    expect(formatDuration(29_999)).toBe('a minute');
    expect(formatDuration(59_999)).toBe('a minute');
    expect(formatDuration(90_000)).toBe('2 min'); // 1.5 min → 2
    expect(formatDuration(59 * 60_000)).toBe('59 min');
    expect(formatDuration(-5 * 60_000)).toBe('a minute');
  });

  it('uses hours and minutes below 48 hours', () => {
    expect(formatDuration(HOUR)).toBe('1 h');
    expect(formatDuration(90 * 60_000)).toBe('1 h 30 min');
    expect(formatDuration(47 * HOUR + 59 * 60_000)).toBe('47 h 59 min');
  });

  it('uses days from 48 hours on', () => {
    expect(formatDuration(48 * HOUR)).toBe('2 days');
    expect(formatDuration(86.4 * HOUR)).toBe('4 days'); // 3.6 days → 4
  });
});
