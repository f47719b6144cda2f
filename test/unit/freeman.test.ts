import { describe, it, expect } from 'vitest';
import { emptyBaseline, emptyCounts, fold, foldBaseline, type Baseline, type Counts, type Decay } from '../../src/core/risk/baseline.js';
import type { ContextFeatures } from '../../src/core/risk/features.js';
import { assessContext, percent, type FreemanConfig, type FreemanInputs, type SignalResult } from '../../src/core/risk/freeman.js';

/** All observations and the assessment happen at T, with a half-life of ~31,700 years: effective = raw counts. */
const T = Date.parse('2026-06-01T09:00:00Z');
const DECAY: Decay = { halfLifeMs: 1e15 };
const CONFIG: FreemanConfig = {
  alpha: 1,
  weights: { network: 1, client: 0.7, device: 0.8, hour: 0.3 },
  // All levels count fully here, so the family's log ratio is exactly the leaf's (the hand computations below).
  levelWeights: {},
  maxLogRatio: 6.9,
  minLogRatio: -2,
};

type F = Partial<ContextFeatures>;

function feats(f: F): ContextFeatures {
  return { hour: '09', time_ms: T, ...f };
}

function globalOf(groups: Array<[F, number]>, isLogin = true): Counts {
  const c = emptyCounts();
  for (const [f, times] of groups) for (let i = 0; i < times; i++) fold(c, { timeMs: T, isLogin, features: feats(f) }, DECAY, 1000);
  return c;
}

function baselineOf(groups: Array<[F, number]>, isLogin = true): Baseline {
  const b = emptyBaseline('alice');
  for (const [f, times] of groups) for (let i = 0; i < times; i++) foldBaseline(b, { timeMs: T, isLogin, features: feats(f) }, DECAY, 32);
  return b;
}

function assess(f: F, baseline: Baseline | undefined, global: Counts, config: FreemanConfig = CONFIG) {
  const inputs: FreemanInputs = { features: feats(f), baseline, global, decay: DECAY, nowMs: T, who: 'alice' };
  return assessContext(inputs, config);
}

function signal(signals: SignalResult[], name: string): SignalResult {
  const s = signals.find((x) => x.signal === name);
  if (s === undefined) throw new Error(`no ${name} signal in ${signals.map((x) => x.signal).join(', ')}`);
  return s;
}

describe('assessContext without history', () => {
  it('gives a single baseline signal with contribution 0 when there is no baseline', () => {
    const r = assess({ ip: '192.0.2.1', device_id: 'd1' }, undefined, globalOf([[{ device_id: 'd1' }, 5]]));
    expect(r.signals).toEqual([
      {
        signal: 'baseline',
        contribution: 0,
        sentence: 'no trusted history for alice yet; context cannot be compared',
        detail: { events: 0 },
      },
    ]);
    expect(r.facts).toEqual({});
  });

  it('treats an empty baseline like none', () => {
    const r = assess({ device_id: 'd1' }, emptyBaseline('alice'), globalOf([]));
    expect(r.signals).toHaveLength(1);
    expect(r.signals[0]!.signal).toBe('baseline');
    expect(r.signals[0]!.contribution).toBe(0);
  });
});

