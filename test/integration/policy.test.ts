/**
 * Policies on both stores: fail closed when a condition errors or the model fails, reload without a restart,
 * keep the active bundle when a new one is invalid, and record the version and rules with every decision.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeoIp } from '../../src/adapters/geoip.js';
import { T0, login, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { STORES } from '../helpers/stores.js';

const SETTINGS = `
settings:
  default_outcome: allow
  fallback:
    default: deny
    transaction: review
  fallback_route: analysts
routes:
  analysts:
    reviewers: { roles: [security_analyst] }
    timeout: 1h
`;

// `event.amount` exists only on transactions; on a login the condition fails at run time (no such key).
const BRITTLE = `
policy: brittle
events: ["*"]
rules:
  - id: big-amount
    when: event.amount > 100.0
    outcome: review
    route: analysts
`;

const STRICT = `
policy: strict
events: [login]
rules:
  - id: deny-everything
    when: "true"
    outcome: deny
`;

describe.each(STORES)('policies on %s', (store) => {
  let dir: string;
  let t: TestLoopgate;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loopgate-policy-'));
    writeFileSync(join(dir, 'settings.yaml'), SETTINGS);
    writeFileSync(join(dir, 'brittle.yaml'), BRITTLE);
    t = await startTestLoopgate({ store, overrides: { 'policy.directory': dir } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails closed when a condition errors at run time, and says why', async () => {
    const res = await t.post('/v1/decisions', { event: login('pat', T0 - 60_000) });
    expect(res.statusCode).toBe(201);
    const d = res.json();
    expect(d.outcome).toBe('deny'); // the login fallback (default: deny), never allow
    expect(d.fallback).toMatchObject({ outcome: 'deny', errors: [{ policy: 'brittle', rule: 'big-amount', message: 'No such key: amount' }] });
    expect(d.learned).toBe(false);
  });

  it('uses the event type fallback (review, with its route) where configured', async () => {
    const tx = { type: 'transaction', subject: { id: 'pat' }, time: new Date(T0 - 60_000).toISOString(), amount: 50, currency: 'EUR', payee: { id: 'p' } };
    const ok = (await t.post('/v1/decisions', { event: tx })).json();
    expect(ok.outcome).toBe('allow'); // the condition evaluates on a transaction: no fallback
    expect(ok.fallback).toBeUndefined();
    const big = (await t.post('/v1/decisions', { event: { ...tx, amount: 500 } })).json();
    expect(big.outcome).toBe('review');
    expect(big.policy.rules).toEqual([{ policy: 'brittle', rule: 'big-amount', outcome: 'review' }]);
  });

  it('reloads a changed bundle without a restart and records the new version', async () => {
    const v1 = t.lg.policies.current().version;
    writeFileSync(join(dir, 'strict.yaml'), STRICT);
    const reload = await t.post('/v1/policies/reload', {});
    expect(reload.statusCode).toBe(200);
    const v2 = reload.json().version;
    expect(reload.json().changed).toBe(true);
    expect(v2).not.toBe(v1);
    const d = (await t.post('/v1/decisions', { event: login('quinn', T0 - 60_000) })).json();
    expect(d.outcome).toBe('deny');
    expect(d.policy.version).toBe(v2);
    expect(d.policy.rules).toContainEqual({ policy: 'strict', rule: 'deny-everything', outcome: 'deny' });
    const again = await t.post('/v1/policies/reload', {});
    expect(again.json()).toEqual({ version: v2, changed: false });
    const listed = (await t.get('/v1/policies')).json();
    expect(listed.version).toBe(v2);
    expect(listed.policies.map((p: { name: string }) => p.name).sort()).toEqual(['brittle', 'strict']);
    const rows = await t.lg.store.db.selectFrom('policy_versions').select('version').execute();
    expect(rows.map((r) => r.version)).toEqual(expect.arrayContaining([v1, v2]));
  });

  it('rejects an invalid bundle with file, line and column, and keeps the active one', async () => {
    const active = t.lg.policies.current().version;
    writeFileSync(join(dir, 'broken.yaml'), 'policy: broken\nrules:\n  - id: x\n    when: risk.level ==\n    outcome: deny\n');
    const res = await t.post('/v1/policies/reload', {});
    expect(res.statusCode).toBe(422);
    const problem = res.json();
    expect(problem.code).toBe('LOOPGATE_ERR_POLICY_INVALID');
    expect(problem.policy_errors).toEqual([{ file: 'broken.yaml', line: 4, column: 24, message: 'condition: Unexpected token: EOF' }]);
    expect(problem.active_version).toBe(active);
    expect(t.lg.policies.current().version).toBe(active);
    rmSync(join(dir, 'broken.yaml'));
  });
});

describe.each(STORES)('a failing risk model on %s', (store) => {
  const brokenGeo: GeoIp = {
    lookup: () => {
      throw new Error('IP database is corrupt');
    },
    describe: () => 'broken',
  };
  let t: TestLoopgate;
  beforeAll(async () => {
    t = await startTestLoopgate({ store, geo: brokenGeo });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('applies the fallback, never allow, and records why', async () => {
    const d = (await t.post('/v1/decisions', { event: login('rita', T0 - 60_000) })).json();
    expect(d.outcome).toBe('review'); // the shipped bundle's login fallback
    expect(d.risk).toMatchObject({ score: null, level: 'unknown' });
    expect(d.fallback.reason).toMatch(/^risk model failed: feature extraction failed: IP database is corrupt/);
    expect(d.review.route.name).toBe('security-review');
    expect(d.learned).toBe(false);
    const tx = (await t.post('/v1/decisions', { event: { type: 'mfa', subject: { id: 'rita' }, context: { ip: '81.2.69.1' }, method: 'totp', result: 'success' } })).json();
    expect(tx.outcome).toBe('deny'); // mfa fallback in the shipped bundle
  });
});

describe('watching the policy directory', () => {
  it('reloads after every save, including atomic saves that replace the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopgate-watch-'));
    writeFileSync(join(dir, 'settings.yaml'), SETTINGS);
    writeFileSync(join(dir, 'strict.yaml'), STRICT);
    const t = await startTestLoopgate({ store: 'sqlite', overrides: { 'policy.directory': dir, 'policy.watch': true } });
    const versionChange = async (from: string) => {
      for (let i = 0; i < 200 && t.lg.policies.current().version === from; i++) await new Promise((r) => setTimeout(r, 25));
      return t.lg.policies.current().version;
    };
    try {
      const seen = new Set([t.lg.policies.current().version]);
      for (let save = 1; save <= 3; save++) {
        // Write a temporary file and rename it over the policy, as editors and deployment tools do.
        const before = t.lg.policies.current().version;
        writeFileSync(join(dir, '.strict.tmp'), `${STRICT}\n# save ${save}\n`);
        renameSync(join(dir, '.strict.tmp'), join(dir, 'strict.yaml'));
        const after = await versionChange(before);
        expect(after).not.toBe(before);
        seen.add(after);
      }
      expect(seen.size).toBe(4);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
