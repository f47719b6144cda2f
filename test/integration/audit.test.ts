/**
 * The audit log on both stores, through the public interface: what is recorded and when, signed checkpoints and
 * proofs that verify with the zero-dependency verifier, reads that are themselves logged, key rotation, atomicity
 * with the change recorded, and `audit verify` naming the spot of every kind of tampering.
 */
import { createHash } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSignerKey, parseTrustedKeys, readTrustedKeys, rotateKey } from '../../src/adapters/signing-key.js';
import { storeLogSource } from '../../src/services/audit-sources.js';
import { verifyAuditLog, type VerifyReport } from '../../src/services/audit-verify.js';
import { openStore } from '../../src/store/open.js';
import {
  canonicalize,
  formatCheckpointBody,
  fromBase64,
  parseCheckpoint,
  parseVerifierKey,
  signatureLine,
  toBase64,
  utf8,
  verifyConsistency,
  verifyEntry,
  verifyNote,
} from '../../src/verify/index.js';
import { T0, login, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { dropAuditGuards, openRaw } from '../helpers/raw-db.js';
import { createTestDatabase, STORES, type TestDatabase } from '../helpers/stores.js';

interface EntryView {
  index: number;
  leaf_hash: string;
  entry: { seq: number; action: string; actor: { kind: string; id: string }; target: { type: string; id: string }; links?: Record<string, unknown>; data?: Record<string, unknown>; prev: string };
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64');

async function allEntries(t: TestLoopgate): Promise<EntryView[]> {
  const size = t.lg.audit.size;
  const res = await t.get(`/v1/audit/entries?start=0&end=${size - 1}`);
  expect(res.statusCode).toBe(200);
  return res.json().entries as EntryView[];
}

async function decideLogins(t: TestLoopgate, n: number, subject = 'alice'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await t.post('/v1/decisions', { event: login(subject, T0 - (n - i) * 3_600_000) });
    expect(res.statusCode).toBe(201);
    ids.push(res.json().id as string);
  }
  return ids;
}

async function verifyStored(db: TestDatabase): Promise<VerifyReport> {
  const trusted = await parseTrustedKeys(await readTrustedKeys(db.keyDirectory));
  const store = openStore({ url: db.url, poolSize: 2 });
  try {
    return await verifyAuditLog(storeLogSource(store), { trusted });
  } finally {
    await store.close();
  }
}

describe.each(STORES)('audit log on %s', (store) => {
  let t: TestLoopgate;
  beforeEach(async () => {
    t = await startTestLoopgate({ store });
  });
  afterEach(async () => {
    await t.close();
  });

  it('records the start: signing key, policy bundle, configuration and risk model', async () => {
    const actions = (await allEntries(t)).map((e) => e.entry.action);
    expect(actions.slice(0, 4)).toEqual(['audit.key_activated', 'policy.activated', 'config.changed', 'model.activated']);
    const [key, policy, config] = await allEntries(t);
    expect(key!.entry.target.id).toBe(t.lg.audit.verifierKeys()[0]);
    expect(policy!.entry.links).toEqual({ policy_version: t.lg.policies.current().version });
    expect((policy!.entry.data!.files as unknown[]).length).toBe(t.lg.policies.current().files.length);
    // The configuration is recorded without secrets; the first start lists every setting.
    expect(config!.entry.data!.changes).toEqual(expect.arrayContaining([{ path: 'risk.bias', to: -3 }]));
  });

  it('records each decision batch with the digest of the stored decision, in the same commit', async () => {
    const [id] = await decideLogins(t, 1);
    const stored = (await t.get(`/v1/decisions/${id}`)).body;
    const found = (await t.get(`/v1/audit/search?decision=${id}`)).json().entries as EntryView[];
    const batch = found.find((e) => e.entry.action === 'decisions.recorded')!;
    expect(batch.entry.data!.decisions).toEqual([{ id, sha256: sha256(stored) }]);
    expect(batch.entry.actor).toEqual({ kind: 'system', id: 'loopgate' });
    const row = await t.lg.store.db.selectFrom('decisions').select('audit_seq').where('id', '=', id!).executeTakeFirstOrThrow();
    expect(Number(row.audit_seq)).toBe(batch.index);
  });

  it('restarting with the same setup records nothing new; a changed configuration and model are recorded with what they replace', async () => {
    const before = t.lg.audit.size;
    const oldModel = (await allEntries(t)).find((e) => e.entry.action === 'model.activated')!.entry.target.id;
    await t.stop();
    t = await startTestLoopgate({ store, db: t.db });
    expect(t.lg.audit.size).toBe(before + 1); // only the read by allEntries() above
    await t.stop();
    t = await startTestLoopgate({ store, db: t.db, overrides: { 'risk.bias': -2.5 } });
    const entries = await allEntries(t);
    const config = entries.filter((e) => e.entry.action === 'config.changed').at(-1)!;
    expect(config.entry.data!.changes).toEqual([{ path: 'risk.bias', from: -3, to: -2.5 }]);
    expect(config.entry.links!.previous).toEqual(expect.any(String));
    const model = entries.filter((e) => e.entry.action === 'model.activated').at(-1)!;
    expect(model.entry.links).toEqual({ model_version: t.lg.decisions['options'].modelVersion, previous: oldModel });
  });

  it('records a policy reload through the API, naming the caller and the previous version', async () => {
    const previous = t.lg.policies.current().version;
    // The same bundle: nothing changes, nothing is recorded.
    const size = t.lg.audit.size;
    expect((await t.post('/v1/policies/reload', {})).json()).toEqual({ version: previous, changed: false });
    expect(t.lg.audit.size).toBe(size);
    await t.stop();
    const { mkdtempSync, cpSync, appendFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'loopgate-audit-policy-'));
    cpSync(t.lg.policies.directory, dir, { recursive: true });
    t = await startTestLoopgate({ store, db: t.db, overrides: { 'policy.directory': dir } });
    appendFileSync(join(dir, 'sessions.yaml'), '\n# reviewed 2026-06-01\n');
    const res = await t.post('/v1/policies/reload', {});
    expect(res.json().changed).toBe(true);
    const found = (await t.get('/v1/audit/search?action=policy.activated')).json().entries as EntryView[];
    const last = found.at(-1)!;
    // The authenticated caller (the test client's API key), not just an address.
    expect(last.entry.actor).toMatchObject({ kind: 'service', id: 'test-client', assurance: { amr: ['api_key'] } });
    expect(last.entry.links).toEqual({ policy_version: res.json().version, previous });
    expect(last.entry.data!.trigger).toBe('api');
  });

  it('signs checkpoints that verify with the published key, proves every entry in them, and proves them consistent', async () => {
    await decideLogins(t, 5);
    const first = (await t.post('/v1/audit/checkpoints', {})).json();
    await decideLogins(t, 4, 'bob');
    const second = (await t.post('/v1/audit/checkpoints', {})).json();
    expect(second.size).toBeGreaterThan(first.size);

    const keys = (await t.get('/v1/audit/keys')).json();
    expect(keys.origin).toBe(t.lg.audit.origin);
    const trusted = [await parseVerifierKey(keys.keys[0])];
    const note = await verifyNote(second.checkpoint, trusted);
    expect(note.ok).toBe(true);
    expect(parseCheckpoint(note.body!)).toMatchObject({ origin: keys.origin, size: second.size });

    const entries = await allEntries(t);
    for (const e of entries.filter((x) => x.index < second.size)) {
      const proof = (await t.get(`/v1/audit/proofs/inclusion?index=${e.index}&size=${second.size}`)).json();
      expect(proof.leaf_hash).toBe(e.leaf_hash);
      const v = await verifyEntry({ entry: canonicalize(e.entry), index: e.index, proof: proof.audit_path, checkpoint: second.checkpoint }, trusted);
      expect(v.ok, JSON.stringify(v.checks)).toBe(true);
      // The same proof does not verify a changed entry.
      const forged = canonicalize({ ...e.entry, action: 'something.else' });
      expect((await verifyEntry({ entry: forged, index: e.index, proof: proof.audit_path, checkpoint: second.checkpoint }, trusted)).ok).toBe(false);
    }

    const c = (await t.get(`/v1/audit/proofs/consistency?from=${first.size}&to=${second.size}`)).json();
    expect(c).toMatchObject({ first: first.size, second: second.size });
    const args = { size1: first.size, size2: second.size, root1: fromBase64(first.root), root2: fromBase64(second.root), proof: c.consistency.map(fromBase64) };
    expect(await verifyConsistency(args)).toEqual({ ok: true });
    expect((await verifyConsistency({ ...args, root1: fromBase64(second.root) })).ok).toBe(false);

    // The bare note, as transparency tooling reads it.
    const text = await t.get('/v1/audit/checkpoint', { accept: 'text/plain' });
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect((await verifyNote(text.body, trusted)).ok).toBe(true);
  });

  it('signs a checkpoint within the interval while entries arrive, and a last one at shutdown', async () => {
    await t.close();
    t = await startTestLoopgate({ store, overrides: { 'audit.checkpoint_interval_ms': 100 } });
    await decideLogins(t, 2);
    const deadline = Date.now() + 5000;
    while ((await t.lg.store.latestCheckpoint())?.size !== t.lg.audit.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await t.lg.store.latestCheckpoint())?.size).toBe(t.lg.audit.size);
    await decideLogins(t, 1);
    const size = t.lg.audit.size;
    const db = t.db;
    await t.stop();
    const reopened = openStore({ url: db.url, poolSize: 1 });
    expect((await reopened.latestCheckpoint())?.size).toBe(size);
    await reopened.close();
  });

  it('logs every read of the log before answering, and refuses bad queries without reading or logging', async () => {
    await decideLogins(t, 2);
    const size = t.lg.audit.size;
    const res = await t.get('/v1/audit/entries?start=0&end=2', { 'x-forwarded-for': '203.0.113.9' });
    expect(res.json().entries.map((e: EntryView) => e.index)).toEqual([0, 1, 2]);
    expect(t.lg.audit.size).toBe(size + 1);
    const [read] = (await t.lg.audit.entries(size, size)) as EntryView[];
    expect(read!.entry).toMatchObject({ action: 'audit.read', actor: { kind: 'service', id: 'test-client' }, target: { type: 'audit_log', id: 'entries' }, data: { query: { start: '0', end: '2' } } });

    const bad: Array<[string, number, string]> = [
      ['/v1/audit/entries?start=5&end=2', 400, 'LOOPGATE_ERR_AUDIT_RANGE'],
      [`/v1/audit/entries?start=${size + 50}&end=${size + 60}`, 400, 'LOOPGATE_ERR_AUDIT_RANGE'],
      ['/v1/audit/entries?start=-1&end=2', 400, 'LOOPGATE_ERR_VALIDATION'],
      ['/v1/audit/entries?start=0', 400, 'LOOPGATE_ERR_VALIDATION'],
      ['/v1/audit/entries?start=0&end=1&extra=1', 400, 'LOOPGATE_ERR_VALIDATION'],
      [`/v1/audit/proofs/inclusion?index=${size + 10}&size=${size}`, 400, 'LOOPGATE_ERR_AUDIT_RANGE'],
      [`/v1/audit/proofs/inclusion?index=0&size=${size + 100}`, 400, 'LOOPGATE_ERR_AUDIT_RANGE'],
      ['/v1/audit/proofs/consistency?from=3&to=2', 400, 'LOOPGATE_ERR_AUDIT_RANGE'],
      ['/v1/audit/search?since=yesterday', 400, 'LOOPGATE_ERR_VALIDATION'],
      ['/v1/audit/search?target_type=decision', 400, 'LOOPGATE_ERR_VALIDATION'],
    ];
    const sizeBefore = t.lg.audit.size;
    for (const [url, status, code] of bad) {
      const r = await t.get(url);
      expect(r.statusCode, url).toBe(status);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json().code, url).toBe(code);
    }
    expect(t.lg.audit.size).toBe(sizeBefore);
    const named = (await t.get('/v1/audit/entries?start=x&end=1')).json();
    expect(named.errors).toEqual([{ parameter: 'start', detail: 'must be a non-negative integer' }]);
  });

  it('pages through entries and searches by actor, target, decision, action and time', async () => {
    const ids = await decideLogins(t, 3);
    const all = await allEntries(t);
    const paged = (await t.get('/v1/audit/search?action=decisions.recorded&limit=2')).json();
    expect(paged.entries).toHaveLength(2);
    const rest = (await t.get(`/v1/audit/search?action=decisions.recorded&after=${paged.next}`)).json();
    expect([...paged.entries, ...rest.entries].map((e: EntryView) => e.entry.data!.decisions)).toEqual(
      ids.map((id) => [expect.objectContaining({ id })]),
    );
    const byTarget = (await t.get(`/v1/audit/search?target_type=risk_model&target_id=${all[3]!.entry.target.id}`)).json();
    expect(byTarget.entries.map((e: EntryView) => e.entry.action)).toEqual(['model.activated']);
    const byActor = (await t.get('/v1/audit/search?actor=loopgate&limit=3')).json();
    expect(byActor.entries.map((e: EntryView) => e.index)).toEqual([0, 1, 2]);
    const since = new Date(T0 + 1).toISOString();
    expect((await t.get(`/v1/audit/search?since=${since}`)).json().entries).toEqual([]);
    t.clock.advance(60_000);
    await decideLogins(t, 1, 'carol');
    const later = (await t.get(`/v1/audit/search?since=${since}&action=decisions.recorded`)).json().entries as EntryView[];
    expect(later).toHaveLength(1);
  });

  it('keeps checkpoints signed before a key rotation verifiable, and records the new key', async () => {
    await decideLogins(t, 2);
    const before = (await t.post('/v1/audit/checkpoints', {})).json();
    const { previous, current } = await rotateKey(t.db.keyDirectory);
    await t.lg.audit.loadKeys();
    expect(t.lg.audit.verifierKeys()[0]).toBe(current);
    expect(t.lg.audit.verifierKeys()).toContain(previous);
    await decideLogins(t, 1);
    const after = (await t.post('/v1/audit/checkpoints', {})).json();
    expect(after.key_id).not.toBe(before.key_id);
    const rotated = (await t.get('/v1/audit/search?action=audit.key_activated')).json().entries as EntryView[];
    expect(rotated.at(-1)!.entry).toMatchObject({ target: { id: current }, links: { previous } });
    const oldKey = [await parseVerifierKey(previous)];
    expect((await verifyNote(before.checkpoint, oldKey)).ok).toBe(true);
    expect((await verifyNote(after.checkpoint, oldKey)).ok).toBe(false);
    await t.stop();
    const report = await verifyStored(t.db);
    expect(report.problems).toEqual([]);
    // The two above and the one signed at shutdown (over the reads since).
    expect(report.checkpoints.total).toBeGreaterThanOrEqual(2);
    expect(report.checkpoints.verified).toBe(report.checkpoints.total);
  });

  it('refuses a key file others can read, and a change of the log origin', async () => {
    await t.stop();
    chmodSync(join(t.db.keyDirectory, 'checkpoint.key'), 0o644);
    await expect(startTestLoopgate({ store, db: t.db })).rejects.toThrow(/can be read by other users/);
    chmodSync(join(t.db.keyDirectory, 'checkpoint.key'), 0o600);
    await expect(startTestLoopgate({ store, db: t.db, overrides: { 'audit.origin': 'audit.example.com/other' } })).rejects.toThrow(
      /origin of a log cannot change/,
    );
    t = await startTestLoopgate({ store, db: t.db });
  });

  it('the database itself refuses to change, delete or skip audit entries', async () => {
    await decideLogins(t, 1);
    await t.post('/v1/audit/checkpoints', {});
    const raw = await openRaw(t.db);
    const size = t.lg.audit.size;
    try {
      const attempts: Array<[string, unknown[]]> = [
        ['UPDATE audit_entries SET action = ? WHERE seq = 1', ['forged']],
        ['DELETE FROM audit_entries WHERE seq = 1', []],
        ['UPDATE audit_nodes SET hash = hash', []],
        ['DELETE FROM audit_checkpoints', []],
        [
          'INSERT INTO audit_entries (seq, time, action, actor_kind, actor_id, target_type, target_id, entry, leaf_hash) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?)',
          [size + 5, 'x', 'system', 'x', 'x', 'x', '{}', Buffer.alloc(32)],
        ],
      ];
      for (const [statement, params] of attempts) {
        await expect(raw.run(statement, params), statement).rejects.toThrow(/append-only|appended in sequence/);
      }
    } finally {
      await raw.close();
    }
    await t.stop();
    expect((await verifyStored(t.db)).problems).toEqual([]);
  });

  it('records that the guards were removed, and puts them back, at the next start', async () => {
    await t.stop();
    const raw = await openRaw(t.db);
    try {
      await dropAuditGuards(raw);
    } finally {
      await raw.close();
    }
    t = await startTestLoopgate({ store, db: t.db });
    expect(await t.lg.store.auditGuardsInPlace()).toBe(true);
    const restored = (await t.get('/v1/audit/search?action=audit.guards_restored')).json().entries as EntryView[];
    expect(restored).toHaveLength(1);
    await t.stop();
    expect((await verifyStored(t.db)).problems).toEqual([]);
  });

  it('is atomic with what it records: a failing entry leaves no decision, a failing decision leaves no entry', async () => {
    await decideLogins(t, 1);
    const raw = await openRaw(t.db);
    const count = async (table: string) => Number((await raw.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
    const failOn = async (table: string) => {
      if (store === 'sqlite') {
        await raw.run(`CREATE TRIGGER fail_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
      } else {
        await raw.run(`CREATE OR REPLACE FUNCTION fail_insert() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql`);
        await raw.run(`CREATE TRIGGER fail_${table} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION fail_insert()`);
      }
    };
    const heal = (table: string) => raw.run(store === 'sqlite' ? `DROP TRIGGER fail_${table}` : `DROP TRIGGER fail_${table} ON ${table}`);
    try {
      for (const table of ['audit_entries', 'decisions']) {
        const decisions = await count('decisions');
        const entries = await count('audit_entries');
        const size = t.lg.audit.size;
        await failOn(table);
        const res = await t.post('/v1/decisions', { event: login('alice', T0) });
        expect(res.statusCode, table).toBeGreaterThanOrEqual(500);
        expect(await count('decisions'), table).toBe(decisions);
        expect(await count('audit_entries'), table).toBe(entries);
        expect(t.lg.audit.size).toBe(size);
        await heal(table);
      }
    } finally {
      await raw.close();
    }
    // The failed writes left the tree as it was: the next ones extend it, and the whole log verifies.
    await decideLogins(t, 2);
    await t.stop();
    const report = await verifyStored(t.db);
    expect(report.problems).toEqual([]);
    expect(report.entries).toBe(await countEntries(t.db));
  });
});

async function countEntries(db: TestDatabase): Promise<number> {
  const raw = await openRaw(db);
  try {
    return Number((await raw.query<{ n: number }>('SELECT count(*) AS n FROM audit_entries'))[0]!.n);
  } finally {
    await raw.close();
  }
}

/** Builds a signed log of about 20 entries, stops Loopgate, and hands the database over to tampering. */
async function tamperedLog(
  store: (typeof STORES)[number],
  tamper: (raw: Awaited<ReturnType<typeof openRaw>>, size: number, db: TestDatabase) => Promise<void>,
) {
  const db = await createTestDatabase(store);
  const t = await startTestLoopgate({ store, db });
  for (let i = 0; i < 8; i++) {
    const res = await t.post('/v1/decisions', { event: login(`user-${i % 3}`, T0 - i * 3_600_000) });
    expect(res.statusCode).toBe(201);
    if (i % 3 === 0) await t.get('/v1/audit/checkpoint');
  }
  await t.post('/v1/audit/checkpoints', {});
  const size = t.lg.audit.size;
  await t.stop();
  const clean = await verifyStored(db);
  expect(clean.ok, JSON.stringify(clean.problems)).toBe(true);
  expect(clean.checkpoints.verified).toBe(clean.checkpoints.total);
  const raw = await openRaw(db);
  try {
    // An attacker with the right to change the schema first removes the database's own guards.
    await dropAuditGuards(raw);
    await tamper(raw, size, db);
  } finally {
    await raw.close();
  }
  return { db, size, report: await verifyStored(db) };
}

type Row = { seq: number; entry: string; leaf_hash: Uint8Array };
const entryAt = async (raw: Awaited<ReturnType<typeof openRaw>>, seq: number) =>
  (await raw.query<Row>('SELECT seq, entry, leaf_hash FROM audit_entries WHERE seq = ?', [seq]))[0]!;
const leafOf = (text: string) => createHash('sha256').update(Buffer.from([0])).update(text, 'utf8').digest();

describe.each(STORES)('audit verify names the spot of tampering on %s', (store) => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  it('one field of one entry changed (leaf hash left as it was)', async () => {
    const r = await tamperedLog(store, async (raw) => {
      const e = await entryAt(raw, 7);
      await raw.run('UPDATE audit_entries SET entry = ? WHERE seq = 7', [e.entry.replace('"system"', '"human"')]);
    });
    db = r.db;
    expect(r.report.ok).toBe(false);
    expect(r.report.problems[0]).toMatchObject({ kind: 'altered', seq: 7 });
  });

  it('one field changed and its leaf hash recomputed', async () => {
    const r = await tamperedLog(store, async (raw) => {
      const e = await entryAt(raw, 6);
      const forged = e.entry.replace(/"actor":\{"id":"[^"]+"/, '"actor":{"id":"mallory"');
      expect(forged).not.toBe(e.entry);
      await raw.run('UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 6', [forged, leafOf(forged)]);
    });
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'altered', seq: 6 });
  });

  it('an entry deleted', async () => {
    const r = await tamperedLog(store, (raw) => raw.run('DELETE FROM audit_entries WHERE seq = 5'));
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'removed', seq: 5 });
    expect(r.report.problems[0]!.message).toBe('entry 5 was removed');
  });

  it('the last entries deleted', async () => {
    const r = await tamperedLog(store, (raw, size) => raw.run('DELETE FROM audit_entries WHERE seq >= ?', [size - 3]));
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'removed', seq: r.size - 3 });
  });

  it('two entries swapped', async () => {
    const r = await tamperedLog(store, async (raw) => {
      const a = await entryAt(raw, 4);
      const b = await entryAt(raw, 9);
      await raw.run('UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 4', [b.entry, b.leaf_hash]);
      await raw.run('UPDATE audit_entries SET entry = ?, leaf_hash = ? WHERE seq = 9', [a.entry, a.leaf_hash]);
    });
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'reordered', seq: 4 });
    expect(r.report.problems.map((p) => p.seq)).toContain(9);
  });

  it('a forged entry inserted (later entries renumbered, the forgery chained and hashed correctly)', async () => {
    const r = await tamperedLog(store, async (raw) => {
      const before = await entryAt(raw, 7);
      await raw.run('UPDATE audit_entries SET seq = -seq - 1 WHERE seq >= 8');
      await raw.run('UPDATE audit_entries SET seq = -seq WHERE seq < 0');
      const forged = canonicalize({
        v: 1,
        seq: 8,
        time: new Date(T0).toISOString(),
        prev: toBase64(leafOf(before.entry)),
        action: 'case.approved',
        actor: { kind: 'human', id: 'mallory' },
        target: { type: 'case', id: 'case-1' },
      });
      await raw.run(
        'INSERT INTO audit_entries (seq, time, action, actor_kind, actor_id, target_type, target_id, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [8, T0, 'case.approved', 'human', 'mallory', 'case', 'case-1', forged, leafOf(forged)],
      );
    });
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'inserted', seq: 8 });
  });

  it('a checkpoint replaced by one signed with another key', async () => {
    const r = await tamperedLog(store, async (raw) => {
      const [cp] = await raw.query<{ size: number; note: string }>('SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
      const body = cp!.note.slice(0, cp!.note.indexOf('\n\n') + 1);
      const origin = parseCheckpoint(body).origin;
      const impostor = await generateSignerKey(origin);
      const note = `${body}\n${signatureLine(impostor.signer.name, impostor.signer.keyId, impostor.signer.sign(utf8(body)))}`;
      await raw.run('UPDATE audit_checkpoints SET note = ? WHERE size = ?', [note, cp!.size]);
    });
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'checkpoint' });
    expect(r.report.problems[0]!.message).toMatch(new RegExp(`checkpoint of size ${r.size} is not signed by a trusted key`));
  });

  it('a checkpoint re-signed over a forged root with the real key is caught by the recomputed root', async () => {
    // (Someone who stole the key could sign anything; the recomputed tree still disagrees with the forged root.)
    const r = await tamperedLog(store, async (raw, _size, tampered) => {
      const [cp] = await raw.query<{ size: number; note: string }>('SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
      const origin = parseCheckpoint(cp!.note.slice(0, cp!.note.indexOf('\n\n') + 1)).origin;
      const { parseSignerKey } = await import('../../src/adapters/signing-key.js');
      const { readFileSync } = await import('node:fs');
      const signer = await parseSignerKey(readFileSync(join(tampered.keyDirectory, 'checkpoint.key'), 'utf8'));
      const body = formatCheckpointBody({ origin, size: cp!.size, root: new Uint8Array(32).fill(7) });
      const note = `${body}\n${signatureLine(signer.name, signer.keyId, signer.sign(utf8(body)))}`;
      await raw.run('UPDATE audit_checkpoints SET note = ?, root = ? WHERE size = ?', [note, Buffer.alloc(32, 7), cp!.size]);
    });
    db = r.db;
    expect(r.report.problems[0]!.message).toMatch(/do not have the root that the checkpoint/);
  });

  it('a decision changed after it was recorded', async () => {
    const r = await tamperedLog(store, async (raw) => {
      const [d] = await raw.query<{ id: string; body: string }>('SELECT id, body FROM decisions ORDER BY seq LIMIT 1');
      const changed = d!.body.replace(/"outcome":"[a-z]+"/, '"outcome":"allow"').replace(/"score":[0-9.e-]+/, '"score":0');
      expect(changed).not.toBe(d!.body);
      await raw.run('UPDATE decisions SET body = ? WHERE id = ?', [changed, d!.id]);
    });
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'decision' });
    expect(r.report.problems[0]!.message).toMatch(/was altered: its stored document does not match the digest entry \d+ recorded/);
  });

  it('a decision deleted after it was recorded', async () => {
    const r = await tamperedLog(store, async (raw) => {
      await raw.run('DELETE FROM learning');
      await raw.run('DELETE FROM decisions WHERE seq = (SELECT max(seq) FROM decisions)');
    });
    db = r.db;
    expect(r.report.problems[0]).toMatchObject({ kind: 'decision' });
    expect(r.report.problems[0]!.message).toMatch(/recorded by entry \d+, was removed from the database/);
  });
});
