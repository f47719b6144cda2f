/**
 * Velocity: many attempts on one account, or many accounts from one IP, within a sliding window. The tracker is
 * an in-memory structure keyed by event time (not wall-clock time), so replaying history gives the same
 * answers. Memory is bounded: the least recently touched keys are forgotten first.
 */
import { lowerBound, upperBound } from '../sorted.js';
import type { SignalResult } from './freeman.js';

export interface VelocityConfig {
  windowMs: number;
  /** Failed attempts on one account within the window before it counts as a signal. */
  maxFailures: number;
  /** Distinct accounts from one IP within the window before it counts as a signal. */
  maxAccountsPerIp: number;
  failureWeight: number;
  accountsWeight: number;
  /** Keys (accounts, IPs) kept in memory. */
  maxKeys: number;
}

export interface Attempt {
  timeMs: number;
  principal: string;
  ip?: string;
  failed: boolean;
}

export interface VelocityObservation {
  attempts: number;
  failures: number;
  accountsFromIp: number;
}

export class VelocityTracker {
  private readonly attempts = new Map<string, AttemptLog>();
  private readonly accountsByIp = new Map<string, Map<string, number>>();

  constructor(private readonly config: VelocityConfig) {}

  record(a: Attempt): void {
    const log = touch(this.attempts, a.principal, () => new AttemptLog(), this.config.maxKeys);
    log.add(a.timeMs, a.failed);
    log.forgetBefore(a.timeMs - this.config.windowMs);
    if (a.ip !== undefined) {
      const accounts = touch(this.accountsByIp, a.ip, () => new Map<string, number>(), this.config.maxKeys);
      accounts.delete(a.principal);
      accounts.set(a.principal, a.timeMs);
      this.trimAccounts(accounts, a.timeMs);
    }
  }

  observe(principal: string, ip: string | undefined, nowMs: number): VelocityObservation {
    const since = nowMs - this.config.windowMs;
    const { attempts, failures } = this.attempts.get(principal)?.count(since, nowMs) ?? { attempts: 0, failures: 0 };
    let accountsFromIp = 0;
    if (ip !== undefined) {
      for (const t of this.accountsByIp.get(ip)?.values() ?? []) if (t >= since && t <= nowMs) accountsFromIp++;
    }
    return { attempts, failures, accountsFromIp };
  }

  private trimAccounts(accounts: Map<string, number>, nowMs: number): void {
    const since = nowMs - this.config.windowMs;
    for (const [principal, t] of accounts) {
      if (t >= since) break; // insertion order is recency order
      accounts.delete(principal);
    }
    while (accounts.size > 10_000) accounts.delete(accounts.keys().next().value as string);
  }
}

/** Most attempts kept per account: a brute-force burst must not grow one key without limit. */
const MAX_ATTEMPTS_PER_KEY = 10_000;

/**
 * One account's attempts, sorted by event time, with a running count of failures: counting a window is two binary
 * searches, not a scan, so an account under a burst of attempts costs no more per event than a quiet one.
 * Entries before `head` are forgotten; the arrays are compacted once most of them are.
 */
class AttemptLog {
  private times: number[] = [];
  /** Failures among all entries up to and including i, counted since this log began. */
  private failuresThrough: number[] = [];
  /** Failures among entries compacted away (what failuresThrough[-1] would be). */
  private compactedFailures = 0;
  private head = 0;

  add(timeMs: number, failed: boolean): void {
    const f = failed ? 1 : 0;
    const n = this.times.length;
    if (n === 0 || this.times[n - 1]! <= timeMs) {
      this.times.push(timeMs);
      this.failuresThrough.push(this.failuresBefore(n) + f);
    } else {
      // Out of order (a replay, a late event): inserted in place; rare, so linear.
      const at = upperBound(this.times, timeMs, this.head);
      this.times.splice(at, 0, timeMs);
      this.failuresThrough.splice(at, 0, this.failuresBefore(at) + f);
      for (let i = at + 1; i <= n; i++) this.failuresThrough[i]! += f;
    }
    if (this.times.length - this.head > MAX_ATTEMPTS_PER_KEY) this.head = this.times.length - MAX_ATTEMPTS_PER_KEY;
  }

  /** Forgets attempts earlier than `sinceMs`. */
  forgetBefore(sinceMs: number): void {
    this.head = lowerBound(this.times, sinceMs, this.head);
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.compactedFailures = this.failuresBefore(this.head);
      this.times = this.times.slice(this.head);
      this.failuresThrough = this.failuresThrough.slice(this.head);
      this.head = 0;
    }
  }

  /** Attempts and failures with sinceMs ≤ time ≤ untilMs. */
  count(sinceMs: number, untilMs: number): { attempts: number; failures: number } {
    const from = lowerBound(this.times, sinceMs, this.head);
    const to = upperBound(this.times, untilMs, from);
    if (to <= from) return { attempts: 0, failures: 0 };
    return { attempts: to - from, failures: this.failuresThrough[to - 1]! - this.failuresBefore(from) };
  }

  private failuresBefore(i: number): number {
    return i === 0 ? this.compactedFailures : this.failuresThrough[i - 1]!;
  }
}

function touch<V>(map: Map<string, V>, key: string, create: () => V, maxKeys: number): V {
  let v = map.get(key);
  if (v === undefined) {
    v = create();
    if (map.size >= maxKeys) map.delete(map.keys().next().value as string);
  } else {
    map.delete(key);
  }
  map.set(key, v);
  return v;
}

export function assessVelocity(obs: VelocityObservation, who: string, ip: string | undefined, config: VelocityConfig): SignalResult[] {
  const minutes = Math.round(config.windowMs / 60000);
  const out: SignalResult[] = [];
  if (obs.failures >= config.maxFailures) {
    out.push({
      signal: 'failed_attempts',
      contribution: config.failureWeight * Math.log2(obs.failures / config.maxFailures + 1),
      sentence: `${obs.failures} failed attempts on ${who} in the last ${minutes} minutes (${obs.attempts} attempts in all)`,
      detail: { attempts: obs.attempts, failures: obs.failures, accountsFromIp: obs.accountsFromIp, window_minutes: minutes },
    });
  }
  if (ip !== undefined && obs.accountsFromIp >= config.maxAccountsPerIp) {
    out.push({
      signal: 'accounts_per_ip',
      contribution: config.accountsWeight * Math.log2(obs.accountsFromIp / config.maxAccountsPerIp + 1),
      sentence: `${obs.accountsFromIp} different accounts tried from IP ${ip} in the last ${minutes} minutes`,
      detail: { accounts: obs.accountsFromIp, ip, window_minutes: minutes },
    });
  }
  return out;
}
