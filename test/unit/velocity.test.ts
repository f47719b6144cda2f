import { describe, it, expect } from 'vitest';
import { assessVelocity, VelocityTracker, type VelocityConfig } from '../../src/core/risk/velocity.js';

const MIN = 60_000;
const T = Date.parse('2026-06-01T09:00:00Z');
const CONFIG: VelocityConfig = {
  windowMs: 10 * MIN,
  maxFailures: 3,
  maxAccountsPerIp: 3,
  failureWeight: 1.5,
  accountsWeight: 2,
  maxKeys: 100,
};

describe('VelocityTracker', () => {
  it('counts attempts and failures within the window', () => {
    const v = new VelocityTracker(CONFIG);
    v.record({ timeMs: T, principal: 'alice', failed: true });
    v.record({ timeMs: T + 1 * MIN, principal: 'alice', failed: true });
    v.record({ timeMs: T + 2 * MIN, principal: 'alice', failed: false });
    v.record({ timeMs: T + 2 * MIN, principal: 'bob', failed: true });
    expect(v.observe('alice', undefined, T + 2 * MIN)).toEqual({ attempts: 3, failures: 2, accountsFromIp: 0 });
    expect(v.observe('bob', undefined, T + 2 * MIN)).toEqual({ attempts: 1, failures: 1, accountsFromIp: 0 });
    expect(v.observe('carol', undefined, T + 2 * MIN)).toEqual({ attempts: 0, failures: 0, accountsFromIp: 0 });
  });

  it('forgets attempts older than the window, by event time', () => {
    const v = new VelocityTracker(CONFIG);
    v.record({ timeMs: T, principal: 'alice', failed: true });
    v.record({ timeMs: T + 5 * MIN, principal: 'alice', failed: true });
    // window [now − 10 min, now]: at T + 10 min both count (the bound is inclusive)
    expect(v.observe('alice', undefined, T + 10 * MIN)).toMatchObject({ attempts: 2, failures: 2 });
    // at T + 11 min the first one is out
    expect(v.observe('alice', undefined, T + 11 * MIN)).toMatchObject({ attempts: 1, failures: 1 });
    // at T + 16 min both are out
    expect(v.observe('alice', undefined, T + 16 * MIN)).toMatchObject({ attempts: 0, failures: 0 });
  });

  it('ignores attempts later than the observation time', () => {
    const v = new VelocityTracker(CONFIG);
    v.record({ timeMs: T, principal: 'alice', failed: true });
    v.record({ timeMs: T + 3 * MIN, principal: 'alice', failed: true });
    expect(v.observe('alice', undefined, T + 1 * MIN)).toMatchObject({ attempts: 1, failures: 1 });
  });

  it('trims stored attempts when a later one is recorded', () => {
    const v = new VelocityTracker(CONFIG);
    v.record({ timeMs: T, principal: 'alice', failed: true });
    v.record({ timeMs: T + 20 * MIN, principal: 'alice', failed: false });
    // the first attempt was dropped when the second was recorded (it was 20 min older)
    expect(v.observe('alice', undefined, T + 5 * MIN)).toMatchObject({ attempts: 0 });
  });

  it('counts distinct accounts per IP within the window', () => {
    const v = new VelocityTracker(CONFIG);
    const ip = '203.0.113.9';
    v.record({ timeMs: T, principal: 'alice', ip, failed: true });
    v.record({ timeMs: T + 1 * MIN, principal: 'bob', ip, failed: true });
    v.record({ timeMs: T + 2 * MIN, principal: 'alice', ip, failed: true });
    v.record({ timeMs: T + 3 * MIN, principal: 'carol', ip, failed: false });
    v.record({ timeMs: T + 3 * MIN, principal: 'dave', ip: '198.51.100.1', failed: false });
    expect(v.observe('alice', ip, T + 3 * MIN).accountsFromIp).toBe(3); // alice, bob, carol
    expect(v.observe('dave', '198.51.100.1', T + 3 * MIN).accountsFromIp).toBe(1);
    // bob's only attempt (T + 1 min) leaves the window at T + 11 min; alice's latest is at T + 2 min
    expect(v.observe('alice', ip, T + 11 * MIN + 1).accountsFromIp).toBe(2);
    expect(v.observe('alice', ip, T + 12 * MIN + 1).accountsFromIp).toBe(1);
  });

  it('evicts the least recently touched key when maxKeys is reached', () => {
    const v = new VelocityTracker({ ...CONFIG, maxKeys: 2 });
    v.record({ timeMs: T, principal: 'alice', failed: true });
    v.record({ timeMs: T + 1, principal: 'bob', failed: true });
    v.record({ timeMs: T + 2, principal: 'alice', failed: true }); // alice is now the most recent
    v.record({ timeMs: T + 3, principal: 'carol', failed: true }); // evicts bob
    expect(v.observe('bob', undefined, T + 3).attempts).toBe(0);
    expect(v.observe('alice', undefined, T + 3).attempts).toBe(2);
    expect(v.observe('carol', undefined, T + 3).attempts).toBe(1);
  });

  it('evicts IPs the same way', () => {
    const v = new VelocityTracker({ ...CONFIG, maxKeys: 2 });
    v.record({ timeMs: T, principal: 'a', ip: '192.0.2.1', failed: false });
    v.record({ timeMs: T, principal: 'b', ip: '192.0.2.2', failed: false });
    v.record({ timeMs: T, principal: 'c', ip: '192.0.2.1', failed: false });
    v.record({ timeMs: T, principal: 'd', ip: '192.0.2.3', failed: false }); // evicts 192.0.2.2
    expect(v.observe('x', '192.0.2.1', T).accountsFromIp).toBe(2);
    expect(v.observe('x', '192.0.2.2', T).accountsFromIp).toBe(0);
    expect(v.observe('x', '192.0.2.3', T).accountsFromIp).toBe(1);
  });
});

