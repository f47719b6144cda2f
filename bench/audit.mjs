// npm run bench:audit — the tamper-evident audit log, each measurement beside a baseline taken in the same run:
//   1. appends/s through AuditService.record (group commit, SQLite writer thread) while decisions are being made,
//      against raw better-sqlite3 inserting rows of the same shape in transactions of the same size;
//   2. `audit verify` of the whole log from storage (BENCH_AUDIT_ENTRIES, default 1,000,000 entries, written 10,000
//      per transaction, then the database closed and reopened), against the floor any verifier pays: reading every
//      entry page and hashing each entry once;
//   3. inclusion-proof latency at that size, against a primary-key lookup of one entry.
// Prints a table, writes bench/results/audit.json and docs/img/bench-audit.svg. Timings are reported, not asserted.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { barChart, syntheticLogins } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const { loadConfig } = await import(dist('config/load.js'));
const { createLoopgate } = await import(dist('loopgate.js'));
const { verifyAuditLog } = await import(dist('services/audit-verify.js'));
const { storeLogSource } = await import(dist('services/audit-sources.js'));
const { parseTrustedKeys } = await import(dist('adapters/signing-key.js'));
const { entryText } = await import(dist('core/audit/entry.js'));
const { verifyInclusion, verifyNote, parseCheckpoint, fromBase64, equalBytes } = await import(dist('verify/index.js'));
const Database = createRequire(import.meta.url)('better-sqlite3');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const ENTRIES = Number(process.env.BENCH_AUDIT_ENTRIES ?? 1_000_000);
const APPENDS_IN_FLIGHT = 256;
const DECISIONS_IN_FLIGHT = 32;
const FILL_BATCH = 10_000;
const PAGE = 5000; // as storeLogSource pages
const PROOFS = 10_000;
const PROOF_WARMUP = 500;
const GOALS = { appendsPerSecond: 20_000, verifySecondsAt1M: 10, proofP50Ms: 1 };

const log = (line) => process.stderr.write(`${line}\n`);
const n = (x) => Math.round(x).toLocaleString('en-US');
const work = mkdtempSync(join(os.tmpdir(), 'loopgate-bench-audit-'));

// ---- inputs: a few thousand varied, realistic audit inputs (about 300–400 bytes once written as an entry) ----

let seed = 0x2545f491;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const hex = (len) => Array.from({ length: len }, () => Math.floor(rand() * 16).toString(16)).join('');
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
const REVIEWERS = ['alice@example.com', 'bob.martin@example.com', 'chen.wei@example.com', 'dana.kowalski@example.com', 'eve.o@example.com'];
const AGENTS = ['triage-agent@loopgate', 'fraud-copilot@soc.example.com'];
const SERVICES = ['siem-export', 'case-sync', 'hr-connector'];
const REASONS = [
  'Customer confirmed by phone.',
  'Travel explained: corporate VPN exit in Frankfurt.',
  'New device and password reset within 10 minutes.',
  'Second reviewer needed above the payee limit.',
  'False positive, trip booked via the portal.',
  'Shared account; asked for separate credentials.',
];
// Now and then a reviewer's proof of sign-in, as entries recorded after an SSO login carry it.
const withAssurance = (actor) => (rand() < 0.25 ? { ...actor, assurance: { acr: 'mfa', amr: ['pwd', pick(['otp', 'hwk'])] } } : actor);

