/**
 * Velocity: many attempts on one account, or many accounts from one IP, within a sliding window. The tracker is
 * an in-memory structure keyed by event time (not wall-clock time), so replaying history gives the same
 * answers. Memory is bounded: the least recently touched keys are forgotten first.
 */
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
  private readonly attempts = new Map<string, Array<{ t: number; failed: boolean }>>();
  private readonly accountsByIp = new Map<string, Map<string, number>>();

  constructor(private readonly config: VelocityConfig) {}

  record(a: Attempt): void {
    const list = touch(this.attempts, a.principal, () => [], this.config.maxKeys);
    list.push({ t: a.timeMs, failed: a.failed });
    this.trimList(list, a.timeMs);
    if (a.ip !== undefined) {
      const accounts = touch(this.accountsByIp, a.ip, () => new Map<string, number>(), this.config.maxKeys);
      accounts.delete(a.principal);
      accounts.set(a.principal, a.timeMs);
      this.trimAccounts(accounts, a.timeMs);
    }
  }

  observe(principal: string, ip: string | undefined, nowMs: number): VelocityObservation {
    const since = nowMs - this.config.windowMs;
    let attempts = 0;
    let failures = 0;
    for (const e of this.attempts.get(principal) ?? []) {
      if (e.t < since || e.t > nowMs) continue;
      attempts++;
      if (e.failed) failures++;
    }
    let accountsFromIp = 0;
    if (ip !== undefined) {
      for (const t of this.accountsByIp.get(ip)?.values() ?? []) if (t >= since && t <= nowMs) accountsFromIp++;
    }
    return { attempts, failures, accountsFromIp };
  }

  private trimList(list: Array<{ t: number }>, nowMs: number): void {
    const since = nowMs - this.config.windowMs;
    let drop = 0;
    while (drop < list.length && list[drop]!.t < since) drop++;
    if (drop > 0) list.splice(0, drop);
    // Bound a single hot key as well (a brute-force burst would otherwise grow without limit).
    if (list.length > 10_000) list.splice(0, list.length - 10_000);
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
      detail: { ...obs, window_minutes: minutes },
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
