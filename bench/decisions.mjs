// npm run bench:decisions — Loopgate's POST /v1/decisions (full pipeline: validation, IP enrichment, baselines,
// risk, CEL policy, durable SQLite group commit) against a bare Fastify endpoint parsing the same JSON body,
// measured with the same load generator (wrk) in the same run. Prints a table and the ratio, writes
// bench/results/decisions.json and docs/img/bench-decisions.svg.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart, cpuPerRequest, createApiKey, ensureWrk, startChild, syntheticLogins, threadCpu, wrk, wrkScript } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const CONNECTIONS = 50;
// Paced run: each of PACED_CONNECTIONS waits PACED_DELAY ms between requests, about 10,000 requests/s in all.
const PACED_CONNECTIONS = 105;
const PACED_DELAY = 10;
// Peak search: the saturated load again with more connections (the saturated run itself is the first point).
const SWEEP_CONNECTIONS = [100, 200, 400];
const PEAK_CONNECTIONS = [CONNECTIONS, ...SWEEP_CONNECTIONS];

/** A point of the peak search. Only answered decisions count: an error answer (a 503 while overloaded, say) is not throughput. */
function sweepPoint(connections, r) {
  const answered = r.requests > 0 ? (r.rps * (r.requests - r.non2xx)) / r.requests : 0;
  return { connections, rps: answered, p50: r.p50, p99: r.p99, non2xx: r.non2xx, errors: r.errors };
}

ensureWrk();
const work = mkdtempSync(join(tmpdir(), 'loopgate-bench-'));

// 2,000 distinct logins: 500 people, each with a few IPs, user agents and devices.
const bodies = syntheticLogins(2000).map((event) => JSON.stringify({ event }));
const averageBody = Math.round(bodies.reduce((n, b) => n + b.length, 0) / bodies.length);

// The API needs a credential: an operator creates a PEP key with the CLI, as in production. Both servers get the
// same header, so they parse the same bytes.
const dbDir = join(work, 'db');
mkdirSync(dbDir);
const dbEnv = { ...process.env, LOOPGATE_DATABASE_URL: join(dbDir, 'loopgate.db'), LOOPGATE_LOG_LEVEL: 'warn' };
const apiKey = createApiKey(root, dbEnv);
const script = (delay) => wrkScript(join(work, `post-${delay ?? 0}.lua`), { bodies, apiKey, delay });

const full = script();
const paced = script(PACED_DELAY);

async function measure(name, start, moderateConnections) {
  const server = await start();
  try {
    process.stderr.write(`${name}: warming up ${WARMUP}s…\n`);
    wrk({ url: server.url, script: full, connections: CONNECTIONS, seconds: WARMUP });
    process.stderr.write(`${name}: saturation, ${CONNECTIONS} connections, ${SECONDS}s…\n`);
    // CPU per request, read from /proc around the saturated run: what a request costs whatever the machine.
    const cpuBefore = threadCpu(server.pid);
    const saturated = wrk({ url: server.url, script: full, connections: CONNECTIONS, seconds: SECONDS });
    saturated.cpu = cpuPerRequest(server.pid, cpuBefore, threadCpu(server.pid), saturated.requests);
    process.stderr.write(`${name}: paced at ~10,000 requests/s, ${SECONDS}s…\n`);
    const steady = wrk({ url: server.url, script: paced, connections: PACED_CONNECTIONS, seconds: SECONDS });
    // A load Loopgate sustains: each connection sends one request every PACED_DELAY ms.
    const connections = moderateConnections ?? Math.max(1, Math.round((0.4 * saturated.rps * PACED_DELAY) / 1000));
    process.stderr.write(`${name}: paced at ~${Math.round((connections * 1000) / PACED_DELAY)} requests/s, ${SECONDS}s…\n`);
    const moderate = wrk({ url: server.url, script: paced, connections, seconds: SECONDS });
    // Peak throughput: more connections than the saturated run, in case that run was bound by latency rather than
    // by CPU (a pipeline with hand-offs between threads needs more requests in flight to keep every thread busy).
    const sweep = [sweepPoint(CONNECTIONS, saturated)];
    for (const c of SWEEP_CONNECTIONS) {
      process.stderr.write(`${name}: peak search, ${c} connections, ${SECONDS}s…\n`);
      sweep.push(sweepPoint(c, wrk({ url: server.url, script: full, connections: c, seconds: SECONDS })));
    }
    const peak = sweep.reduce((best, r) => (r.rps > best.rps ? r : best));
    return { saturated, steady, moderate, moderateConnections: connections, sweep, peak };
  } finally {
    await server.stop();
  }
}