describe('assessContext, single-level family (device_id)', () => {
  // Global: d1 ×30 (alice's 8 among them), d2 ×60, d3 ×8, d4 ×2 → N_g = 100, K = 4 distinct values.
  // Alice: d1 ×8, d4 ×2 → n_u = 10, 2 distinct values, α = 1 → m = max(1, 2) = 2.
  const global = globalOf([
    [{ device_id: 'd1' }, 30],
    [{ device_id: 'd2' }, 60],
    [{ device_id: 'd3' }, 8],
    [{ device_id: 'd4' }, 2],
  ]);
  const alice = baselineOf([
    [{ device_id: 'd1' }, 8],
    [{ device_id: 'd4' }, 2],
  ]);

  it('rates a device alice uses as evidence of legitimacy', () => {
    const s = signal(assess({ device_id: 'd1' }, alice, global).signals, 'device');
    // p_g = (30+1)/(100+4+1) = 31/105
    // p_u = (8 + 2·31/105)/(10 + 2) = (840/105 + 62/105)/12 = 902/1260
    // ratio = (31/105)/(902/1260) = 31·12/902 = 186/451 ≈ 0.41242; ln ≈ -0.88573
    const ratio = 186 / 451;
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(ratio), 3);
    expect(s.contribution).toBeCloseTo(0.8 * Math.log(ratio), 9); // ≈ -0.70858
    expect(s.contribution).toBeCloseTo(-0.70858, 4);
    const levels = s.detail.levels as Array<Record<string, unknown>>;
    expect(levels).toHaveLength(1);
    expect(levels[0]!.feature).toBe('device_id');
    expect(levels[0]!.seen).toBe(8);
    expect(levels[0]!.global_probability).toBe(Number((31 / 105).toPrecision(4)));
    expect(levels[0]!.subject_probability).toBe(Number((902 / 1260).toPrecision(4)));
  });

  it('rates a device alice never used with ratio (n_u + m)/m', () => {
    const s = signal(assess({ device_id: 'd3' }, alice, global).signals, 'device');
    // p_g = 9/105; p_u = (0 + 2·9/105)/12; ratio = (9/105)·12/(18/105) = 12/2 = 6
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(6), 3);
    expect(s.contribution).toBeCloseTo(0.8 * Math.log(6), 9); // ≈ 1.43341
  });

  it('gives the same ratio for a device nobody has used', () => {
    // p_g = 1/105, but c_u = 0 so the ratio is still (10 + 2)/2 = 6
    const s = signal(assess({ device_id: 'never-seen' }, alice, global).signals, 'device');
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(6), 3);
  });

  it('uses α as the smoothing mass when alice has fewer distinct values', () => {
    const one = baselineOf([[{ device_id: 'd1' }, 10]]);
    // m = max(α = 3, 1) = 3 → ratio for an unseen device = (10 + 3)/3
    const s = signal(assess({ device_id: 'd3' }, one, global, { ...CONFIG, alpha: 3 }).signals, 'device');
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(13 / 3), 3);
  });

  it('clamps the log ratio to maxLogRatio', () => {
    const s = signal(assess({ device_id: 'd3' }, alice, global, { ...CONFIG, maxLogRatio: 1 }).signals, 'device');
    // ln 6 ≈ 1.79 > 1
    expect(s.detail.log_likelihood_ratio).toBe(1);
    expect(s.contribution).toBeCloseTo(0.8, 12);
  });

  it('clamps the log ratio to minLogRatio', () => {
    const s = signal(assess({ device_id: 'd1' }, alice, global, { ...CONFIG, minLogRatio: -0.5 }).signals, 'device');
    // ln(186/451) ≈ -0.886 < -0.5
    expect(s.detail.log_likelihood_ratio).toBe(-0.5);
    expect(s.contribution).toBeCloseTo(-0.4, 12);
  });

  it('omits a family the event has no value for', () => {
    const r = assess({}, alice, global);
    expect(r.signals.map((s) => s.signal)).toEqual(['hour']);
  });
});