function makeInput() {
  const caseId = `case-${100000 + Math.floor(rand() * 900000)}`;
  const decision = uuid();
  switch (Math.floor(rand() * 6)) {
    case 0:
      return {
        action: 'review.comment',
        actor: withAssurance({ kind: 'human', id: pick(REVIEWERS) }),
        target: { type: 'case', id: caseId },
        reason: pick(REASONS),
        links: { case: caseId },
        data: { comment_id: `cmt-${hex(10)}`, visibility: pick(['team', 'private']) },
      };
    case 1:
      return {
        action: 'case.assigned',
        actor: { kind: pick(['human', 'system']), id: pick([...REVIEWERS, 'loopgate']) },
        target: { type: 'case', id: caseId },
        links: { case: caseId, decision },
        data: { assignee: pick(REVIEWERS), queue: pick(['fraud-l1', 'fraud-l2', 'ato']), priority: pick(['low', 'normal', 'high']) },
      };
    case 2:
      return {
        action: 'case.resolved',
        actor: withAssurance({ kind: 'human', id: pick(REVIEWERS) }),
        target: { type: 'case', id: caseId },
        reason: pick(REASONS),
        links: { case: caseId, decision },
        data: { resolution: pick(['legitimate', 'fraud', 'takeover']) },
      };
    case 3:
      return {
        action: 'decision.overridden',
        actor: withAssurance({ kind: 'human', id: pick(REVIEWERS) }),
        target: { type: 'decision', id: decision },
        reason: pick(REASONS),
        links: { decision, previous: pick(['deny', 'challenge']) },
        data: { outcome: 'allow', ttl_minutes: pick([15, 60, 1440]) },
      };
    case 4:
      return {
        action: 'agent.recommendation',
        actor: { kind: 'agent', id: pick(AGENTS) },
        target: { type: 'case', id: caseId },
        links: { case: caseId, decision },
        data: { recommendation: pick(['allow', 'deny', 'escalate']), confidence: Math.round(rand() * 1000) / 1000, signals: [pick(['new_device', 'travel', 'asn']), pick(['velocity', 'hour', 'ua'])] },
      };
    default:
      return {
        action: 'audit.read',
        actor: { kind: 'service', id: pick(SERVICES) },
        target: { type: 'audit', id: 'entries' },
        reason: 'scheduled SIEM export',
        data: { start: Math.floor(rand() * 900000), count: 1000, client: `10.20.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}` },
      };
  }
}
const POOL = Array.from({ length: 4096 }, makeInput);
const PREV = 'x'.repeat(43) + '=';
const entrySizes = POOL.map((input, i) => Buffer.byteLength(entryText(input, 500_000 + i, Date.now(), PREV).text));
const entryBytes = entrySizes.reduce((a, b) => a + b, 0) / entrySizes.length;
log(`${POOL.length} distinct audit inputs, ${Math.round(entryBytes)} bytes per entry on average (${Math.min(...entrySizes)}…${Math.max(...entrySizes)})`);

// Logins for the concurrent decision load: 500 people, a few IPs, user agents and devices each.
const LOGINS = syntheticLogins(2000);

async function open(name) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const config = loadConfig({
    env: {},
    overrides: {
      'database.url': join(dir, 'loopgate.db'),
      'audit.key_directory': join(dir, 'keys'),
      'geoip.enabled': false,
      'log.level': 'silent',
      'policy.watch': false,
    },
  });
  return createLoopgate(config);
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const summary = (ms) => {
  const s = Float64Array.from(ms).sort();
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
};

const results = {};
let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

