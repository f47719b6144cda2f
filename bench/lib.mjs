// Shared pieces of the benchmarks: child servers, wrk runs and their parsing, SVG bar charts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  process.stderr.write('wrk is not installed; installing it from Debian (apt-get install -y wrk)\n');
  const r = spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('could not install wrk; install it (Debian package "wrk") and rerun');
}

/** Starts a server as a child process; `stdoutFile` keeps what it prints (V8's --trace-gc output goes there). */
export async function startChild(args, env = {}, { stdoutFile } = {}) {
  const stdout = stdoutFile === undefined ? 'ignore' : openSync(stdoutFile, 'w');
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += String(d)));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not start:\n${err}`)), 60_000);
    child.stderr.on('data', () => {
      const m = err.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}:\n${err}`)));
  });
  return {
    url,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** A PEP API key, created with the CLI as an operator would, in the database `env` names. */
export function createApiKey(root, env) {
  return execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'apikey', 'create', '--role', 'pep', '--label', 'bench'], { env, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();
}

/**
 * A wrk script that cycles through `bodies` (POST, JSON) or sends a bodiless GET, with the API key; `delay` (ms)
 * makes each connection wait between requests. Written to `file`.
 */
export function wrkScript(file, { bodies, apiKey, path = '/v1/decisions', method = 'POST', delay }) {
  const request =
    method === 'GET'
      ? `wrk.format("GET", "${path}", { ["Authorization"] = "Bearer ${apiKey}" })`
      : `wrk.format("POST", "${path}", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer ${apiKey}" }, b)`;
  const lua = [
    'local bodies = {',
    ...bodies.map((b) => `  [==[${b}]==],`),
    '}',
    'local requests = {}',
    'local i = 0',
    'function init(args)',
    '  for k, b in ipairs(bodies) do',
    `    requests[k] = ${request}`,
    '  end',
    'end',
    'function request()',
    '  i = i % #requests + 1',
    '  return requests[i]',
    'end',
    delay === undefined ? '' : `function delay() return ${delay} end`,
  ].join('\n');
  writeFileSync(file, lua);
  return file;
}

const UNIT = { us: 0.001, ms: 1, s: 1000 };

/** Runs wrk and returns requests/s and latency percentiles in milliseconds. */
export function wrk({ url, script, connections, seconds, threads = 1 }) {
  const r = spawnSync('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const pct = (p) => {
    const m = out.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm'));
    return m ? Number(m[1]) * UNIT[m[2]] : NaN;
  };
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? NaN);
  const errors = out.match(/Socket errors:.*/)?.[0] ?? '';
  return { rps, requests, p50: pct(50), p90: pct(90), p99: pct(99), non2xx, errors, raw: out };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU time (user + system, in ms) each thread of a process has used so far, by thread id (Linux /proc). */
export function threadCpu(pid) {
  const used = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after "pid (comm) ": state is the first, utime the 12th, stime the 13th (proc(5) fields 14 and 15).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      used.set(Number(tid), ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return used;
}

/**
 * CPU per request between two `threadCpu` readings of a server: in all, on its event loop (the main thread, whose
 * id is the process id) and in its busiest other threads (worker threads, garbage collection helpers).
 */
export function cpuPerRequest(pid, before, after, requests) {
  const perRequest = (ms) => (ms * 1000) / requests;
  const spent = [...after].map(([tid, ms]) => ({ tid, us: perRequest(ms - (before.get(tid) ?? 0)) })).filter((t) => t.us > 0);
  const total = spent.reduce((n, t) => n + t.us, 0);
  const eventLoop = spent.find((t) => t.tid === pid)?.us ?? 0;
  const others = spent.filter((t) => t.tid !== pid).sort((a, b) => b.us - a.us);
  return { totalUs: total, eventLoopUs: eventLoop, otherThreadsUs: others.map((t) => Math.round(t.us * 10) / 10) };
}

/** A horizontal bar chart as a standalone SVG: one group per metric, one bar per series. */
export function barChart(file, title, groups) {
  const width = 720;
  const barH = 22;
  const gap = 10;
  const left = 190;
  let y = 50;
  const parts = [];
  const colours = ['#8c8c8c', '#2b6cb0', '#c05621', '#2f855a'];
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${g.label}</text>`);
    y += 22;
    const max = Math.max(...g.bars.map((b) => b.value), g.target ?? 0) * 1.1 || 1;
    for (const [i, b] of g.bars.entries()) {
      const w = ((width - left - 120) * b.value) / max;
      parts.push(`<text x="20" y="${y + 15}">${b.name}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colours[i % colours.length]}"/>`);
      parts.push(`<text x="${left + w + 6}" y="${y + 15}">${b.text}</text>`);
      y += barH + 4;
    }
    if (g.target !== undefined) {
      const x = left + ((width - left - 120) * g.target) / max;
      parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y - g.bars.length * (barH + 4) - 4}" y2="${y}" stroke="#c53030" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${(x + 4).toFixed(1)}" y="${y + 12}" fill="#c53030" font-size="11">${g.targetLabel}</text>`);
      y += 14;
    }
    y += gap + 8;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="28" font-size="16" font-weight="bold">${title}</text>
${parts.join('\n')}
</svg>\n`;
  writeFileSync(file, svg);
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
];
const NETWORKS = ['81.2.69', '90.84.10', '8.8.4', '200.160.2', '1.1.1', '62.210.16', '85.214.132', '151.101.1'];

/** `count` distinct login events of 500 people, each with a few IPs, user agents and devices, as a day of traffic looks. */
export function syntheticLogins(count = 2000) {
  return Array.from({ length: count }, (_, i) => {
    const person = i % 500;
    return {
      type: 'login',
      subject: { id: `user-${person}`, department: ['finance', 'sales', 'it', 'hr'][person % 4], region: 'EU' },
      context: {
        ip: `${NETWORKS[(person + (i % 3 === 0 ? 1 : 0)) % NETWORKS.length]}.${(person % 200) + 1}`,
        user_agent: USER_AGENTS[(person + (i % 7 === 0 ? 1 : 0)) % USER_AGENTS.length],
        device_id: `device-${person}-${i % 5 === 0 ? 2 : 1}`,
      },
      result: 'success',
      method: 'password',
    };
  });
}
