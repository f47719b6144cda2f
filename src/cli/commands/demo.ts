/**
 * `loopgate demo`: Loopgate on a fresh SQLite database in a new temporary directory, with sample reviewers and a
 * stream of synthetic identity events covering the five scenarios of the product, so that a newcomer sees real
 * cases arrive within a minute of cloning.
 *
 * Everything after the first credential goes through the public HTTP API of the running server, as an integrator
 * would use it: one admin API key is created in-process (there is nobody to sign in yet), and with it the demo
 * creates the reviewers and the PEP key over HTTP, then revokes it. Each reviewer signs in with their password and
 * enrols an authenticator app (POST /v1/me/totp, /v1/me/totp/confirm) like a person in the console would. Past
 * logins build the subjects' baselines (event times in the past, as `decide`/`replay` of history would), and the
 * stream posts events with the PEP key.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'otplib';
import { LoopgateError } from '../../core/errors.js';
import type { Config } from '../../config/schema.js';
import { consoleDirectory } from '../../http/routes/console.js';
import { createLogger, startServer, type RunningServer } from '../../server.js';
import { configFrom } from './shared.js';
import { collectorPayload, styleFor, type Style } from './synthetic-signals.js';

export interface DemoOptions {
  /** TCP port (default: the configuration's, 7470); 0 picks a free one. */
  port?: number;
  host?: string;
  /** Events per second of the stream (default 0.4: one every 2.5 s). */
  rate?: number;
  /** Stop the stream after this many events (default: run until stop()). */
  events?: number;
  /** Seed of the stream's random choices (default: a random one, printed). */
  seed?: number;
  /** A configuration file, as for `start`; the database and the key directory are always the demo's own. */
  config?: string;
  /** More configuration overrides (tests). */
  overrides?: Record<string, unknown>;
  /** Where the demo writes its lines (default: stdout). */
  print?: (line: string) => void;
  /** Colour the outcomes (default: when stdout is a terminal and NO_COLOR is unset). */
  color?: boolean;
}

export interface DemoReviewer {
  id: string;
  display_name: string;
  roles: string[];
  attributes: Record<string, string>;
  password: string;
  totpSecret: string;
  /** otpauth:// URI for an authenticator app. */
  otpauthUri: string;
  /** What they review in the demo. */
  reviews: string;
}

export interface DemoDecision {
  time: string;
  type: string;
  subject: string;
  outcome: string;
  level: string;
  score: number | null;
  route?: string;
  note: string;
  id: string;
}

export interface DemoHandle {
  /** Where the server listens (what the demo itself calls). */
  url: string;
  /** The reviewer console. */
  consoleUrl: string;
  /** The temporary directory: the SQLite database and the audit key directory. */
  directory: string;
  database: string;
  seed: number;
  reviewers: DemoReviewer[];
  /** An API key with the pep role (for the event stream, and for your own events). */
  pepKey: string;
  /** Every decision the stream received, in order. */
  decisions: DemoDecision[];
  /** Resolves when the stream has stopped (after `events` events, or stop()). */
  streamed: Promise<void>;
  server: RunningServer;
  /** Stops the stream, then shuts the server down gracefully. Idempotent. */
  stop(): Promise<void>;
  /** The outcomes so far in one line, for the end of a run. */
  summary(): string;
}

// ---- the sample organisation ----

interface Network {
  /** The first three octets of its addresses. */
  net: string;
  asn: number;
  as_org: string;
}

const CITIES = {
  amsterdam: { country: 'NL', city: 'Amsterdam', latitude: 52.3676, longitude: 4.9041 },
  brussels: { country: 'BE', city: 'Brussels', latitude: 50.8503, longitude: 4.3517 },
  paris: { country: 'FR', city: 'Paris', latitude: 48.8566, longitude: 2.3522 },
  london: { country: 'GB', city: 'London', latitude: 51.5074, longitude: -0.1278 },
  seattle: { country: 'US', city: 'Seattle', latitude: 47.6062, longitude: -122.3321 },
  vancouver: { country: 'CA', city: 'Vancouver', latitude: 49.2827, longitude: -123.1207 },
  detroit: { country: 'US', city: 'Detroit', latitude: 42.3314, longitude: -83.0458 },
  windsor: { country: 'CA', city: 'Windsor', latitude: 42.3149, longitude: -83.0364 },
  toronto: { country: 'CA', city: 'Toronto', latitude: 43.6532, longitude: -79.3832 },
  frankfurt: { country: 'DE', city: 'Frankfurt am Main', latitude: 50.1109, longitude: 8.6821 },
  berlin: { country: 'DE', city: 'Berlin', latitude: 52.52, longitude: 13.405 },
  dublin: { country: 'IE', city: 'Dublin', latitude: 53.3498, longitude: -6.2603 },
  stockholm: { country: 'SE', city: 'Stockholm', latitude: 59.3293, longitude: 18.0686 },
  chicago: { country: 'US', city: 'Chicago', latitude: 41.8781, longitude: -87.6298 },
  boston: { country: 'US', city: 'Boston', latitude: 42.3601, longitude: -71.0589 },
  denver: { country: 'US', city: 'Denver', latitude: 39.7392, longitude: -104.9903 },
};
type City = keyof typeof CITIES;