try {
  // ---- 1. appends/s with group commit, alongside decisions ----
  {
    const lg = await open('append');
    const store = lg.store;
    // Count the group-commit batches the audit service hands to the store (and decision batches), in the window.
    let measuring = false;
    const batches = { audit: 0, auditEntries: 0, decisions: 0 };
    const appendAudit = store.appendAudit.bind(store);
    store.appendAudit = (req) => {
      if (measuring) {
        batches.audit++;
        batches.auditEntries += req.inputs.length;
      }
      return appendAudit(req);
    };
    const commitDecisions = store.commitDecisions.bind(store);
    store.commitDecisions = (batch, audit) => {
      if (measuring) batches.decisions++;
      return commitDecisions(batch, audit);
    };

    const start = performance.now();
    const from = start + WARMUP * 1000;
    const until = from + SECONDS * 1000;
    let appended = 0;
    let decided = 0;
    let failures = 0;
    const marks = setInterval(() => {
      const now = performance.now();
      if (!measuring && now >= from && now < until) measuring = true;
    }, 5);
    const appender = async (k) => {
      let i = k;
      while (performance.now() < until) {
        try {
          await lg.audit.record(POOL[i++ % POOL.length]);
          const t = performance.now();
          if (t >= from && t < until) appended++;
        } catch (e) {
          failures++;
          if (failures === 1) log(`append failed: ${e.message}`);
        }
      }
    };
    const decider = async (k) => {
      let i = k * 61;
      while (performance.now() < until) {
        try {
          await lg.decisions.decide(LOGINS[i++ % LOGINS.length]);
          const t = performance.now();
          if (t >= from && t < until) decided++;
        } catch (e) {
          failures++;
          if (failures === 1) log(`decision failed: ${e.message}`);
        }
      }
    };
    log(`appends: ${APPENDS_IN_FLIGHT} record() calls and ${DECISIONS_IN_FLIGHT} decide() calls in flight, ${WARMUP}s warm-up + ${SECONDS}s…`);
    const progress = setInterval(() => log(`  ${n(store.auditSize)} entries in the log`), 2000);
    await Promise.all([
      ...Array.from({ length: APPENDS_IN_FLIGHT }, (_, k) => appender(k)),
      ...Array.from({ length: DECISIONS_IN_FLIGHT }, (_, k) => decider(k)),
    ]);
    clearInterval(progress);
    clearInterval(marks);
    measuring = false;
    const averageBatch = batches.audit === 0 ? 1 : batches.auditEntries / batches.audit;
    results.appends = {
      seconds: SECONDS,
      inFlight: { appends: APPENDS_IN_FLIGHT, decisions: DECISIONS_IN_FLIGHT },
      perSecond: appended / SECONDS,
      decisionsPerSecond: decided / SECONDS,
      failures,
      groupCommits: { audit: batches.audit, decisions: batches.decisions, averageAuditBatch: averageBatch },
      logSize: store.auditSize,
    };
    await lg.close();
    log(`  Loopgate: ${n(results.appends.perSecond)} appends/s, ${n(results.appends.decisionsPerSecond)} decisions/s, ${averageBatch.toFixed(1)} entries per audit group commit`);

    // Baseline: better-sqlite3 on its own fresh WAL file, same settings as the writer thread, same table and indexes.
    const file = join(work, 'raw.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('wal_autocheckpoint = 0');
    db.pragma('cache_size = -65536');
    db.exec(`
      create table audit_entries (seq bigint primary key, time bigint not null, action text not null, actor_kind text not null,
        actor_id text not null, target_type text not null, target_id text not null, decision_id text, case_id text,
        entry text not null, leaf_hash blob not null);
      create index audit_actor on audit_entries (actor_id, seq);
      create index audit_target on audit_entries (target_type, target_id, seq);
      create index audit_decision on audit_entries (decision_id);
      create index audit_case on audit_entries (case_id);
      create index audit_time on audit_entries (time);`);
    const rows = POOL.map((input, i) => {
      const text = entryText(input, i, Date.now(), PREV).text;
      const leaf = createHash('sha256').update(Buffer.from([0])).update(text).digest();
      return [input.action, input.actor.kind, input.actor.id, input.target.type, input.target.id, input.links?.decision ?? null, input.links?.case ?? null, text, leaf];
    });
    const insert = db.prepare('insert into audit_entries values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const batchSize = Math.max(1, Math.round(averageBatch));
    let seq = 0;
    const commit = db.transaction((count) => {
      const time = Date.now();
      for (let k = 0; k < count; k++, seq++) insert.run(seq, time, ...rows[seq % rows.length]);
    });
    log(`raw better-sqlite3: transactions of ${batchSize} rows, synchronous=FULL, ${SECONDS}s…`);
    let commits = 0;
    const rawStart = performance.now();
    const rawUntil = rawStart + SECONDS * 1000;
    while (performance.now() < rawUntil) {
      commit(batchSize);
      // As the writer thread: checkpoint the WAL between batches once it is large.
      if (++commits % 64 === 0 && statSync(`${file}-wal`).size > 64 * 1024 * 1024) db.pragma('wal_checkpoint(PASSIVE)');
    }
    const rawSeconds = (performance.now() - rawStart) / 1000;
    db.close();
    results.appends.raw = { perSecond: seq / rawSeconds, batchSize, seconds: rawSeconds };
    results.appends.ratio = results.appends.perSecond / results.appends.raw.perSecond;
    log(`  raw: ${n(results.appends.raw.perSecond)} rows/s`);
  }

  // ---- 2. verifying the whole log from storage ----
  let lg = await open('verify');
  let store = lg.store;
  {
    const target = ENTRIES;
    log(`filling the log to ${n(target)} entries (${n(FILL_BATCH)} per transaction)…`);
    const fillStart = performance.now();
    let next = 100_000;
    let k = 0;
    while (store.auditSize < target) {
      const count = Math.min(FILL_BATCH, target - store.auditSize);
      const inputs = new Array(count);
      for (let i = 0; i < count; i++) inputs[i] = POOL[(k++ * 7) % POOL.length];
      await store.appendAudit({ inputs, timeMs: Date.now() });
      if (store.auditSize >= next || store.auditSize >= target) {
        log(`  ${n(store.auditSize)} entries (${n(store.auditSize / ((performance.now() - fillStart) / 1000))}/s)`);
        while (next <= store.auditSize) next += 100_000;
      }
    }
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const checkpoint = await lg.audit.checkpoint();
    const fileMiB = (suffix) => {
      try {
        return statSync(`${store.location}${suffix}`).size / 2 ** 20;
      } catch {
        return 0;
      }
    };
    const files = { afterFill: { databaseMiB: fileMiB(''), walMiB: fileMiB('-wal') } };
    // Closed and reopened, as after a restart: on close the writer folds the WAL (which the fill's few, large
    // transactions grow far beyond its usual size) into the database file. The log is then idle while measured.
    await lg.close();
    lg = await open('verify');
    store = lg.store;
    files.measured = { databaseMiB: fileMiB(''), walMiB: fileMiB('-wal') };
    log(`  checkpoint signed at ${n(checkpoint.size)} entries; database ${n(files.afterFill.databaseMiB)} MiB + WAL ${n(files.afterFill.walMiB)} MiB after the fill, ${n(files.measured.databaseMiB)} MiB + ${n(files.measured.walMiB)} MiB reopened`);

    // Baseline: read every entry page (same keyset paging) and hash each entry once.
    log('read + hash floor…');
    const floorStart = performance.now();
    let hashed = 0;
    for (let after = -1; ; ) {
      const page = await store.auditEntriesAfter(after, PAGE);
      for (const r of page) {
        createHash('sha256').update(Buffer.from([0])).update(r.entry, 'utf8').digest();
        hashed++;
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1].seq;
    }
    const floorSeconds = (performance.now() - floorStart) / 1000;
    log(`  ${n(hashed)} entries read and hashed in ${floorSeconds.toFixed(2)} s`);

    const trusted = await parseTrustedKeys(lg.audit.verifierKeys());
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    peakRss = rssBefore;
    const sampler = setInterval(sampleRss, 20);
    log('verifying…');
    let lastLogged = -1;
    let entriesDone;
    const verifyStart = performance.now();
    const report = await verifyAuditLog(storeLogSource(store), {
      trusted,
      origin: lg.audit.origin,
      onProgress: (done, total) => {
        sampleRss();
        if (done === total) entriesDone ??= performance.now();
        if (done % 100_000 === 0 && done !== lastLogged) log(`  ${n((lastLogged = done))} entries verified (${((performance.now() - verifyStart) / 1000).toFixed(1)} s)`);
      },
    });
    const verifySeconds = (performance.now() - verifyStart) / 1000;
    sampleRss();
    clearInterval(sampler);
    if (!report.ok) {
      log(`VERIFY FAILED (${report.problems.length + report.moreProblems} problems):`);
      for (const p of report.problems) log(`  [${p.kind}] ${p.message}`);
    }
    for (const w of report.warnings) log(`  warning: ${w}`);
    results.verify = {
      entries: report.entries,
      ok: report.ok,
      problems: report.problems,
      warnings: report.warnings,
      checkpoints: report.checkpoints,
      nodesChecked: report.nodes.checked,
      seconds: verifySeconds,
      // The pass over the entries; the rest is the stored interior nodes, checkpoints and decisions.
      phases: { entriesSeconds: (entriesDone - verifyStart) / 1000, nodesAndCheckpointsSeconds: (verifyStart + verifySeconds * 1000 - entriesDone) / 1000 },
      entriesPerSecond: report.entries / verifySeconds,
      extrapolatedSecondsAt1M: (verifySeconds * 1_000_000) / report.entries,
      floor: { seconds: floorSeconds, entries: hashed },
      ratio: verifySeconds / floorSeconds,
      rss: { beforeMiB: rssBefore / 2 ** 20, peakMiB: peakRss / 2 ** 20 },
      fill: { seconds: fillSeconds, perSecond: checkpoint.size / fillSeconds, files },
    };
    log(`  ${report.ok ? 'ok' : 'NOT ok'}: ${n(report.entries)} entries, ${report.checkpoints.verified}/${report.checkpoints.total} checkpoints, ${n(report.nodes.checked)} nodes in ${verifySeconds.toFixed(2)} s; peak RSS ${n(peakRss / 2 ** 20)} MiB`);

    // ---- 3. inclusion proofs at that size ----
    const size = checkpoint.size;
    const signed = await verifyNote(checkpoint.note, trusted);
    const signedRoot = signed.ok ? parseCheckpoint(signed.body).root : undefined;
    const randomIndex = () => Math.floor(rand() * size);
    log(`inclusion proofs: ${n(PROOFS)} at size ${n(size)}…`);
    for (let i = 0; i < PROOF_WARMUP; i++) await lg.audit.inclusionProof(randomIndex(), size);
    const proofMs = new Float64Array(PROOFS);
    const sampled = [];
    for (let i = 0; i < PROOFS; i++) {
      const index = randomIndex();
      const t = performance.now();
      const proof = await lg.audit.inclusionProof(index, size);
      proofMs[i] = performance.now() - t;
      if (i % (PROOFS / 20) === 0) sampled.push(proof);
    }
    log(`primary-key lookups: ${n(PROOFS)}…`);
    for (let i = 0; i < PROOF_WARMUP; i++) {
      const index = randomIndex();
      await store.auditEntries(index, index + 1);
    }
    const lookupMs = new Float64Array(PROOFS);
    for (let i = 0; i < PROOFS; i++) {
      const index = randomIndex();
      const t = performance.now();
      const rows = await store.auditEntries(index, index + 1);
      lookupMs[i] = performance.now() - t;
      if (rows.length !== 1) throw new Error(`entry ${index} not found`);
    }
    // The proofs are real: the stored entry hashes to the proof's leaf, and the path leads to the signed root.
    let verified = 0;
    const bad = [];
    for (const p of sampled) {
      const [row] = await store.auditEntries(p.leaf_index, p.leaf_index + 1);
      const leaf = createHash('sha256').update(Buffer.from([0])).update(row.entry, 'utf8').digest();
      const r = signedRoot === undefined
        ? { ok: false, reason: 'the checkpoint signature did not verify' }
        : await verifyInclusion({ index: p.leaf_index, size, leaf: new Uint8Array(leaf), proof: p.audit_path.map(fromBase64), root: signedRoot });
      if (r.ok && equalBytes(new Uint8Array(leaf), fromBase64(p.leaf_hash))) verified++;
      else bad.push({ index: p.leaf_index, reason: r.reason ?? 'leaf hash differs from the entry' });
    }
    if (bad.length > 0) log(`PROOFS DID NOT VERIFY: ${JSON.stringify(bad)}`);
    const proof = summary(proofMs);
    const lookup = summary(lookupMs);
    results.proofs = {
      size,
      count: PROOFS,
      pathLength: sampled[0]?.audit_path.length,
      proof,
      lookup,
      ratioP50: proof.p50 / lookup.p50,
      verified: { checked: sampled.length, ok: verified, bad },
    };
    log(`  proof p50 ${proof.p50.toFixed(3)} ms, p99 ${proof.p99.toFixed(3)} ms; lookup p50 ${lookup.p50.toFixed(3)} ms; ${verified}/${sampled.length} proofs verified against the signed root`);
  }
  await lg.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}

// ---- report ----
const a = results.appends;
const v = results.verify;
const p = results.proofs;
const at1M = v.entries === 1_000_000;
const met = {
  appends: a.perSecond >= GOALS.appendsPerSecond,
  verify: v.ok && v.extrapolatedSecondsAt1M <= GOALS.verifySecondsAt1M,
  proofs: p.proof.p50 < GOALS.proofP50Ms && p.verified.ok === p.verified.checked,
};
const yes = (ok) => (ok ? 'met' : 'NOT met');
const verifyGoal = at1M ? `≤ ${GOALS.verifySecondsAt1M} s` : `≤ ${GOALS.verifySecondsAt1M} s at 1M (${v.extrapolatedSecondsAt1M.toFixed(2)} s extrapolated)`;
const table = [
  '| measurement | Loopgate | baseline (same run) | ratio | goal | |',
  '|---|---|---|---|---|---|',
  `| appends/s, ${a.inFlight.appends} in flight + ${a.inFlight.decisions} decisions in flight | ${n(a.perSecond)} (with ${n(a.decisionsPerSecond)} decisions/s) | raw better-sqlite3, ${a.raw.batchSize} rows/transaction: ${n(a.raw.perSecond)} | ${a.ratio.toFixed(2)}× | ≥ ${n(GOALS.appendsPerSecond)}/s | ${yes(met.appends)} |`,
  `| verify ${n(v.entries)} entries from storage | ${v.seconds.toFixed(2)} s (${n(v.entriesPerSecond)}/s, ${v.ok ? 'ok' : 'FAILED'}) | read + SHA-256 each entry: ${v.floor.seconds.toFixed(2)} s | ${v.ratio.toFixed(2)}× | ${verifyGoal} | ${yes(met.verify)} |`,
  `| inclusion proof at ${n(p.size)} entries, p50 / p99 / mean | ${p.proof.p50.toFixed(3)} / ${p.proof.p99.toFixed(3)} / ${p.proof.mean.toFixed(3)} ms | PK lookup: ${p.lookup.p50.toFixed(3)} / ${p.lookup.p99.toFixed(3)} / ${p.lookup.mean.toFixed(3)} ms | ${p.ratioP50.toFixed(2)}× (p50) | p50 < ${GOALS.proofP50Ms} ms | ${yes(met.proofs)} |`,
].join('\n');
const cpu = os.cpus()[0]?.model ?? 'unknown';
console.log(`\n${cpu}, ${os.cpus().length} cores, Node ${process.version}; entries ${Math.round(entryBytes)} bytes on average; ${SECONDS}s per throughput run after ${WARMUP}s warm-up\n`);
console.log(table);
console.log(
  [
    '',
    `audit group commits: ${n(a.groupCommits.audit)} (${a.groupCommits.averageAuditBatch.toFixed(1)} entries each), decision batches: ${n(a.groupCommits.decisions)}; failures: ${a.failures}`,
    `verify: ${v.phases.entriesSeconds.toFixed(2)} s over the entries, ${v.phases.nodesAndCheckpointsSeconds.toFixed(2)} s over ${n(v.nodesChecked)} stored nodes and ${v.checkpoints.verified}/${v.checkpoints.total} checkpoints; peak RSS ${n(v.rss.peakMiB)} MiB (${n(v.rss.beforeMiB)} MiB before); fill ${n(v.fill.perSecond)} entries/s (${n(FILL_BATCH)} per transaction); database ${n(v.fill.files.measured.databaseMiB)} MiB (WAL ${n(v.fill.files.afterFill.walMiB)} MiB after the fill, folded in before measuring)`,
    `proofs: ${p.pathLength} hashes per path; ${p.verified.ok}/${p.verified.checked} sampled proofs verified against the signed checkpoint root`,
  ].join('\n'),
);

mkdirSync(join(root, 'bench/results'), { recursive: true });
const machine = { cpu, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version };
const parameters = { seconds: SECONDS, warmup: WARMUP, entries: ENTRIES, appendsInFlight: APPENDS_IN_FLIGHT, decisionsInFlight: DECISIONS_IN_FLIGHT, fillBatch: FILL_BATCH, page: PAGE, proofs: PROOFS, entryBytes: Math.round(entryBytes) };
writeFileSync(join(root, 'bench/results/audit.json'), `${JSON.stringify({ when: new Date().toISOString(), machine, parameters, goals: GOALS, met, ...results }, null, 2)}\n`);
mkdirSync(join(root, 'docs/img'), { recursive: true });
barChart(join(root, 'docs/img/bench-audit.svg'), 'Audit log: Loopgate vs storage baselines (one process, same run)', [
  {
    label: 'Appends per second with decisions running (higher is better)',
    bars: [
      { name: `raw SQLite (${a.raw.batchSize}/txn)`, value: a.raw.perSecond, text: n(a.raw.perSecond) },
      { name: 'Loopgate record()', value: a.perSecond, text: `${n(a.perSecond)} (${a.ratio.toFixed(2)}×)` },
    ],
    target: GOALS.appendsPerSecond,
    targetLabel: `goal: ${n(GOALS.appendsPerSecond)}/s`,
  },
  {
    label: `Verify ${n(v.entries)} entries from storage (seconds, lower is better)`,
    bars: [
      { name: 'read + hash floor', value: v.floor.seconds, text: `${v.floor.seconds.toFixed(2)} s` },
      { name: 'Loopgate audit verify', value: v.seconds, text: `${v.seconds.toFixed(2)} s (${v.ratio.toFixed(2)}×)` },
    ],
    target: at1M ? GOALS.verifySecondsAt1M : (GOALS.verifySecondsAt1M * v.entries) / 1_000_000,
    targetLabel: at1M ? `goal: ${GOALS.verifySecondsAt1M} s` : `goal pro rata: ${((GOALS.verifySecondsAt1M * v.entries) / 1_000_000).toFixed(1)} s`,
  },
  {
    label: `Inclusion proof at ${n(p.size)} entries (ms, lower is better)`,
    bars: [
      { name: 'PK lookup p50', value: p.lookup.p50, text: `${p.lookup.p50.toFixed(3)} ms` },
      { name: 'PK lookup p99', value: p.lookup.p99, text: `${p.lookup.p99.toFixed(3)} ms` },
      { name: 'Loopgate proof p50', value: p.proof.p50, text: `${p.proof.p50.toFixed(3)} ms (${p.ratioP50.toFixed(2)}×)` },
      { name: 'Loopgate proof p99', value: p.proof.p99, text: `${p.proof.p99.toFixed(3)} ms` },
    ],
    target: GOALS.proofP50Ms,
    targetLabel: `goal: p50 &lt; ${GOALS.proofP50Ms} ms`, // barChart writes labels into the SVG as they are
  },
]);