describe('assessContext, hierarchical family (user agent → client → device type)', () => {
  const CHROME = { ua: 'UA-chrome-win', client: 'Chrome on Windows', device_type: 'desktop' };
  const SAFARI = { ua: 'UA-safari-ios', client: 'Mobile Safari on iOS', device_type: 'mobile' };
  const FIREFOX = { ua: 'UA-firefox-linux', client: 'Firefox on Linux', device_type: 'desktop' };
  // Global N = 100 at every level; K_ua = K_client = 3, K_device_type = 2.
  const global = globalOf([
    [CHROME, 60],
    [SAFARI, 30],
    [FIREFOX, 10],
  ]);
  // Alice: 10 × Chrome on Windows, desktop; one distinct value per level → m = max(1, 1) = 1.
  const alice = baselineOf([[CHROME, 10]]);

  // Hand computation for [unseen ua, unseen client, known device_type]:
  //   p_g(desktop) = (70+1)/(100+2+1) = 71/103
  //   p_u(desktop) = (10 + 1·71/103)/(10 + 1) = 1101/1133
  //   p_g(Firefox) = (10+1)/(100+3+1) = 11/104
  //   p_g(Firefox | desktop) = (11/104)/(71/103) = 1133/7384
  //   p_u(Firefox | desktop) = (0 + 1·1133/7384)/(10 + 1) = 103/7384       (desktop is known)
  //   p_u(Firefox) = 1101/1133 · 103/7384
  //   ratio = (11/104) / p_u(Firefox) = 11·1133·7384/(104·1101·103) = 121·71/1101 = 8591/1101 ≈ 7.8029
  //   p_g(ua | Firefox) = (11/104)/(11/104) = 1; Firefox was never used, so p_u(ua | Firefox) = p_g(ua | Firefox):
  //   the ua level adds no surprise and the leaf ratio stays 8591/1101.
  const EXPECTED = 8591 / 1101;

  it('matches the hand-computed ratio at the client level', () => {
    const s = signal(assess({ client: FIREFOX.client, device_type: 'desktop' }, alice, global).signals, 'client');
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(EXPECTED), 3);
    expect(s.contribution).toBeCloseTo(0.7 * Math.log(EXPECTED), 9); // ≈ 1.43817
  });

  it('adds no extra surprise below an unseen parent', () => {
    const withUa = signal(assess(FIREFOX, alice, global).signals, 'client');
    const withoutUa = signal(assess({ client: FIREFOX.client, device_type: 'desktop' }, alice, global).signals, 'client');
    expect(withUa.detail.log_likelihood_ratio).toBeCloseTo(Math.log(EXPECTED), 3);
    expect(withUa.contribution).toBeCloseTo(withoutUa.contribution, 12);
  });

  it('adds no extra surprise for a user-agent string nobody has used, under an unseen client', () => {
    // p_g(ua) = 1/104, p_g(ua | Firefox) = (1/104)/(11/104) = 1/11; the 1/11 cancels in the ratio
    const s = signal(assess({ ...FIREFOX, ua: 'UA-brand-new' }, alice, global).signals, 'client');
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(EXPECTED), 3);
  });

  it('does count a new user-agent string below a client alice knows', () => {
    const s = signal(assess({ ...CHROME, ua: 'UA-chrome-win-updated' }, alice, global).signals, 'client');
    // p_u(desktop) = 1101/1133
    // p_g(Chrome | desktop) = (61/104)/(71/103); p_u(Chrome | desktop) = (10 + p_g(Chrome | desktop))/11
    // p_g(ua | Chrome) = (1/104)/(61/104) = 1/61; p_u(ua | Chrome) = (0 + 1/61)/(10 + 1) = 1/671
    const pChromeGivenDesktop = 61 / 104 / (71 / 103);
    const pu = (1101 / 1133) * ((10 + pChromeGivenDesktop) / 11) * (1 / 671);
    const ratio = 1 / 104 / pu; // ≈ 6.73
    expect(s.detail.log_likelihood_ratio).toBeCloseTo(Math.log(ratio), 3);
    expect(ratio).toBeGreaterThan(6.7);
    expect(ratio).toBeLessThan(6.8);
  });

  it('records client facts level by level', () => {
    const r = assess(FIREFOX, alice, global);
    expect(r.facts.new_user_agent).toBe(true);
    expect(r.facts.new_client).toBe(true);
    expect(r.facts.new_device_type).toBe(false);
  });
});

