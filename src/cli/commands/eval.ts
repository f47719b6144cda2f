/**
 * `loopgate eval …`: evaluate the behavioural detectors on public data sets (docs/evaluation.md).
 *
 * `eval keystroke --events FILE.csv`: the Killourhy & Maxion (2009) protocol. Per user (in order of first appearance),
 * samples are the sessions in file order; the first N samples enrol, the remaining ones are genuine tests, and the
 * first 5 samples of every other user are impostor tests. The EER is found per user by linear interpolation on the
 * ROC, then averaged (with its standard deviation) over users; the zero-miss false-alarm rate likewise.
 * Users with no genuine test sample (≤ N samples) are skipped.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { LoopgateError } from '../../core/errors.js';
import {
  keystrokeDetectors,
  populationModel,
  type AlignMode,
  type KeyEvent,
  type KeySample,
  type KeystrokeDetector,
} from '../../core/behaviour/keystroke.js';
import { eer, zeroMissFalseAlarmRate } from '../../core/behaviour/roc.js';
import { Progress } from '../progress.js';

export const IMPOSTOR_SAMPLES_PER_USER = 5;

export interface KeystrokeUserSamples {
  user: string;
  samples: KeySample[];
}

/** Parse a one-row-per-key-event CSV (columns user, session, keyname, timepress, timerelease; others ignored). */
export function parseKeystrokeCsv(text: string, roundMs?: number): KeystrokeUserSamples[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `the CSV has no "${name}" column (header: ${header.join(',')})`);
    return i;
  };
  const [cu, cs, ck, cp, cr] = [col('user'), col('session'), col('keyname'), col('timepress'), col('timerelease')];
  const round = roundMs === undefined ? (x: number) => x : (x: number) => Math.round(x / roundMs) * roundMs;
  const users = new Map<string, Map<string, KeyEvent[]>>();
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    const f = line.split(',');
    const press = Number(f[cp]);
    const release = Number(f[cr]);
    if (!Number.isFinite(press) || !Number.isFinite(release)) {
      throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `line ${n + 1}: timepress/timerelease must be numbers`);
    }
    const user = f[cu]!;
    const session = f[cs]!;
    let sessions = users.get(user);
    if (sessions === undefined) users.set(user, (sessions = new Map()));
    let events = sessions.get(session);
    if (events === undefined) sessions.set(session, (events = []));
    events.push({ key: f[ck] ?? null, press: round(press), release: round(release) });
  }
  return [...users].map(([user, sessions]) => ({ user, samples: [...sessions.values()] }));
}

export interface KeystrokeUserResult {
  user: string;
  genuine: number;
  impostors: number;
  eer: number;
  zero_miss_far: number;
}

export interface KeystrokeDetectorResult {
  name: string;
  mean_eer: number;
  sd_eer: number;
  zero_miss_far: number;
  users: number;
  per_user: KeystrokeUserResult[];
}

export interface KeystrokeEvaluation {
  train: number;
  mode: AlignMode;
  detectors: KeystrokeDetectorResult[];
}