// Loopgate first, so that the moderate rate (40% of its capacity) can be applied to both servers.
const loopgate = await measure('loopgate', () =>
  startChild([join(root, 'dist/cli/main.js'), 'start'], {
    LOOPGATE_PORT: '0',
    LOOPGATE_DATABASE_URL: join(dbDir, 'loopgate.db'),
    LOOPGATE_LOG_LEVEL: 'warn',
    LOOPGATE_LOG_REQUESTS: 'false',
    LOOPGATE_POLICY_WATCH: 'false',
  }),
);
const bare = await measure('bare fastify', () => startChild([join(root, 'bench/bare-server.mjs')]), loopgate.moderateConnections);
rmSync(work, { recursive: true, force: true });

const ratio = loopgate.saturated.rps / bare.saturated.rps;
const peakRatio = loopgate.peak.rps / bare.peak.rps;
const n = (x) => Math.round(x).toLocaleString('en-US');
const row = (name, r) =>
  `| ${name} | ${n(r.saturated.rps)} | ${r.saturated.p50.toFixed(2)} / ${r.saturated.p99.toFixed(2)} | ${n(r.steady.rps)} | ${r.steady.p50.toFixed(2)} / ${r.steady.p99.toFixed(2)} | ${n(r.moderate.rps)} | ${r.moderate.p50.toFixed(2)} / ${r.moderate.p99.toFixed(2)} | ${r.saturated.non2xx + r.steady.non2xx + r.moderate.non2xx} |`;
const table = [
  `| server | saturated req/s | p50 / p99 ms | offered 10k/s: served req/s | p50 / p99 ms | moderate: req/s | p50 / p99 ms | non-2xx |`,
  `|---|---|---|---|---|---|---|---|`,
  row('bare Fastify (parse the body, answer)', bare),
  row('Loopgate POST /v1/decisions (SQLite, durable)', loopgate),
].join('\n');
const sweepTable = [
  `| server | ${PEAK_CONNECTIONS.map((c) => `${c} connections: req/s (p99 ms)`).join(' | ')} |`,
  `|---|${PEAK_CONNECTIONS.map(() => '---').join('|')}|`,
  ...[['bare Fastify', bare], ['Loopgate', loopgate]].map(([name, r]) => `| ${name} | ${r.sweep.map((p) => `${n(p.rps)} (${p.p99.toFixed(1)})${p.non2xx > 0 ? ` ${p.non2xx} non-2xx` : ''}`).join(' | ')} |`),
].join('\n');
const verdict = [
  `throughput ratio Loopgate / bare at ${CONNECTIONS} connections: ${ratio.toFixed(2)} (goal ≥ 0.50) — ${ratio >= 0.5 ? 'met' : 'NOT met'}`,
  `peak throughput ratio (each server at its best of ${PEAK_CONNECTIONS.join(', ')} connections): ${peakRatio.toFixed(2)} (${n(loopgate.peak.rps)} at ${loopgate.peak.connections} / ${n(bare.peak.rps)} at ${bare.peak.connections}) — ${peakRatio >= 0.5 ? 'met' : 'NOT met'}`,
  `p99 at ${Math.round(loopgate.steady.rps).toLocaleString('en-US')} decisions/s: ${loopgate.steady.p99.toFixed(2)} ms (goal ≤ 5 ms at 10,000/s) — ${loopgate.steady.p99 <= 5 && loopgate.steady.rps >= 9500 ? 'met' : 'NOT met'}`,
  `p99 at a moderate ${Math.round(loopgate.moderate.rps).toLocaleString('en-US')} decisions/s: ${loopgate.moderate.p99.toFixed(2)} ms (bare Fastify at the same rate: ${bare.moderate.p99.toFixed(2)} ms)`,
];
console.log(`\nbody ${averageBody} bytes on average, ${bodies.length} distinct events; wrk -t1, ${CONNECTIONS} connections saturated, ${PACED_CONNECTIONS} connections × ${PACED_DELAY} ms pacing; ${SECONDS}s each after ${WARMUP}s warm-up\n`);
const cores = availableParallelism();
const cpuRow = (name, c) =>
  `| ${name} | ${c.totalUs.toFixed(1)} | ${c.eventLoopUs.toFixed(1)} | ${c.otherThreadsUs.slice(0, 4).map((u) => u.toFixed(1)).join(', ')} | ${n((cores * 1e6) / c.totalUs)} |`;