describe('assessContext facts and sentences', () => {
  const HOME = { ip: '81.2.69.1', asn: 'AS20712', as_org: 'Andrews & Arnold Ltd', country: 'GB', device_id: 'laptop' };
  const PARIS = { ip: '90.84.0.1', asn: 'AS3215', as_org: 'Orange S.A.', country: 'FR', device_id: 'pc-7' };
  // Global: 30 events at every level (K_ip = K_asn = K_country = 2).
  const global = globalOf([
    [HOME, 10],
    [PARIS, 20],
  ]);
  const alice = baselineOf([[HOME, 10]]);

  it('flags only the new IP when the network and country are known', () => {
    const r = assess({ ...HOME, ip: '81.2.69.99' }, alice, global);
    expect(r.facts).toMatchObject({ new_ip: true, new_network: false, new_country: false, new_device: false });
  });

  it('flags everything new from a new place and device', () => {
    const r = assess(PARIS, alice, global);
    expect(r.facts).toMatchObject({ new_ip: true, new_network: true, new_country: true, new_device: true });
  });

  it('flags nothing as new for the usual context', () => {
    const r = assess(HOME, alice, global);
    expect(r.facts).toMatchObject({ new_ip: false, new_network: false, new_country: false, new_device: false });
  });

  it('leaves a fact unset when alice never reported that feature', () => {
    const noDevice = baselineOf([[{ ip: HOME.ip }, 10]]);
    const r = assess({ ip: HOME.ip, device_id: 'laptop' }, noDevice, global);
    expect(r.facts.new_device).toBeUndefined();
    expect(r.facts.new_ip).toBe(false);
    expect(signal(r.signals, 'device').sentence).toBe('alice has no device history to compare with');
  });

  it('names a new IP nobody used before, and the known network', () => {
    const r = assess({ ...HOME, ip: '81.2.69.99' }, alice, global);
    // Nobody used 81.2.69.99: its smoothed probability is not a share of anything, so none is quoted.
    expect(signal(r.signals, 'network').sentence).toBe(
      'IP 81.2.69.99 never seen for alice in 10 logins; never seen for anyone before; network AS20712 (Andrews & Arnold Ltd) seen in 10 of them',
    );
  });

  it('explains a novelty at the highest level where it happened', () => {
    const r = assess(PARIS, alice, global);
    // p_g(FR) = (20+1)/(30+2+1) = 21/33 ≈ 63.6 % → "64%"
    expect(signal(r.signals, 'network').sentence).toBe('country FR never seen for alice in 10 logins; 64% of all logins');
    // p_g(pc-7) = 21/33 too
    expect(signal(r.signals, 'device').sentence).toBe('device pc-7 never seen for alice in 10 logins; 64% of all logins');
  });

  it('describes a known value with how often it was seen', () => {
    const r = assess(HOME, alice, global);
    expect(signal(r.signals, 'device').sentence).toBe('device laptop seen in 10 of 10 logins for alice');
    expect(signal(r.signals, 'network').sentence).toBe('IP 81.2.69.1 seen in 10 of 10 logins for alice');
  });

  it('says "trusted events" when not every event was a login', () => {
    const mixed = baselineOf([[HOME, 1]], false);
    foldBaseline(mixed, { timeMs: T, isLogin: true, features: feats(HOME) }, DECAY, 32);
    const nonLoginGlobal = globalOf([[HOME, 3]], false);
    const r = assess({ device_id: 'new' }, mixed, nonLoginGlobal);
    expect(signal(r.signals, 'device').sentence).toBe('device new never seen for alice in 2 trusted events; never seen for anyone before');
    // A device others used: its share of all trusted events is quoted. p_g(shared) = (2+1)/(5+2+1) = 37.5 % → "38%"
    const withShared = globalOf([[HOME, 3], [{ device_id: 'shared' }, 2]], false);
    const s2 = signal(assess({ device_id: 'shared' }, mixed, withShared).signals, 'device');
    expect(s2.sentence).toBe('device shared never seen for alice in 2 trusted events; 38% of all trusted events');
  });
});

describe('percent', () => {
  it('formats shares for sentences', () => {
    expect(percent(0.0004)).toBe('<0.1%'); // 0.04 %
    expect(percent(0.0049)).toBe('0.5%'); // 0.49 % → one decimal
    expect(percent(0.105)).toBe('11%'); // 10.5 % → rounded
    expect(percent(1)).toBe('100%');
  });
});

