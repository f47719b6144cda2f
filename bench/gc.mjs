// npm run bench:gc — what Loopgate's young-generation garbage collections cost at a moderate, paced load, and
// how much of each request survives them. Three workloads at the same offered rate, each against a fresh
// server started with V8's --trace-gc-nvp: GET /healthz (the HTTP layer alone, the baseline), POST /v1/decisions
// with dry_run (scoring without commit or learning), and POST /v1/decisions (durable). For each thread it prints
// scavenges per second, their pauses, and the bytes promoted to the old generation per scavenge and per request.
// Writes bench/results/gc.json and docs/img/bench-gc.svg. See docs/benchmarks.md ("Garbage collection").
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart, createApiKey, ensureWrk, startChild, syntheticLogins, wrk, wrkScript } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
// 20 connections, each waiting 10 ms between requests: about 2,000 requests/s offered, well under saturation.
const CONNECTIONS = 20;
const DELAY_MS = 10;

ensureWrk();
const work = mkdtempSync(join(tmpdir(), 'loopgate-bench-gc-'));
const events = syntheticLogins(2000);

const workloads = [
  { name: 'GET /healthz (HTTP only)', method: 'GET', path: '/healthz', bodies: [''] },
  { name: 'decisions, dry run', bodies: events.map((event) => JSON.stringify({ event, dry_run: true })) },
  { name: 'decisions, durable', bodies: events.map((event) => JSON.stringify({ event })) },
];

const LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: (.*)$/;

/** The isolates (threads) of a --trace-gc-nvp log in the order they started: the main thread's comes first. */
function isolatesInStartOrder(text) {
  const order = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m !== null && !order.includes(m[1])) order.push(m[1]);
  }
  return order;
}

/** The scavenges and full collections in a slice of --trace-gc-nvp output, by isolate, in `order`. */
function scavengesByThread(text, order) {
  const threads = new Map(order.map((id) => [id, { scavenges: [], full: 0 }]));
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null || !threads.has(m[1])) continue;
    const fields = Object.fromEntries(m[2].split(' ').filter((p) => p.includes('=')).map((p) => p.split('=')));
    const t = threads.get(m[1]);
    if (fields.gc === 's') t.scavenges.push({ pause: Number(fields.pause), promoted: Number(fields.promoted) });
    else t.full += 1;
  }
  return [...threads.values()];
}

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function measure(workload, index) {
  const dbDir = join(work, `db-${index}`);
  mkdirSync(dbDir);
  const database = join(dbDir, 'loopgate.db');
  const apiKey = createApiKey(root, { ...process.env, LOOPGATE_DATABASE_URL: database, LOOPGATE_LOG_LEVEL: 'warn' });
  const script = wrkScript(join(work, `gc-${index}.lua`), { ...workload, apiKey, delay: DELAY_MS });
  const log = join(work, `gc-${index}.log`);
  const server = await startChild(
    ['--trace-gc-nvp', join(root, 'dist/cli/main.js'), 'start'],
    { LOOPGATE_PORT: '0', LOOPGATE_DATABASE_URL: database, LOOPGATE_LOG_LEVEL: 'warn', LOOPGATE_LOG_REQUESTS: 'false', LOOPGATE_POLICY_WATCH: 'false' },
    { stdoutFile: log },
  );
  try {
    process.stderr.write(`${workload.name}: warming up ${WARMUP}s…\n`);
    wrk({ url: server.url, script, connections: CONNECTIONS, seconds: WARMUP });
    const from = statSync(log).size;
    process.stderr.write(`${workload.name}: ~${(CONNECTIONS * 1000) / DELAY_MS} requests/s offered, ${SECONDS}s…\n`);
    const run = wrk({ url: server.url, script, connections: CONNECTIONS, seconds: SECONDS });
    const to = statSync(log).size;
    const whole = readFileSync(log);
    const threads = scavengesByThread(whole.subarray(from, to).toString(), isolatesInStartOrder(whole.toString())).map((t, i) => {
      const pauses = t.scavenges.map((s) => s.pause).sort((a, b) => a - b);
      const promoted = t.scavenges.reduce((n, s) => n + s.promoted, 0);
      return {
        // Worker threads are numbered in the order they started (the SQLite writer opens with the store, before the
        // scoring thread); the event loop's isolate is always the first.
        thread: i === 0 ? 'event loop' : `thread ${i + 1}`,
        scavengesPerSecond: t.scavenges.length / SECONDS,
        pauseP50: percentile(pauses, 0.5),
        pauseP99: percentile(pauses, 0.99),
        pauseMax: pauses.at(-1) ?? 0,
        promotedKbPerScavenge: t.scavenges.length === 0 ? 0 : promoted / t.scavenges.length / 1024,
        promotedBytesPerRequest: promoted / run.requests,
        fullCollections: t.full,
      };
    });
    return { name: workload.name, rps: run.rps, p50: run.p50, p99: run.p99, non2xx: run.non2xx, threads };
  } finally {
    await server.stop();
  }
}

const results = [];
for (const [i, w] of workloads.entries()) results.push(await measure(w, i));
rmSync(work, { recursive: true, force: true });

const f = (x, d = 1) => x.toFixed(d);
console.log(`\n${CONNECTIONS} connections × ${DELAY_MS} ms pacing, ${SECONDS}s each after ${WARMUP}s warm-up; V8 --trace-gc-nvp\n`);
console.log('| workload | req/s | p50 / p99 ms | thread | scavenges/s | pause p50 / p99 / max ms | promoted KB per scavenge | promoted bytes per request | full GCs |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  for (const t of r.threads.filter((t) => t.scavengesPerSecond > 0)) {
    console.log(
      `| ${r.name} | ${Math.round(r.rps)} | ${f(r.p50, 2)} / ${f(r.p99, 2)} | ${t.thread} | ${f(t.scavengesPerSecond)} | ${f(t.pauseP50, 2)} / ${f(t.pauseP99, 2)} / ${f(t.pauseMax, 2)} | ${Math.round(t.promotedKbPerScavenge)} | ${Math.round(t.promotedBytesPerRequest)} | ${t.fullCollections} |`,
    );
  }
}

mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/gc.json'), `${JSON.stringify({ when: new Date().toISOString(), node: process.version, seconds: SECONDS, connections: CONNECTIONS, delayMs: DELAY_MS, results }, null, 2)}\n`);
const eventLoop = (r) => r.threads[0] ?? { promotedBytesPerRequest: 0, pauseP50: 0, pauseP99: 0 };
mkdirSync(join(root, 'docs/img'), { recursive: true });
barChart(join(root, 'docs/img/bench-gc.svg'), `Young-generation collections on the event loop at ~${(CONNECTIONS * 1000) / DELAY_MS} requests/s offered`, [
  {
    label: 'Bytes promoted to the old generation per request (lower is better)',
    bars: results.map((r) => ({ name: r.name, value: eventLoop(r).promotedBytesPerRequest, text: `${Math.round(eventLoop(r).promotedBytesPerRequest)} B` })),
  },
  {
    label: 'Scavenge pause, median (ms, lower is better)',
    bars: results.map((r) => ({ name: r.name, value: eventLoop(r).pauseP50, text: `${f(eventLoop(r).pauseP50, 2)} ms` })),
  },
  {
    label: 'Request latency p99 (ms, lower is better)',
    bars: results.map((r) => ({ name: r.name, value: r.p99, text: `${f(r.p99, 2)} ms` })),
  },
]);