const cpuTable = [
  `| server (saturated run) | CPU µs per request, in all | on the event loop | busiest other threads | ceiling on ${cores} cores, req/s |`,
  `|---|---|---|---|---|`,
  cpuRow('bare Fastify', bare.saturated.cpu),
  cpuRow('Loopgate', loopgate.saturated.cpu),
].join('\n');
const cpuRatio = bare.saturated.cpu.totalUs / loopgate.saturated.cpu.totalUs;
console.log(table);
console.log(`\nPeak search (the saturated load with more connections in flight):\n`);
console.log(sweepTable);
console.log(`\nCPU per request (user + system time of every thread of the server, /proc; the ceiling is what ${cores} cores could serve at that cost with nothing else running):\n`);
console.log(cpuTable);
console.log(`\n${verdict.join('\n')}`);
console.log(`CPU cost ratio bare / Loopgate: ${cpuRatio.toFixed(2)} (a 0.5 throughput ratio on a CPU-bound machine needs about 0.5)`);

mkdirSync(join(root, 'bench/results'), { recursive: true });
const result = { when: new Date().toISOString(), node: process.version, cores, seconds: SECONDS, averageBody, bare, loopgate, ratio, peakRatio, cpuRatio };
for (const r of [bare.saturated, bare.steady, bare.moderate, loopgate.saturated, loopgate.steady, loopgate.moderate]) delete r.raw;
writeFileSync(join(root, 'bench/results/decisions.json'), `${JSON.stringify(result, null, 2)}\n`);
mkdirSync(join(root, 'docs/img'), { recursive: true });
barChart(join(root, 'docs/img/bench-decisions.svg'), `Decisions: Loopgate vs a bare Fastify endpoint (one process, same run)`, [
  {
    label: `Throughput at saturation, ${CONNECTIONS} connections (requests/s, higher is better)`,
    bars: [
      { name: 'bare Fastify', value: bare.saturated.rps, text: Math.round(bare.saturated.rps).toLocaleString('en-US') },
      { name: 'Loopgate', value: loopgate.saturated.rps, text: `${Math.round(loopgate.saturated.rps).toLocaleString('en-US')} (${ratio.toFixed(2)}×)` },
    ],
    target: bare.saturated.rps * 0.5,
    targetLabel: 'goal: 0.5× bare',
  },
  {
    label: `Peak throughput, best of ${PEAK_CONNECTIONS.join(' / ')} connections (requests/s)`,
    bars: [
      { name: 'bare Fastify', value: bare.peak.rps, text: `${n(bare.peak.rps)} at ${bare.peak.connections}` },
      { name: 'Loopgate', value: loopgate.peak.rps, text: `${n(loopgate.peak.rps)} at ${loopgate.peak.connections} (${peakRatio.toFixed(2)}×)` },
    ],
    target: bare.peak.rps * 0.5,
    targetLabel: 'goal: 0.5× bare',
  },
  {
    label: 'CPU per request in the saturated run (µs of user + system time, all threads; lower is better)',
    bars: [
      { name: 'bare Fastify', value: bare.saturated.cpu.totalUs, text: `${bare.saturated.cpu.totalUs.toFixed(0)} µs` },
      { name: 'Loopgate', value: loopgate.saturated.cpu.totalUs, text: `${loopgate.saturated.cpu.totalUs.toFixed(0)} µs` },
    ],
  },
  {
    label: `p99 latency at a moderate ~${Math.round(loopgate.moderate.rps).toLocaleString('en-US')} requests/s (ms, lower is better)`,
    bars: [
      { name: 'bare Fastify', value: bare.moderate.p99, text: `${bare.moderate.p99.toFixed(2)} ms` },
      { name: 'Loopgate', value: loopgate.moderate.p99, text: `${loopgate.moderate.p99.toFixed(2)} ms` },
    ],
    target: 5,
    targetLabel: '5 ms',
  },
  {
    label: 'p99 latency when ~10,000 requests/s are offered (ms, lower is better)',
    bars: [
      { name: 'bare Fastify', value: bare.steady.p99, text: `${bare.steady.p99.toFixed(2)} ms` },
      { name: 'Loopgate', value: loopgate.steady.p99, text: `${loopgate.steady.p99.toFixed(2)} ms` },
    ],
    target: 5,
    targetLabel: 'goal: 5 ms',
  },
]);
