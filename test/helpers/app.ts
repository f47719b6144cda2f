/**
 * Builds a Loopgate for a test: a fresh database of the given kind, the fixed IP table, a clock the test
 * controls, and the HTTP app (requests go through Fastify's inject: the full HTTP pipeline without a socket).
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { buildHttpApp } from '../../src/http/app.js';
import { createLoopgate, type Loopgate } from '../../src/loopgate.js';
import type { GeoIp } from '../../src/adapters/geoip.js';
import { createTestDatabase, type StoreKind, type TestDatabase } from './stores.js';
import { tableGeo } from './geo.js';

export class TestClock {
  constructor(public t: number) {}
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const T0 = Date.parse('2026-06-01T09:00:00Z');

export interface TestLoopgate {
  lg: Loopgate;
  app: FastifyInstance;
  db: TestDatabase;
  clock: TestClock;
  config: Config;
  /** Requests carry `Authorization: Bearer <key>` of a test client holding pep, admin and auditor (override or pass `authorization: ''` to send none). */
  post(url: string, body: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** The test client's API key. */
  apiKey: string;
  /** Closes the app and Loopgate; keeps the database (to reopen it). */
  stop(): Promise<void>;
  /** Stops and drops the database. */
  close(): Promise<void>;
}

export interface TestOptions {
  store: StoreKind;
  overrides?: Record<string, unknown>;
  geo?: GeoIp;
  db?: TestDatabase;
  clock?: TestClock;
}

export async function startTestLoopgate(options: TestOptions): Promise<TestLoopgate> {
  const db = options.db ?? (await createTestDatabase(options.store));
  const config = loadConfig({
    env: {},
    overrides: {
      'database.url': db.url,
      'audit.key_directory': db.keyDirectory,
      'database.pool_size': 4,
      'policy.watch': false,
      'geoip.enabled': false,
      'log.level': 'silent',
      // Tests move the clock themselves and call lg.cases.sweep() when they mean to: no sweep at a random moment.
      'review.sweep_interval_ms': 600_000,
      ...options.overrides,
    },
  });
  const clock = options.clock ?? new TestClock(T0);
  const lg = await createLoopgate(config, { clock, geo: options.geo ?? tableGeo });
  const app = await buildHttpApp(lg);
  const apiKey = await testClientKey(lg);
  const withAuth = (headers: Record<string, string>) => {
    const h: Record<string, string> = { authorization: `Bearer ${apiKey}`, ...headers };
    if (h.authorization === '') delete h.authorization;
    return h;
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await lg.close();
  };
  return {
    lg,
    app,
    db,
    clock,
    config,
    apiKey,
    post: (url, body, headers = {}) =>
      app.inject({ method: 'POST', url, payload: typeof body === 'string' ? body : JSON.stringify(body), headers: withAuth({ 'content-type': 'application/json', ...headers }) }),
    get: (url, headers = {}) => app.inject({ method: 'GET', url, headers: withAuth(headers) }),
    stop,
    close: async () => {
      await stop();
      await db.drop();
    },
  };
}

/**
 * A service principal `test-client` (sponsored by a human `test-owner`) holding pep, admin and auditor, and an
 * API key with all three; created once per database (a reopened database reuses a new key of the same client).
 */
const clientKeys = new Map<string, string>();

export async function testClientKey(lg: Loopgate): Promise<string> {
  const known = clientKeys.get(lg.config.database.url);
  if (known !== undefined && (await lg.principals.exists('test-client'))) return known;
  const system = { kind: 'system' as const, id: 'test-setup' };
  if (!(await lg.principals.exists('test-owner'))) {
    await lg.principals.create({ id: 'test-owner', kind: 'human', display_name: 'Test owner' }, system);
    await lg.principals.create({ id: 'test-client', kind: 'service', sponsor: 'test-owner', roles: [{ role: 'pep' }, { role: 'admin' }, { role: 'auditor' }] }, system);
  }
  const { key } = await lg.principals.createApiKey({ principal_id: 'test-client', roles: ['pep', 'admin', 'auditor'], label: 'tests' }, system);
  clientKeys.set(lg.config.database.url, key);
  return key;
}

export const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
export const SAFARI_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A login of `subject` at `time` from the home context used across tests. */
export function login(subject: string, time: number, context: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    type: 'login',
    subject: { id: subject },
    time: iso(time),
    context: { ip: '81.2.69.160', user_agent: CHROME_WINDOWS, device_id: `${subject}-laptop`, ...context },
    ...extra,
  };
}

/** Posts `n` ordinary logins for `subject`, one per day at office hours before `until`. */
export async function buildHistory(t: TestLoopgate, subject: string, n: number, until: number): Promise<void> {
  for (let i = n; i >= 1; i--) {
    const time = until - i * 86_400_000 + (i % 3) * 3_600_000;
    const res = await t.post('/v1/decisions', { event: login(subject, time, { ip: `81.2.69.${160 + (i % 4)}` }) });
    if (res.statusCode !== 201) throw new Error(`history login failed: ${res.body}`);
  }
}