/** The hotel or office networks people sign in from on a trip. */
const TRIP_NETWORKS: Partial<Record<City, Network>> = {
  brussels: { net: '91.183.44', asn: 5432, as_org: 'Proximus NV' },
  paris: { net: '90.84.10', asn: 3215, as_org: 'Orange S.A.' },
  london: { net: '81.2.69', asn: 2856, as_org: 'British Telecommunications PLC' },
  vancouver: { net: '24.85.201', asn: 6327, as_org: 'Shaw Communications Inc.' },
  windsor: { net: '142.114.9', asn: 577, as_org: 'Bell Canada' },
  toronto: { net: '174.112.30', asn: 577, as_org: 'Bell Canada' },
};
/** Where the credential-stuffing bursts come from: a hosting provider. */
const ATTACKER: Network & { city: City } = { city: 'frankfurt', net: '185.220.101', asn: 9009, as_org: 'M247 Europe SRL' };

// Locations are sent with the events (context.geo), so that the demo decides the same whatever IP database is
// installed. Every trip is within 500 km of home and of the other trips: a new country, but no impossible travel.
function geoOf(city: City, network: Network) {
  return { ...CITIES[city], asn: network.asn, as_org: network.as_org };
}

const UA = {
  chromeWindows: { label: 'Chrome on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  chromeMac: { label: 'Chrome on macOS', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  safariMac: { label: 'Safari on macOS', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15' },
  firefoxLinux: { label: 'Firefox on Linux', ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' },
  chromeAndroid: { label: 'Chrome on Android', ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36' },
  firefoxWindows: { label: 'Firefox on Windows', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0' },
};
type UaName = keyof typeof UA;
/** What an attacker's new laptop looks like: a browser and system nobody in the company uses. */
const UNUSUAL_CLIENTS: UaName[] = ['firefoxLinux', 'chromeAndroid', 'firefoxWindows'];

interface Subject {
  id: string;
  region: 'EU' | 'US';
  department: string;
  home: City;
  /** The home broadband. */
  isp: Network;
  client: UaName;
  /** Trip destinations, one per country (a country once passed is no longer new). */
  trips: City[];
  currency: 'EUR' | 'USD';
}

/** Everyone reports to mona, the demo's manager. */
const MANAGER = 'mona';
/**
 * The people the scenarios happen to, each with their own home provider (so that how familiar their usual network
 * looks is the same for all) and a month of history. alice, bob, carol and dan are the ones whose accounts someone
 * tries to take over; erin, gina and frank travel. Everyone types and moves the pointer in their own way (the
 * logins carry the browser collector's signals). With the shipped risk settings and policy, a new laptop at home with
 * the password typed in someone else's rhythm scores high (review), a new laptop with a new browser at home medium
 * (MFA), and a trip low (MFA all the same: a new country). Baselines grow as the stream runs; the levels hold for about half an hour at the default pace.
 */
const SUBJECTS: Subject[] = [
  { id: 'alice', region: 'EU', department: 'Finance', home: 'amsterdam', isp: { net: '145.53.80', asn: 1136, as_org: 'KPN B.V.' }, client: 'chromeWindows', trips: [], currency: 'EUR' },
  { id: 'carol', region: 'US', department: 'Engineering', home: 'seattle', isp: { net: '73.97.132', asn: 7922, as_org: 'Comcast Cable Communications, LLC' }, client: 'chromeMac', trips: [], currency: 'USD' },
  { id: 'bob', region: 'EU', department: 'Engineering', home: 'amsterdam', isp: { net: '84.104.31', asn: 33915, as_org: 'Vodafone Libertel B.V.' }, client: 'chromeWindows', trips: [], currency: 'EUR' },
  { id: 'dan', region: 'US', department: 'Support', home: 'detroit', isp: { net: '99.20.17', asn: 7018, as_org: 'AT&T Services, Inc.' }, client: 'chromeWindows', trips: [], currency: 'USD' },
  { id: 'erin', region: 'EU', department: 'Finance', home: 'amsterdam', isp: { net: '62.140.130', asn: 50266, as_org: 'Odido Netherlands B.V.' }, client: 'chromeWindows', trips: ['paris', 'london', 'brussels'], currency: 'EUR' },
  { id: 'frank', region: 'US', department: 'Finance', home: 'detroit', isp: { net: '24.192.65', asn: 20115, as_org: 'Charter Communications' }, client: 'chromeMac', trips: ['windsor'], currency: 'USD' },
  { id: 'gina', region: 'EU', department: 'Sales', home: 'amsterdam', isp: { net: '94.208.44', asn: 15435, as_org: 'DELTA Fiber Nederland B.V.' }, client: 'chromeMac', trips: ['london', 'paris', 'brussels'], currency: 'EUR' },
];
const HISTORY_LOGINS = 30;
/** Whose sign-ins an attacker tries; who travels. */
const TARGETS = SUBJECTS.filter((s) => s.trips.length === 0);
const TRAVELLERS = SUBJECTS.filter((s) => s.trips.length > 0);

const staff = (id: string, region: 'EU' | 'US', department: string, home: City, isp: Network, client: UaName): Subject => ({
  id,
  region,
  department,
  home,
  isp,
  client,
  trips: [],
  currency: region === 'EU' ? 'EUR' : 'USD',
});
/**
 * Colleagues who mostly just sign in and pay: most ordinary events are theirs, so the subjects' baselines grow
 * slowly and the scenarios keep their risk levels.
 */
const STAFF: Subject[] = [
  staff('hana', 'EU', 'Marketing', 'berlin', { net: '87.123.40', asn: 3320, as_org: 'Deutsche Telekom AG' }, 'chromeWindows'),
  staff('ivan', 'EU', 'Engineering', 'berlin', { net: '87.123.41', asn: 3320, as_org: 'Deutsche Telekom AG' }, 'chromeMac'),
  staff('lena', 'EU', 'Legal', 'dublin', { net: '86.40.17', asn: 5466, as_org: 'Eircom Limited' }, 'safariMac'),
  staff('marc', 'EU', 'Sales', 'dublin', { net: '86.40.18', asn: 5466, as_org: 'Eircom Limited' }, 'chromeWindows'),
  staff('nina', 'EU', 'Support', 'stockholm', { net: '81.224.5', asn: 3301, as_org: 'Telia Company AB' }, 'chromeMac'),
  staff('omar', 'EU', 'Finance', 'stockholm', { net: '81.224.6', asn: 3301, as_org: 'Telia Company AB' }, 'chromeWindows'),
  staff('pia', 'EU', 'Engineering', 'berlin', { net: '88.64.20', asn: 3209, as_org: 'Vodafone GmbH' }, 'safariMac'),
  staff('raj', 'US', 'Engineering', 'chicago', { net: '209.6.44', asn: 6079, as_org: 'RCN' }, 'chromeMac'),
  staff('sara', 'US', 'Sales', 'chicago', { net: '209.6.45', asn: 6079, as_org: 'RCN' }, 'chromeWindows'),
  staff('jon', 'US', 'Support', 'chicago', { net: '209.6.46', asn: 6079, as_org: 'RCN' }, 'safariMac'),
  staff('tom', 'US', 'Finance', 'boston', { net: '71.174.2', asn: 701, as_org: 'Verizon Business' }, 'chromeWindows'),
  staff('uma', 'US', 'Marketing', 'boston', { net: '71.174.3', asn: 701, as_org: 'Verizon Business' }, 'chromeMac'),
  staff('wes', 'US', 'Engineering', 'denver', { net: '75.166.9', asn: 209, as_org: 'CenturyLink Communications, LLC' }, 'chromeWindows'),
  staff('yara', 'US', 'Legal', 'denver', { net: '75.166.10', asn: 209, as_org: 'CenturyLink Communications, LLC' }, 'safariMac'),
];
const STAFF_HISTORY_LOGINS = 12;
const PEOPLE = [...SUBJECTS, ...STAFF];

interface ReviewerSpec {
  id: string;
  display_name: string;
  roles: string[];
  attributes: Record<string, string>;
  reviews: string;
}

const REVIEWERS: ReviewerSpec[] = [
  { id: 'ada', display_name: 'Ada', roles: ['admin', 'auditor'], attributes: {}, reviews: 'sees every case and the audit log, manages people and keys' },
  { id: 'sam', display_name: 'Sam', roles: ['security_analyst'], attributes: { region: 'EU' }, reviews: 'risky sign-ins of EU staff (security-review); second approver of privileged role grants' },
  { id: 'kim', display_name: 'Kim', roles: ['security_analyst'], attributes: { region: 'US' }, reviews: 'risky sign-ins of US staff (security-review); second approver of privileged role grants' },
  { id: 'fay', display_name: 'Fay', roles: ['fraud_analyst'], attributes: {}, reviews: 'large and unusual payments (fraud-review)' },
  { id: 'ivy', display_name: 'Ivy', roles: ['iam_admin'], attributes: {}, reviews: 'agent actions (iam-approval) and privileged role grants (privileged-change); both need a passkey (AAL3), added after signing in' },
  { id: 'mona', display_name: 'Mona', roles: ['manager'], attributes: {}, reviews: "her reports' access requests (manager-approval)" },
];

// ---- a small, seedable random generator (mulberry32) ----

class DemoRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---- the HTTP client the demo uses (the public API, nothing else) ----

class DemoApiError extends Error {}

class Api {
  constructor(private readonly base: string) {}

  async call(method: string, path: string, credential: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (credential !== undefined) headers.authorization = `Bearer ${credential}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** A call that must answer `expected`; anything else stops the demo's setup with the problem document. */
  async expect(expected: number, method: string, path: string, credential: string | undefined, body?: unknown): Promise<any> {
    const res = await this.call(method, path, credential, body);
    if (res.status !== expected) {
      const detail = typeof res.body === 'object' && res.body !== null ? (res.body.detail ?? JSON.stringify(res.body)) : String(res.body);
      throw new DemoApiError(`${method} ${path} answered ${res.status}: ${detail}`);
    }
    return res.body;
  }
}

// ---- the run ----

export async function runDemo(options: DemoOptions = {}): Promise<DemoHandle> {
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const color = options.color ?? (options.print === undefined && process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
  const rate = options.rate ?? 0.4;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new LoopgateError('LOOPGATE_ERR_VALIDATION', '--rate must be a positive number of events per second');
  if (options.events !== undefined && (!Number.isInteger(options.events) || options.events < 0)) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', '--events must be a whole number ≥ 0');
  }
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new LoopgateError('LOOPGATE_ERR_VALIDATION', '--seed must be a whole number');
  const seed = options.seed ?? randomInt(1, 2 ** 31 - 1);

  const directory = mkdtempSync(join(tmpdir(), 'loopgate-demo-'));
  const database = join(directory, 'loopgate.db');
  const overrides: Record<string, unknown> = { ...options.overrides, 'database.url': database, 'audit.key_directory': join(directory, 'keys') };
  if (options.host !== undefined) overrides['server.host'] = options.host;
  if (options.port !== undefined) overrides['server.port'] = options.port;
  let config = configFrom(options.config === undefined ? {} : { config: options.config }, overrides);
  // The passkey relying party and the console URL are derived from the configured port: pick a real one first.
  if (config.server.port === 0) config = { ...config, server: { ...config.server, port: await freePort(config.server.host) } };

  // The terminal is for the stream: the server's own logs go to stderr, warnings only unless asked for more.
  const level = (process.env.LOOPGATE_LOG_LEVEL ?? 'warn') as Config['log']['level'];
  const logger = createLogger({ ...config, log: { ...config.log, level } }, 2);
  const server = await startServer(config, { logger });
  const port = config.server.port;
  const local = ['0.0.0.0', '::', '127.0.0.1', 'localhost', '::1'].includes(config.server.host);
  const consoleUrl = config.server.public_url !== undefined || !local ? `${server.publicUrl}/` : `http://localhost:${port}/`;
  const apiBase = config.server.host === '0.0.0.0' ? `http://127.0.0.1:${port}` : config.server.host === '::' ? `http://[::1]:${port}` : server.url;
  const api = new Api(apiBase);

  let reviewers: DemoReviewer[];
  let pepKey: string;
  let historyMs: number;
  try {
    ({ reviewers, pepKey } = await seedPeople(server, api));
    const historyStarted = Date.now();
    await buildHistory(api, pepKey, new DemoRandom(seed ^ 0x5eed));
    historyMs = Date.now() - historyStarted;
  } catch (e) {
    await server.close();
    throw e;
  }

  printIntro(print, { directory, database, url: server.url, consoleUrl, seed, reviewers, pepKey, historyMs, rate, events: options.events, consoleBuilt: consoleDirectory() !== undefined });

  const decisions: DemoDecision[] = [];
  const abort = new AbortController();
  const stream = new Stream(api, pepKey, new DemoRandom(seed), decisions, (d) => print(formatLine(d, color)));
  const streamed = stream.run(rate, options.events, abort.signal).catch((e: unknown) => {
    if (!abort.signal.aborted) print(`stream stopped: ${e instanceof Error ? e.message : String(e)}`);
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      abort.abort();
      await streamed;
      await server.close();
    })();
    return stopping;
  };

  return {
    url: server.url,
    consoleUrl,
    directory,
    database,
    seed,
    reviewers,
    pepKey,
    decisions,
    streamed,
    server,
    stop,
    summary: () => summarise(decisions),
  };
}

/** The `loopgate demo` command: runs until Ctrl-C (or, with --events and --exit, until the stream ends). */
export async function runDemoCommand(options: { port?: number; host?: string; rate?: number; events?: number; seed?: number; config?: string; exit?: boolean }): Promise<void> {
  const handle = await runDemo(options);
  let exiting = false;
  const shutdown = (why: string) => {
    if (exiting) {
      process.stderr.write('loopgate demo: forced exit\n');
      process.exit(1);
    }
    exiting = true;
    process.stdout.write(`\n${why}: stopping the stream and shutting Loopgate down…\n`);
    handle.stop().then(
      () => {
        process.stdout.write(
          `${handle.summary()}\nThe data stays in ${handle.directory}; delete it when done. To check its audit log:\n` +
            `  LOOPGATE_AUDIT_KEY_DIR=${join(handle.directory, 'keys')} npm run --silent cli -- audit verify --database ${handle.database}\n`,
        );
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`loopgate demo: shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('interrupted'));
  process.on('SIGTERM', () => shutdown('terminated'));
  await handle.streamed;
  if (exiting) return;
  if (options.exit === true) {
    shutdown('stream finished');
    return;
  }
  if (options.events !== undefined) {
    process.stdout.write(`\nThe stream stopped after ${options.events} events; Loopgate keeps running at ${handle.consoleUrl} (Ctrl-C to stop).\n`);
  }
}

// ---- setup: people and credentials ----

async function seedPeople(server: RunningServer, api: Api): Promise<{ reviewers: DemoReviewer[]; pepKey: string }> {
  const lg = server.loopgate;
  // The one in-process step: nobody can sign in yet, so an admin API key is made directly in the service layer
  // (as `loopgate apikey create` does before setup), used for the setup calls below, and revoked at the end.
  const system = { kind: 'system' as const, id: 'demo' };
  await lg.principals.create(
    { id: 'demo-setup', kind: 'service', display_name: 'loopgate demo (setup)', roles: [{ role: 'admin' }] },
    system,
    { requireSponsor: false },
  );
  const setup = await lg.principals.createApiKey({ principal_id: 'demo-setup', roles: ['admin'], label: 'loopgate demo setup (revoked once the demo is set up)' }, system);
  const admin = setup.key;

  const reviewers: DemoReviewer[] = [];
  for (const spec of REVIEWERS) {
    const password = newPassword();
    await api.expect(201, 'POST', '/v1/principals', admin, {
      id: spec.id,
      kind: 'human',
      display_name: spec.display_name,
      attributes: spec.attributes,
      roles: spec.roles.map((role) => ({ role })),
      password,
    });
    const { secret, uri } = await enrolAuthenticator(api, spec.id, password);
    reviewers.push({ id: spec.id, display_name: spec.display_name, roles: spec.roles, attributes: spec.attributes, password, totpSecret: secret, otpauthUri: uri, reviews: spec.reviews });
  }

  // The application that asks for decisions: a service sponsored by the admin, with a PEP key.
  await api.expect(201, 'POST', '/v1/principals', admin, { id: 'pep', kind: 'service', display_name: 'demo event stream', sponsor: 'ada', roles: [{ role: 'pep' }] });
  const pep = await api.expect(201, 'POST', '/v1/api-keys', admin, { principal_id: 'pep', roles: ['pep'], label: 'loopgate demo event stream' });
  await api.expect(204, 'DELETE', `/v1/api-keys/${setup.info.id}`, admin);
  return { reviewers, pepKey: pep.key as string };
}

/**
 * Signs in with the password (no second factor yet: the session is active, and recent enough to add one), starts
 * the enrolment, confirms it with a code, and signs out. The confirming code is the one of the previous 30-second
 * step, which the server still accepts (it allows 30 s of clock drift): the replay guard then stands at that step,
 * so the current code signs in at once instead of half a minute later.
 */
async function enrolAuthenticator(api: Api, id: string, password: string): Promise<{ secret: string; uri: string }> {
  const session = await api.expect(201, 'POST', '/v1/auth/password', undefined, { id, password });
  const token = session.token as string;
  const enrolment = await api.expect(201, 'POST', '/v1/me/totp', token, {});
  const secret = enrolment.secret as string;
  let confirmed = await api.call('POST', '/v1/me/totp/confirm', token, { code: await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 30 }) });
  // A step boundary passed between making the code and checking it: the previous step is now the current one's.
  if (confirmed.status === 401) confirmed = await api.call('POST', '/v1/me/totp/confirm', token, { code: await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 30 }) });
  if (confirmed.status !== 200) throw new DemoApiError(`confirming ${id}'s authenticator app answered ${confirmed.status}: ${JSON.stringify(confirmed.body)}`);
  await api.expect(204, 'POST', '/v1/auth/sign-out', token, {});
  return { secret, uri: enrolment.uri as string };
}

const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** 16 random characters (about 93 bits) in groups of four, easy to type: not from the seed. */
function newPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 4; g++) {
    let s = '';
    for (let i = 0; i < 4; i++) s += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    groups.push(s);
  }
  return groups.join('-');
}

// ---- events ----

const DAY = 86_400_000;
const MINUTE = 60_000;

function subjectOf(s: Subject) {
  return { id: s.id, region: s.region, department: s.department, manager: MANAGER };
}

/** The four addresses the person's provider gave them over time. */
function homeIp(s: Subject, k: number): string {
  return `${s.isp.net}.${10 + (k % 4)}`;
}

function homeGeo(s: Subject) {
  return geoOf(s.home, s.isp);
}

/** Each person types and moves the pointer in their own way (the same every run: the style follows from the id). */
function styleOf(s: Subject): Style {
  let h = 2166136261;
  for (const ch of s.id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return styleFor(h >>> 0);
}

/**
 * Someone else at the keyboard: an attacker who knows the password types it in their own rhythm, unlike the
 * person's (much quicker or much slower keys, another way of moving the pointer).
 */
function intruderOf(s: Subject): Style {
  const own = styleOf(s);
  const quick = own.gapMs > 150;
  return {
    holdMs: own.holdMs * (quick ? 0.5 : 1.7),
    gapMs: own.gapMs * (quick ? 0.5 : 1.8),
    jitter: own.jitter,
    speed: own.speed * (own.speed > 1.1 ? 0.4 : 2.2),
    bow: own.bow > 0.06 ? 0.01 : 0.15,
    restMs: own.restMs * (own.restMs > 120 ? 0.3 : 2.5),
  };
}

/** The login page's collector payload for a sign-in typed by `style` (the account name is the subject's id). */
function signalsOf(s: Subject, style: Style, random: DemoRandom) {
  return collectorPayload(style, random.int(1, 1_000_000_000), { account: s.id });
}

function homeContext(s: Subject, random: DemoRandom) {
  return { ip: homeIp(s, random.int(0, 3)), user_agent: UA[s.client].ua, device_id: `${s.id}-laptop`, geo: homeGeo(s) };
}

/**
 * Ordinary sign-ins on each of the last days, near the current hour of day (so that the hour of the demo is usual
 * for everyone), from home, on the usual laptop: every one allowed at low risk and learned.
 */
async function buildHistory(api: Api, pepKey: string, random: DemoRandom): Promise<void> {
  const now = Date.now();
  const plans = PEOPLE.map((s) => {
    const events = [];
    for (let i = SUBJECTS.includes(s) ? HISTORY_LOGINS : STAFF_HISTORY_LOGINS; i >= 1; i--) {
      const time = now - i * DAY + random.int(-45, 45) * MINUTE;
      events.push({ type: 'login', subject: subjectOf(s), time: new Date(time).toISOString(), method: 'password', result: 'success', context: { ...homeContext(s, random), ip: homeIp(s, i) }, signals: signalsOf(s, styleOf(s), random) });
    }
    return events;
  });
  // One subject's history in order (each login learns from the ones before); subjects side by side.
  await Promise.all(
    plans.map(async (events) => {
      for (const event of events) await api.expect(201, 'POST', '/v1/decisions', pepKey, { event });
    }),
  );
}

interface Planned {
  event: Record<string, unknown>;
  note: string;
  /** Called with the decision once the event is decided. */
  after?: (decision: any) => void;
  /** Sent sooner after the previous one (a burst). */
  quick?: boolean;
}

const PAYEES_SMALL = ['grocer-24', 'coffee-corner', 'office-supplies', 'cloud-hosting', 'rail-tickets', 'book-shop'];
const PAYEES_LARGE = [
  { id: 'nordic-metals-ab', name: 'Nordic Metals AB', country: 'SE' },
  { id: 'globex-trading', name: 'Globex Trading Ltd', country: 'HK' },
  { id: 'acme-supplies', name: 'Acme Supplies', country: 'US' },
];
const ENTITLEMENTS = [
  { id: 'finance-reports', name: 'Finance reports', application: 'erp', justification: 'quarter close' },
  { id: 'crm-export', name: 'CRM export', application: 'salesforce', justification: 'customer list for the renewal campaign' },
  { id: 'prod-logs-read', name: 'Production logs (read)', application: 'datadog', justification: 'on-call rotation from next week' },
  { id: 'design-files', name: 'Design files', application: 'figma', justification: 'new landing page' },
];
const ADMIN_ROLES = ['billing_admin', 'finance_admin', 'support_admin'];
const AGENT_ACTIONS = [
  { name: 'role.assign', tool: 'okta.assignRole', parameters: { role: 'vpn_users' }, note: 'assign role vpn_users' },
  { name: 'credential.reset', tool: 'okta.resetFactors', parameters: { factor: 'totp' }, note: 'reset the authenticator app' },
  { name: 'mailbox.delegate', tool: 'exchange.addDelegate', parameters: { delegate: 'helpdesk' }, note: 'delegate the mailbox to helpdesk' },
];
const STUFFING_ACCOUNTS = ['admin', 'test', 'info', 'support', 'j.smith', 'm.jones', 'sales', 'hr', 'it', 'office', 'billing', 'root'];

/** The stream: a fixed opening that shows every scenario in the first minute, then weighted random choices. */
class Stream {
  /** Trip destinations each subject has passed a step-up for (learned: no longer a new country). */
  private readonly learnedTrips = new Map<string, Set<City>>();
  /** Step-ups the person will pass: MFA events to send a little later. */
  private readonly answers: Array<{ dueAfter: number; planned: Planned }> = [];
  private sent = 0;
  private devices = 0;
  private bursts = 0;

  constructor(
    private readonly api: Api,
    private readonly pepKey: string,
    private readonly random: DemoRandom,
    private readonly decisions: DemoDecision[],
    private readonly show: (d: DemoDecision) => void,
  ) {}

  private subject(id: string): Subject {
    return SUBJECTS.find((s) => s.id === id)!;
  }

  /**
   * The opening (18 events, 45 s at the default pace): allows, a review (EU) third, a payment, a challenge (a trip),
   * a fraud review, the trip's MFA answer, an access request, a credential-stuffing burst, a privileged change, an
   * agent action, a challenge (a new laptop at home), a review (US).
   */
  private opening(): Planned[][] {
    const s = (id: string) => this.subject(id);
    return [
      [this.ordinaryLogin(s('alice'))],
      [this.ordinaryLogin(s('carol'))],
      [this.riskyLogin(s('alice'))],
      [this.smallPayment(s('bob'))],
      [this.tripLogin(s('erin'), 1)!],
      [this.largePayment(s('erin'))],
      [this.ordinaryLogin(s('dan'))],
      [this.accessRequest(s('gina'))],
      this.stuffingBurst(),
      [this.roleChange(s('bob'))],
      [this.agentAction(s('frank'))],
      [this.newDeviceLogin(s('dan'))],
      [this.riskyLogin(s('carol'))],
    ];
  }

  private next(): Planned[] {
    const r = this.random;
    // Risk scenarios happen to the subjects; ordinary sign-ins and payments mostly to colleagues; requests to anyone.
    const s = r.pick(SUBJECTS);
    const usual = r.chance(0.75) ? r.pick(STAFF) : s;
    const anyone = r.pick(PEOPLE);
    const choices: Array<[number, () => Planned[]]> = [
      [44, () => [this.ordinaryLogin(usual)]],
      [12, () => [this.smallPayment(usual)]],
      [8, () => [this.tripLogin(r.pick(TRAVELLERS), 0.35) ?? this.newDeviceLogin(s)]],
      [5, () => [this.newDeviceLogin(s)]],
      [7, () => [this.riskyLogin(r.pick(TARGETS))]],
      [4, () => [this.largePayment(anyone)]],
      [5, () => [this.accessRequest(anyone)]],
      [3, () => [this.roleChange(anyone)]],
      [3, () => [this.agentAction(anyone)]],
      [1.5, () => this.stuffingBurst()],
    ];
    let x = r.next() * choices.reduce((sum, [w]) => sum + w, 0);
    for (const [w, make] of choices) {
      if ((x -= w) < 0) return make();
    }
    return [this.ordinaryLogin(usual)];
  }

  async run(rate: number, limit: number | undefined, signal: AbortSignal): Promise<void> {
    const interval = 1000 / rate;
    const queue: Planned[] = [];
    const opening = this.opening();
    while (limit === undefined || this.sent < limit) {
      if (signal.aborted) return;
      if (queue.length === 0) {
        const due = this.answers.findIndex((a) => a.dueAfter <= this.sent);
        if (due >= 0) queue.push(this.answers.splice(due, 1)[0]!.planned);
        else queue.push(...(opening.shift() ?? this.next()));
      }
      const planned = queue.shift()!;
      await this.send(planned);
      this.sent++;
      if (limit !== undefined && this.sent >= limit) return;
      // A steady pace with a little jitter; a burst comes five times faster.
      const pause = (planned.quick && queue[0]?.quick ? interval / 5 : interval) * (0.8 + 0.4 * this.random.next());
      try {
        await sleep(pause, undefined, { signal });
      } catch {
        return;
      }
    }
  }

  private async send(planned: Planned): Promise<void> {
    const event: Record<string, unknown> & { time: string } = { ...planned.event, time: new Date().toISOString() };
    const res = await this.api.call('POST', '/v1/decisions', this.pepKey, { event });
    if (res.status !== 201) {
      const detail = typeof res.body === 'object' && res.body !== null ? `${res.body.code}: ${res.body.detail}` : String(res.body);
      this.show({ id: '', time: event.time, type: String(event.type), subject: String((event.subject as { id: string }).id), outcome: `error ${res.status}`, level: '-', score: null, note: detail });
      return;
    }
    const d = res.body;
    const line: DemoDecision = {
      id: d.id,
      time: d.created_at,
      type: d.event.type,
      subject: d.event.subject.id,
      outcome: d.outcome,
      level: d.risk.level,
      score: d.risk.score,
      note: planned.note,
      ...(d.review?.route?.name === undefined ? {} : { route: d.review.route.name as string }),
    };
    this.decisions.push(line);
    this.show(line);
    planned.after?.(d);
  }

  // ---- the scenarios ----

  private ordinaryLogin(s: Subject): Planned {
    return {
      event: { type: 'login', subject: subjectOf(s), method: 'password', result: 'success', context: homeContext(s, this.random), signals: signalsOf(s, styleOf(s), this.random) },
      note: 'usual laptop, from home',
    };
  }

  /**
   * Scenario 1: a laptop the person never used, at home with their usual browser (the attacker copied it), the
   * password typed and the pointer moved in someone else's rhythm: high risk, and a security analyst of their region
   * reviews it, with the typing and pointer beside the person's usual.
   */
  private riskyLogin(s: Subject): Planned {
    const device = `${s.id}-device-${++this.devices}`;
    return {
      event: {
        type: 'login',
        subject: subjectOf(s),
        method: 'password',
        result: 'success',
        context: { ...homeContext(s, this.random), device_id: device },
        signals: signalsOf(s, intruderOf(s), this.random),
      },
      note: `new device ${device}, typed and moved in another rhythm`,
    };
  }

  /** A new laptop with a browser and system nobody in the company uses, at home: medium risk, step-up MFA. */
  private newDeviceLogin(s: Subject): Planned {
    const client = this.random.pick(UNUSUAL_CLIENTS.filter((c) => c !== s.client));
    const device = `${s.id}-device-${++this.devices}`;
    return {
      event: { type: 'login', subject: subjectOf(s), method: 'password', result: 'success', context: { ...homeContext(s, this.random), user_agent: UA[client].ua, device_id: device } },
      note: `new device ${device}, ${UA[client].label}, at home`,
    };
  }

  /**
   * Scenario 2: a business trip. The usual laptop in a country never seen for the person: step-up MFA. The person
   * passes it with probability `answer` (an MFA event answering the challenge, a little later), which teaches
   * the baseline the country. Undefined when the person has been everywhere they travel to.
   */
  private tripLogin(s: Subject, answer: number): Planned | undefined {
    const learned = this.learnedTrips.get(s.id) ?? new Set<City>();
    const open = s.trips.filter((p) => !learned.has(p));
    if (open.length === 0) return undefined;
    const place = this.random.pick(open);
    const network = TRIP_NETWORKS[place]!;
    const context = { ip: `${network.net}.${this.random.int(2, 250)}`, user_agent: UA[s.client].ua, device_id: `${s.id}-laptop`, geo: geoOf(place, network) };
    return {
      event: { type: 'login', subject: subjectOf(s), method: 'password', result: 'success', context },
      note: `usual laptop, in ${CITIES[place].city} (${CITIES[place].country})`,
      after: (d) => {
        if (d.outcome !== 'challenge' || !this.random.chance(answer)) return;
        this.answers.push({
          dueAfter: this.sent + 2,
          planned: {
            event: { type: 'mfa', subject: subjectOf(s), method: 'totp', result: 'success', decision_id: d.id, context },
            note: `passes the step-up of the ${CITIES[place].city} sign-in`,
            after: (answerDecision) => {
              if (answerDecision.answers?.resolution?.learned === true) this.learnedTrips.set(s.id, learned.add(place));
            },
          },
        });
      },
    };
  }

  private smallPayment(s: Subject): Planned {
    const amount = this.random.int(12, 480);
    const payee = this.random.pick(PAYEES_SMALL);
    return {
      event: { type: 'transaction', subject: subjectOf(s), amount, currency: s.currency, payee: { id: payee }, channel: 'web', context: homeContext(s, this.random) },
      note: `${amount} ${s.currency} to ${payee}`,
    };
  }

  /** Scenario 3: a large payment goes to a fraud analyst instead of being blocked. */
  private largePayment(s: Subject): Planned {
    const amount = this.random.int(240, 960) * 50;
    const payee = this.random.pick(PAYEES_LARGE);
    return {
      event: { type: 'transaction', subject: subjectOf(s), amount, currency: s.currency, payee, channel: 'web', context: homeContext(s, this.random) },
      note: `${amount.toLocaleString('en-US')} ${s.currency} to ${payee.name} (${payee.country})`,
    };
  }

  /** Scenario 4: an access request, decided by the requester's manager. */
  private accessRequest(s: Subject): Planned {
    const e = this.random.pick(ENTITLEMENTS);
    return {
      event: { type: 'access.request', subject: subjectOf(s), entitlement: { id: e.id, name: e.name, application: e.application }, justification: e.justification, context: homeContext(s, this.random) },
      note: `asks for ${e.name} (${e.application}); manager ${MANAGER}`,
    };
  }

  /** Scenario 5 (four eyes): an administrative role granted by IT operations needs two people from two roles. */
  private roleChange(s: Subject): Planned {
    const role = this.random.pick(ADMIN_ROLES);
    return {
      event: {
        type: 'role.change',
        subject: subjectOf(s),
        actor: { kind: 'human', id: 'it-ops', name: 'IT operations' },
        application: 'okta',
        roles: { before: ['employee'], after: ['employee', role] },
        justification: `ticket CHG-${this.random.int(100, 999)}`,
      },
      note: `it-ops grants ${role}`,
    };
  }

  /** Scenario 5: an AI agent's high-impact action waits for an IAM admin. */
  private agentAction(s: Subject): Planned {
    const a = this.random.pick(AGENT_ACTIONS);
    return {
      event: {
        type: 'agent.action',
        subject: subjectOf(s),
        actor: { kind: 'agent', id: 'helpdesk-agent', name: 'Helpdesk assistant', sponsor: 'it-ops' },
        action: { name: a.name, tool: a.tool, target: { type: 'user', id: s.id }, parameters: a.parameters, impact: 'high' },
      },
      note: `helpdesk-agent wants to ${a.note}`,
    };
  }

  /** Failed passwords for many accounts from one address within seconds. */
  private stuffingBurst(): Planned[] {
    const ip = `${ATTACKER.net}.${this.random.int(2, 250)}`;
    const start = (this.bursts++ * 6) % STUFFING_ACCOUNTS.length;
    const accounts = [...STUFFING_ACCOUNTS, ...STUFFING_ACCOUNTS].slice(start, start + 6);
    return accounts.map((account, i) => ({
      event: {
        type: 'login',
        subject: { id: account },
        method: 'password',
        result: 'failure',
        context: { ip, user_agent: 'python-requests/2.32.3', geo: geoOf(ATTACKER.city, ATTACKER) },
      },
      note: `credential stuffing from ${ip} (${i + 1}/6)`,
      quick: true,
    }));
  }
}

// ---- output ----

function printIntro(
  print: (line: string) => void,
  v: { directory: string; database: string; url: string; consoleUrl: string; seed: number; reviewers: DemoReviewer[]; pepKey: string; historyMs: number; rate: number; events: number | undefined; consoleBuilt: boolean },
): void {
  print('Loopgate demo');
  print(`  data       ${v.directory}  (SQLite ${v.database}, audit keys in keys/)`);
  print(`  API        ${v.url}`);
  print(`  console    ${v.consoleUrl}${v.consoleBuilt ? '' : '  (not built: run npm run build)'}`);
  print(`  seed       ${v.seed}  (--seed ${v.seed} repeats this stream)`);
  print('');
  print('Reviewers: sign in at the console with account, password and a code from an authenticator app holding the');
  print('TOTP secret (add the otpauth:// URI or the secret to the app). Passwords are shown once, here.');
  const width = Math.max(...v.reviewers.map((r) => r.id.length));
  for (const r of v.reviewers) {
    const attrs = Object.entries(r.attributes).map(([k, val]) => `${k} ${val}`);
    print(`  ${r.id.padEnd(width)}  ${[r.roles.join(', '), ...attrs].join('; ')} — ${r.reviews}`);
    print(`  ${''.padEnd(width)}  password ${r.password}   TOTP secret ${r.totpSecret}`);
    print(`  ${''.padEnd(width)}  ${r.otpauthUri}`);
  }
  print('  No authenticator app at hand? In the clone: node -e "import(\'otplib\').then(o => o.generate({ secret: process.argv[1] })).then(console.log)" <SECRET>');
  print('');
  print('PEP API key (send your own events: POST /v1/decisions with Authorization: Bearer <key>):');
  print(`  ${v.pepKey}`);
  print('');
  print(`History: ${HISTORY_LOGINS} past sign-ins for each of ${SUBJECTS.map((s) => s.id).join(', ')}, ${STAFF_HISTORY_LOGINS} for each of ${STAFF.length} colleagues (${(v.historyMs / 1000).toFixed(1)} s).`);
  const pace = v.rate >= 1 ? `${v.rate} per second` : `one every ${(1 / v.rate).toFixed(1)} s`;
  print(`Streaming events, ${pace}${v.events === undefined ? '' : `, ${v.events} in all`} (Ctrl-C stops Loopgate):`);
  print('');
  print(`${'time'.padEnd(8)}  ${'event'.padEnd(14)}  ${'subject'.padEnd(8)}  ${'outcome'.padEnd(9)}  ${'risk'.padEnd(13)}  what`);
}

const COLOURS: Record<string, string> = { allow: '32', challenge: '33', review: '36', deny: '31' };

/** Who can take a case of this route in the demo. */
function reviewersFor(route: string, subject: string): string {
  const region = PEOPLE.find((s) => s.id === subject)?.region;
  switch (route) {
    case 'security-review':
      return region === 'US' ? 'kim' : region === 'EU' ? 'sam' : 'sam, kim';
    case 'fraud-review':
      return 'fay';
    case 'manager-approval':
      return MANAGER;
    case 'iam-approval':
      return 'ivy, with a passkey';
    case 'privileged-change':
      return `ivy + ${region === 'US' ? 'kim' : 'sam'}, with passkeys`;
    default:
      return 'ada';
  }
}

function formatLine(d: DemoDecision, color = false): string {
  const time = new Date(d.time).toTimeString().slice(0, 8);
  const outcome = d.outcome.padEnd(9);
  const risk = `${d.level}${d.score === null ? '' : ` ${d.score.toFixed(2)}`}`.padEnd(13);
  const route = d.route === undefined ? '' : `  → ${d.route} (${reviewersFor(d.route, d.subject)})`;
  const painted = color && COLOURS[d.outcome] !== undefined ? `\u001b[${COLOURS[d.outcome]}m${outcome}\u001b[0m` : outcome;
  return `${time}  ${d.type.padEnd(14)}  ${d.subject.padEnd(8)}  ${painted}  ${risk}  ${d.note}${route}`;
}

function summarise(decisions: DemoDecision[]): string {
  const counts: Record<string, number> = {};
  for (const d of decisions) counts[d.outcome] = (counts[d.outcome] ?? 0) + 1;
  const parts = ['allow', 'challenge', 'review', 'deny'].map((o) => `${counts[o] ?? 0} ${o}`);
  return `${decisions.length} decisions: ${parts.join(', ')}; ${counts.review ?? 0} cases opened.`;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