/** The protocol of the module header, for every detector; `onUser` reports progress. */
export function evaluateKeystroke(
  data: readonly KeystrokeUserSamples[],
  options: { train: number; mode?: AlignMode; detectors?: readonly KeystrokeDetector[]; onUser?: (done: number, total: number) => void },
): KeystrokeEvaluation {
  const train = options.train;
  const mode = options.mode ?? 'keyed';
  const detectors = options.detectors ?? keystrokeDetectors;
  const population = populationModel(
    data.map((u) => u.samples.slice(0, train)),
    mode,
  );
  const perDetector = detectors.map(() => [] as KeystrokeUserResult[]);
  data.forEach((u, ui) => {
    const genuineSamples = u.samples.slice(train);
    if (u.samples.length < train || genuineSamples.length === 0) return;
    const impostorSamples = data.flatMap((o, oi) => (oi === ui ? [] : o.samples.slice(0, IMPOSTOR_SAMPLES_PER_USER)));
    if (impostorSamples.length === 0) return;
    detectors.forEach((d, di) => {
      const model = d.enrol(u.samples.slice(0, train), { mode, population });
      const g = genuineSamples.map((s) => model.score(s));
      const im = impostorSamples.map((s) => model.score(s));
      perDetector[di]!.push({ user: u.user, genuine: g.length, impostors: im.length, eer: eer(g, im), zero_miss_far: zeroMissFalseAlarmRate(g, im) });
    });
    options.onUser?.(ui + 1, data.length);
  });
  return {
    train,
    mode,
    detectors: detectors.map((d, di) => {
      const rows = perDetector[di]!;
      const n = rows.length;
      const mean = n === 0 ? NaN : rows.reduce((a, r) => a + r.eer, 0) / n;
      // Sample standard deviation over users (n − 1), as Killourhy & Maxion report it.
      const sd = n < 2 ? 0 : Math.sqrt(rows.reduce((a, r) => a + (r.eer - mean) ** 2, 0) / (n - 1));
      const zm = n === 0 ? NaN : rows.reduce((a, r) => a + r.zero_miss_far, 0) / n;
      return { name: d.name, mean_eer: mean, sd_eer: sd, zero_miss_far: zm, users: n, per_user: rows };
    }),
  };
}

interface EvalKeystrokeOptions {
  events: string;
  train: number;
  round?: number;
  csv?: string;
  json?: boolean;
  positional?: boolean;
}

export async function runEvalKeystroke(options: EvalKeystrokeOptions): Promise<void> {
  if (!Number.isInteger(options.train) || options.train < 2) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', '--train must be a whole number ≥ 2');
  }
  if (options.round !== undefined && !(Number.isFinite(options.round) && options.round > 0)) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', '--round must be a positive number of milliseconds');
  }
  const text = await readFile(options.events, 'utf8').catch((e: unknown) => {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `cannot read ${options.events}: ${e instanceof Error ? e.message : String(e)}`);
  });
  const data = parseKeystrokeCsv(text, options.round);
  const progress = new Progress('eval keystroke', 'users', data.length);
  let result: KeystrokeEvaluation;
  try {
    result = evaluateKeystroke(data, { train: options.train, mode: options.positional === true ? 'positional' : 'keyed', onUser: (done) => progress.tick(done) });
  } finally {
    progress.stop();
  }
  if (result.detectors.every((d) => d.users === 0)) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `no user has more than ${options.train} samples: lower --train`);
  }
  if (options.csv !== undefined) {
    const rows = ['detector,user,genuine,impostors,eer,zero_miss_far'];
    for (const d of result.detectors) for (const r of d.per_user) rows.push(`${d.name},${r.user},${r.genuine},${r.impostors},${r.eer},${r.zero_miss_far}`);
    await writeFile(options.csv, `${rows.join('\n')}\n`);
  }
  if (options.json === true) {
    const detectors = result.detectors.map((d) => ({ name: d.name, mean_eer: d.mean_eer, sd_eer: d.sd_eer, zero_miss_far: d.zero_miss_far, users: d.users }));
    process.stdout.write(`${JSON.stringify({ detectors }, null, 2)}\n`);
    return;
  }
  const f = (x: number) => x.toFixed(4);
  const w = Math.max(8, ...result.detectors.map((d) => d.name.length));
  const lines = [
    `${options.events}: ${data.length} users, train ${result.train}, impostors: first ${IMPOSTOR_SAMPLES_PER_USER} samples of each other user${options.round !== undefined ? `, timestamps rounded to ${options.round} ms` : ''}${result.mode === 'positional' ? ', positional' : ''}`,
    `${'detector'.padEnd(w)}  users  mean EER  sd EER  zero-miss FAR`,
    ...result.detectors.map((d) => `${d.name.padEnd(w)}  ${String(d.users).padStart(5)}  ${f(d.mean_eer).padStart(8)}  ${f(d.sd_eer).padStart(6)}  ${f(d.zero_miss_far).padStart(13)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