describe('VelocityTracker against a plain list (random attempts, some out of order)', () => {
  it('counts every window exactly as scanning the kept attempts would', () => {
    // A small deterministic generator (no test depends on Math.random).
    let seed = 42;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const v = new VelocityTracker({ ...CONFIG, maxKeys: 1000 });
    const kept = new Map<string, Array<{ t: number; failed: boolean }>>();
    let clock = T;
    let checked = 0;
    for (let i = 0; i < 5000; i++) {
      clock += Math.floor(next() * 20_000);
      const principal = `p${Math.floor(next() * 5)}`;
      // One attempt in ten arrives late, by up to 15 minutes (a replay, a delayed collector).
      const t = next() < 0.1 ? clock - Math.floor(next() * 15 * MIN) : clock;
      const failed = next() < 0.4;
      v.record({ timeMs: t, principal, failed });
      const list = kept.get(principal) ?? [];
      list.push({ t, failed });
      kept.set(principal, list.filter((e) => e.t >= t - CONFIG.windowMs));
      if (i % 7 === 0) {
        const who = `p${Math.floor(next() * 5)}`;
        const at = clock - Math.floor(next() * 12 * MIN);
        const inWindow = (kept.get(who) ?? []).filter((e) => e.t >= at - CONFIG.windowMs && e.t <= at);
        expect(v.observe(who, undefined, at)).toEqual({ attempts: inWindow.length, failures: inWindow.filter((e) => e.failed).length, accountsFromIp: 0 });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(700);
  });

  it('keeps at most 10,000 attempts of one account, the latest', () => {
    const v = new VelocityTracker({ ...CONFIG, windowMs: 24 * 60 * MIN });
    for (let i = 0; i < 12_000; i++) v.record({ timeMs: T + i, principal: 'alice', failed: i % 2 === 0 });
    expect(v.observe('alice', undefined, T + 12_000)).toEqual({ attempts: 10_000, failures: 5_000, accountsFromIp: 0 });
    expect(v.observe('alice', undefined, T + 1_999).attempts).toBe(0); // the first 2,000 are forgotten
  });
});

describe('assessVelocity', () => {
  it('is silent below both thresholds', () => {
    expect(assessVelocity({ attempts: 10, failures: 2, accountsFromIp: 2 }, 'alice', '192.0.2.1', CONFIG)).toEqual([]);
  });

  it('reports failures from the threshold on, growing logarithmically', () => {
    const [at] = assessVelocity({ attempts: 4, failures: 3, accountsFromIp: 0 }, 'alice', undefined, CONFIG);
    // 1.5 · log2(3/3 + 1) = 1.5
    expect(at).toEqual({
      signal: 'failed_attempts',
      contribution: 1.5,
      sentence: '3 failed attempts on alice in the last 10 minutes (4 attempts in all)',
      detail: { attempts: 4, failures: 3, accountsFromIp: 0, window_minutes: 10 },
    });
    const [more] = assessVelocity({ attempts: 9, failures: 9, accountsFromIp: 0 }, 'alice', undefined, CONFIG);
    // 1.5 · log2(9/3 + 1) = 1.5 · 2 = 3
    expect(more!.contribution).toBe(3);
  });

  it('reports many accounts from one IP, only when the IP is known', () => {
    const out = assessVelocity({ attempts: 1, failures: 0, accountsFromIp: 9 }, 'alice', '192.0.2.1', CONFIG);
    // 2 · log2(9/3 + 1) = 4
    expect(out).toEqual([
      {
        signal: 'accounts_per_ip',
        contribution: 4,
        sentence: '9 different accounts tried from IP 192.0.2.1 in the last 10 minutes',
        detail: { accounts: 9, ip: '192.0.2.1', window_minutes: 10 },
      },
    ]);
    expect(assessVelocity({ attempts: 1, failures: 0, accountsFromIp: 9 }, 'alice', undefined, CONFIG)).toEqual([]);
  });

  it('reports both signals, failures first', () => {
    const out = assessVelocity({ attempts: 5, failures: 5, accountsFromIp: 3 }, 'alice', '192.0.2.1', CONFIG);
    expect(out.map((s) => s.signal)).toEqual(['failed_attempts', 'accounts_per_ip']);
    expect(out[1]!.contribution).toBe(2); // 2 · log2(3/3 + 1)
  });

  it('rounds the window to whole minutes in sentences', () => {
    const [s] = assessVelocity({ attempts: 3, failures: 3, accountsFromIp: 0 }, 'alice', undefined, { ...CONFIG, windowMs: 90_000 });
    // 1.5 min → 2
    expect(s!.sentence).toBe('3 failed attempts on alice in the last 2 minutes (3 attempts in all)');
  });
});
