/**
 * The `loopgate` command, run as users run it (the built package in a child process).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { CLI, requireBuild } from '../helpers/process.js';
import { dropAuditGuards, openRaw } from '../helpers/raw-db.js';
import { createTestDatabase, STORES, type TestDatabase } from '../helpers/stores.js';

const POLICIES = new URL('../../policies/default', import.meta.url).pathname;

function run(args: string[], options: { input?: string; env?: Record<string, string>; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    env: { ...process.env, LOOPGATE_GEOIP_ENABLED: 'false', LOOPGATE_LOG_LEVEL: 'warn', ...options.env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => requireBuild());

describe('loopgate policy validate', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'loopgate-cli-policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the shipped bundle', () => {
    const r = run(['policy', 'validate', POLICIES]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/valid — 5 policies, \d+ rules, 5 routes\nversion [0-9a-f]{64}/);
  });

  it('reports each error as file:line:column and exits 1', () => {
    writeFileSync(
      join(dir, 'login.yaml'),
      ['policy: login', 'events: [login]', 'rules:', '  - id: a', '    when: risk.levle == "high"', '    outcome: deny', '  - id: b', '    when: "risk.score >"', '    outcom: deny', ''].join('\n'),
    );
    const r = run(['policy', 'validate', dir]);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      `${dir}/login.yaml:5:16: condition: No such key: levle`,
      `${dir}/login.yaml:7:5: "outcome" is required`,
      `${dir}/login.yaml:8:24: condition: Unexpected token: EOF`,
      `${dir}/login.yaml:9:5: unknown key "outcom"; expected one of: id, description, when, outcome, challenge, route (did you mean "outcome"?)`,
      '4 error(s)',
    ]);
    const json = run(['policy', 'validate', dir, '--json']);
    expect(JSON.parse(json.stdout).errors).toHaveLength(4);
  });

  it('exits 2 for a directory that does not exist', () => {
    expect(run(['policy', 'validate', join(dir, 'nope')]).status).toBe(2);
  });
});

describe('loopgate config', () => {
  it('rejects an invalid configuration with every problem and exit status 78', () => {
    const r = run(['config'], { env: { LOOPGATE_PORT: 'eighty', LOOPGATE_LOG_LEVEL: 'loud', LOOPGATE_DATABASE_URL: 'x.db' } });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/LOOPGATE_PORT="eighty": must be a number/);
    expect(r.stderr).toMatch(/LOOPGATE_LOG_LEVEL must be one of: fatal, error, warn, info, debug, trace, silent/);
  });

  it('masks a database password', () => {
    const r = run(['config'], { env: { LOOPGATE_DATABASE_URL: 'postgres://loopgate:s3cret@db:5432/lg' } });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).database.url).toBe('postgres://loopgate:***@db:5432/lg');
    expect(r.stdout).not.toContain('s3cret');
  });
});

describe.each(STORES)('loopgate commands on %s', (store) => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase(store);
    dir = mkdtempSync(join(tmpdir(), 'loopgate-cli-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({ LOOPGATE_DATABASE_URL: db.url, LOOPGATE_AUDIT_KEY_DIR: db.keyDirectory });

  it('migrates, then finds the schema up to date', () => {
    const first = run(['migrate'], { env: env() });
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_decisions/);
    const second = run(['migrate'], { env: env() });
    expect(second.stdout).toMatch(/schema is up to date/);
  });

  it('decides one event from stdin offline, and dry runs store nothing', async () => {
    const event = JSON.stringify({ event: { type: 'login', subject: { id: 'cli-user' }, context: { ip: '81.2.69.1' } } });
    const dry = run(['decide', '--dry-run'], { input: event, env: env() });
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout).outcome).toBe('allow');
    const real = run(['decide'], { input: event, env: env() });
    expect(real.status).toBe(0);
    const decision = JSON.parse(real.stdout);
    const s = openStore({ url: db.url, poolSize: 1 });
    try {
      expect(await s.countDecisions()).toBe(1);
      expect(await s.getDecision(decision.id)).toBeDefined();
    } finally {
      await s.close();
    }
  });

  it('works from any working directory (as a globally installed command does)', () => {
    const event = JSON.stringify({ type: 'login', subject: { id: 'elsewhere' }, context: { ip: '81.2.69.2' } });
    const r = run(['decide'], { input: event, env: env(), cwd: tmpdir() });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('allow');
  });

  it('prints a problem document and exits 2 for an invalid event', () => {
    const r = run(['decide'], { input: '{"type":"login"}', env: env() });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'LOOPGATE_ERR_INVALID_EVENT', errors: [{ pointer: '#/subject', detail: 'is required' }] });
  });

  it('replays a JSON Lines file with a summary', async () => {
    const file = join(dir, 'events.jsonl');
    const lines: string[] = [];
    const start = Date.parse('2026-03-01T08:00:00Z');
    for (let i = 0; i < 300; i++) {
      lines.push(JSON.stringify({ type: 'login', subject: { id: `u${i % 10}` }, time: new Date(start + i * 3_600_000).toISOString(), context: { ip: `81.2.69.${i % 10}`, user_agent: 'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0', device_id: `d${i % 10}` } }));
    }
    lines.push('{"type":"nope","subject":{"id":"x"}}', 'not json', '');
    writeFileSync(file, lines.join('\n'));
    const countNow = async () => {
      const s = openStore({ url: db.url, poolSize: 1 });
      try {
        return await s.countDecisions();
      } finally {
        await s.close();
      }
    };
    const before = await countNow();
    const r = run(['replay', file, '--json'], { env: env() });
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ events: 302, decided: 300, invalid: 2, failed: 0, dry_run: false });
    expect(summary.outcomes.allow + summary.outcomes.challenge + summary.outcomes.review + summary.outcomes.deny).toBe(300);
    expect(summary.learned).toBeGreaterThan(250);
    expect(summary.first_errors.map((e: { line: number }) => e.line)).toEqual([301, 302]);
    expect(r.stderr).toMatch(/replay: \d+\/303 events|^$/m);
    expect(await countNow()).toBe(before + 300);
    const human = run(['replay', file, '--dry-run'], { env: env() });
    expect(human.stdout).toMatch(/302 events in [\d.]+s .* — dry run, nothing stored/);
  });

  it('audit verify: exit 0 on the untouched log; exit 1 naming the altered entry', async () => {
    const ok = run(['audit', 'verify'], { env: env() });
    // Nothing but progress (shown when the run takes long enough, e.g. on a busy machine) goes to stderr.
    expect(ok.stderr).toMatch(/^(verify: \d+\/\d+ entries.*\n)*$/);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/entries, root [A-Za-z0-9+/=]+, origin loopgate\.local\/[0-9a-f]{12}\n {2}checkpoints: (\d+) of \1 verified/);
    expect(ok.stdout).toMatch(/decisions checked against their recorded digests: \d+\nOK: the log verifies\n$/);
    const report = JSON.parse(run(['audit', 'verify', '--json'], { env: env() }).stdout);
    expect(report).toMatchObject({ ok: true, problems: [] });

    const raw = await openRaw(db);
    await dropAuditGuards(raw);
    const [row] = await raw.query<{ entry: string }>('SELECT entry FROM audit_entries WHERE seq = 3');
    try {
      await raw.run('UPDATE audit_entries SET entry = ? WHERE seq = 3', [row!.entry.replace('"system"', '"human"')]);
      const bad = run(['audit', 'verify'], { env: env() });
      expect(bad.status).toBe(1);
      expect(bad.stdout).toMatch(/FAILED: \d+ problem\(s\); the first:\n {2}- \[altered\] entry 3 was altered: its content does not match its recorded leaf hash/);
    } finally {
      await raw.run('UPDATE audit_entries SET entry = ? WHERE seq = 3', [row!.entry]);
      await raw.close();
    }
    expect(run(['audit', 'verify'], { env: env() }).status).toBe(0);
  });

  it('audit export writes JSON Lines that verify offline; a changed line does not', () => {
    const file = join(dir, 'audit.jsonl');
    const r = run(['audit', 'export', '--out', file], { env: env() });
    expect(r.status).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'header', format: 'loopgate-audit-export', version: 1 });
    const entries = lines.filter((l) => l.type === 'entry');
    expect(entries.length).toBe(lines[0].size);
    expect(entries.filter((e) => e.index < lines[0].anchor).every((e) => Array.isArray(e.audit_path))).toBe(true);
    const verified = run(['audit', 'verify', '--export', file], { env: env() });
    expect(verified.status).toBe(0);
    expect(verified.stdout).toMatch(/proofs checked: \d+/);

    // The auditor's key alone (no key directory) is enough, and required.
    const keyDir = mkdtempSync(join(tmpdir(), 'loopgate-nokeys-'));
    const noKeys = { LOOPGATE_AUDIT_KEY_DIR: keyDir };
    expect(run(['audit', 'verify', '--export', file], { env: noKeys }).status).toBe(78);
    const key = readFileSync(join(db.keyDirectory, 'trusted', readdirSync(join(db.keyDirectory, 'trusted'))[0]!), 'utf8').trim();
    expect(run(['audit', 'verify', '--export', file, '--key', key], { env: noKeys }).status).toBe(0);

    const i = lines.findIndex((l) => l.type === 'entry' && l.index === 2);
    const changed = lines.map((l, n) => (n === i ? { ...l, entry: l.entry.replace('"loopgate"', '"mallory"') } : l));
    writeFileSync(file, changed.map((l) => JSON.stringify(l)).join('\n'));
    const bad = run(['audit', 'verify', '--export', file, '--json'], { env: env() });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).problems[0]).toMatchObject({ kind: 'altered', seq: 2 });
  });

  it('audit rotate-key keeps the old key trusted', () => {
    const r = run(['audit', 'rotate-key'], { env: env() });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/previous \(still trusted\): \S+\+[0-9a-f]{8}\+\S+\n {2}current: /);
    expect(readdirSync(join(db.keyDirectory, 'trusted')).length).toBe(2);
    expect(run(['audit', 'verify'], { env: env() }).status).toBe(0);
  });
});