describe('assessContext, hour of day', () => {
  // Alice always signs in at 09 UTC (10 times); globally 50 at 09, 25 at 10, 25 at 21 (N = 100, K = 3).
  const alice = baselineOf([[{}, 10]]);
  const global = globalOf([
    [{}, 50],
    [{ hour: '10' }, 25],
    [{ hour: '21' }, 25],
  ]);

  it('finds a neighbouring hour less surprising than one 12 hours away', () => {
    const near = signal(assess({ hour: '10' }, alice, global).signals, 'hour');
    const far = signal(assess({ hour: '21' }, alice, global).signals, 'hour');
    // Both sides use the kernel (mass 1 + 2·(0.5 + 0.25) = 2.5); global add-one smoothing over 24 hours.
    // 10: near_g = 25 + 0.5·50 = 50 → p_g = (50/2.5 + 1)/(100 + 24) = 21/124
    //     p_kernel = 0.5·10/(10·2.5) = 0.2; p_u = (10·0.2 + 1·21/124)/11 = 269/1364; ratio = 21·11/269 = 231/269
    // 21: near_g = 25 → p_g = (10 + 1)/124 = 11/124; p_u = (0 + 11/124)/11 = 1/124; ratio = 11
    expect(near.detail.log_likelihood_ratio).toBeCloseTo(Math.log(231 / 269), 3);
    expect(far.detail.log_likelihood_ratio).toBeCloseTo(Math.log(11), 3);
    expect(near.contribution).toBeCloseTo(0.3 * Math.log(231 / 269), 9);
    expect(far.contribution).toBeCloseTo(0.3 * Math.log(11), 9);
    expect(near.contribution).toBeLessThan(far.contribution);
  });

  it("treats the principal's own usual hour as evidence of legitimacy", () => {
    const own = signal(assess({ hour: '09' }, alice, global).signals, 'hour');
    // 09: near_g = 50 + 0.5·25 = 62.5 → p_g = 26/124; p_kernel = 10/25 = 0.4; p_u = (4 + 26/124)/11 = 522/1364
    // ratio = (26/124)/(522/1364) = 286/522 < 1
    expect(own.contribution).toBeCloseTo(0.3 * Math.log(286 / 522), 9);
    expect(own.sentence).toBe('09:00 UTC is a usual time for alice (100% of their 10 logins were within 2 hours of it)');
  });

  it('calls a far hour unusual and a neighbouring one usual', () => {
    const near = assess({ hour: '10' }, alice, global);
    const far = assess({ hour: '21' }, alice, global);
    expect(near.facts.unusual_hour).toBe(false); // ratio 231/269 < 1
    expect(far.facts.unusual_hour).toBe(true); // ln 11 > ln 3
    expect(signal(near.signals, 'hour').sentence).toBe(
      '10:00 UTC is a usual time for alice (100% of their 10 logins were within 2 hours of it)',
    );
    expect(signal(far.signals, 'hour').sentence).toBe(
      '21:00 UTC is unusual for alice: <0.1% of their 10 logins were within 2 hours of it (9% of all events are around this hour)',
    );
  });

  it('wraps around midnight', () => {
    const night = baselineOf([[{ hour: '00' }, 10]]);
    const g = globalOf([[{ hour: '00' }, 10]]);
    const before = signal(assess({ hour: '23' }, night, g).signals, 'hour');
    const after = signal(assess({ hour: '01' }, night, g).signals, 'hour');
    const far = signal(assess({ hour: '12' }, night, g).signals, 'hour');
    expect(before.contribution).toBeCloseTo(after.contribution, 12);
    expect(before.contribution).toBeLessThan(far.contribution);
  });
});

describe('level weights', () => {
  it('weights each level term of a family, and with all weights 1 gives the leaf ratio', () => {
    // Alice: 10 logins with one user agent of Chrome on Windows (desktop); globally 100 logins.
    const alice = baselineOf([[{ ua: 'UA-1', client: 'Chrome on Windows', device_type: 'desktop' }, 10]]);
    const global = globalOf([
      [{ ua: 'UA-1', client: 'Chrome on Windows', device_type: 'desktop' }, 60],
      [{ ua: 'UA-2', client: 'Chrome on Windows', device_type: 'desktop' }, 40],
    ]);
    const update = { ua: 'UA-2', client: 'Chrome on Windows', device_type: 'desktop' };
    const full = signal(assess(update, alice, global).signals, 'client');
    const halved = signal(assess(update, alice, global, { ...CONFIG, levelWeights: { ua: 0.5 } }).signals, 'client');
    // Known client and device type: their terms are ln(p_g/p_u) ≤ 0 and small; the new UA term dominates.
    // The weighted sum with ua: 0.5 differs from the full one by exactly half the UA term.
    const root = signal(assess({ client: 'Chrome on Windows', device_type: 'desktop' }, alice, global).signals, 'client');
    const uaTerm = (full.contribution - root.contribution) / 0.7;
    expect(uaTerm).toBeGreaterThan(2);
    expect(halved.contribution).toBeCloseTo(full.contribution - 0.7 * 0.5 * uaTerm, 9);
  });
});
