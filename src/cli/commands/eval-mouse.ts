/**
 * `loopgate eval mouse --data DIR [--labels FILE] [--scores-out FILE]`: the Balabit mouse-dynamics protocol.
 * Each user is learned from DIR/training_files/userN only; every DIR/test_files/userN/session_* gets an anomaly
 * score (higher = more likely not userN). With labels (filename,user,is_illegal) it reports the pooled and per-user
 * AUC of the two-class and the one-class model, and how the AUC grows with the number of actions seen.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SEGMENT_OPTIONS, MOUSE_FEATURE_NAMES, parseMouseCsv, sessionFeatures } from '../../core/behaviour/mouse.js';
import {
  aucMannWhitney,
  fitLogistic,
  fitOneClass,
  oneClassSessionScore,
  twoClassSessionScore,
  type LogisticModel,
  type OneClassModel,
} from '../../core/behaviour/mouse-model.js';
import {
  emptyPointerProfile,
  foldPointer,
  POINTER_POPULATION_CAP,
  POINTER_SUBJECT_CAP,
  scorePointer,
  type PointerProfile,
} from '../../core/behaviour/pointer-profile.js';
import { Progress } from '../progress.js';

export interface MouseEvalOptions {
  /** The unpacked data set: training_files/ and test_files/. */
  data: string;
  /** labels CSV: filename,user,is_illegal. */
  labels?: string;
  /** Writes filename,user,score (two-class score) for every test session. */
  scoresOut?: string;
  /** At most this many negatives (other users' actions) per user model, taken evenly; default 40,000. */
  maxNegatives?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface SessionScore {
  filename: string;
  user: string;
  actions: number;
  twoClass: number;
  oneClass: number;
  /** The production model: the subject's pointer profile against the population's (pointer-profile.ts). */
  profile: number;
  /** Scores from the first k actions only, for k in ACTION_STEPS (the last, 'all', is the full score). */
  twoClassByK: number[];
  oneClassByK: number[];
  profileByK: number[];
  illegal?: boolean;
}

export interface AucPair {
  twoClass: number;
  oneClass: number;
  profile: number;
}

export interface MouseEvalResult {
  users: string[];
  trainingActions: Record<string, number>;
  sessions: SessionScore[];
  labelled: number;
  pooled?: AucPair;
  perUser?: Record<string, AucPair & { sessions: number; illegal: number }>;
  /** AUC using only the first k actions of each labelled session. */
  byActions?: Array<{ k: number | 'all' } & AucPair>;
  seconds: number;
}

export const ACTION_STEPS: ReadonlyArray<number | 'all'> = [1, 2, 5, 10, 20, 'all'];

/** Sub-directories (following symbolic links, so a slice of the data set can be linked together). */
async function listDirs(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const name of await readdir(dir)) {
    if ((await stat(join(dir, name)).catch(() => undefined))?.isDirectory() === true) names.push(name);
  }
  return names.sort();
}

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const name of await readdir(dir)) {
    if ((await stat(join(dir, name)).catch(() => undefined))?.isFile() === true) names.push(name);
  }
  return names.sort();
}

async function featuresOf(file: string): Promise<number[][]> {
  return sessionFeatures(parseMouseCsv(await readFile(file, 'utf8')), DEFAULT_SEGMENT_OPTIONS);
}

/** Every stride-th row, so at most max rows. */
function thin<T>(rows: readonly T[], max: number): T[] {
  if (rows.length <= max) return [...rows];
  const out: T[] = [];
  const stride = rows.length / max;
  for (let i = 0; i < max; i++) out.push(rows[Math.floor(i * stride)]!);
  return out;
}

export async function readLabels(file: string): Promise<Map<string, { user: string; illegal: boolean }>> {
  const labels = new Map<string, { user: string; illegal: boolean }>();
  const lines = (await readFile(file, 'utf8')).split('\n');
  for (const line of lines.slice(1)) {
    const [filename, user, illegal] = line.trim().split(',');
    if (filename === undefined || filename === '' || user === undefined || illegal === undefined) continue;
    labels.set(`${user}/${filename}`, { user, illegal: illegal.trim() === '1' });
  }
  return labels;
}

export async function runMouseEval(options: MouseEvalOptions): Promise<MouseEvalResult> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const trainDir = join(options.data, 'training_files');
  const testDir = join(options.data, 'test_files');
  const users = await listDirs(trainDir);

  // Training actions of every user.
  const training = new Map<string, number[][]>();
  const profiles = new Map<string, PointerProfile>();
  const population = emptyPointerProfile(MOUSE_FEATURE_NAMES.length);
  const trainFiles: Array<[string, string]> = [];
  for (const u of users) for (const f of await listFiles(join(trainDir, u))) trainFiles.push([u, f]);
  let done = 0;
  for (const [u, f] of trainFiles) {
    const rows = await featuresOf(join(trainDir, u, f));
    const list = training.get(u) ?? [];
    for (const r of rows) list.push(r);
    training.set(u, list);
    // The production profiles fold session by session, as trusted logins do.
    const profile = profiles.get(u) ?? emptyPointerProfile(MOUSE_FEATURE_NAMES.length);
    foldPointer(profile, rows, POINTER_SUBJECT_CAP);
    profiles.set(u, profile);
    foldPointer(population, rows, POINTER_POPULATION_CAP);
    progress('reading training sessions', ++done, trainFiles.length);
  }

  // One two-class and one one-class model per user.
  const twoClass = new Map<string, LogisticModel>();
  const oneClass = new Map<string, OneClassModel>();
  const maxNeg = options.maxNegatives ?? 40_000;
  done = 0;
  for (const u of users) {
    const pos = training.get(u) ?? [];
    const others: number[][] = [];
    for (const v of users) if (v !== u) for (const r of training.get(v) ?? []) others.push(r);
    twoClass.set(u, fitLogistic(pos, thin(others, maxNeg)));
    oneClass.set(u, fitOneClass(pos));
    progress('learning users', ++done, users.length);
  }

  const labels = options.labels !== undefined ? await readLabels(options.labels) : undefined;
  const testUsers = (await listDirs(testDir)).filter((u) => twoClass.has(u));
  const testFiles: Array<[string, string]> = [];
  for (const u of testUsers) for (const f of await listFiles(join(testDir, u))) testFiles.push([u, f]);
  const sessions: SessionScore[] = [];
  done = 0;
  for (const [u, f] of testFiles) {
    const rows = await featuresOf(join(testDir, u, f));
    const m2 = twoClass.get(u)!;
    const m1 = oneClass.get(u)!;
    const mp = profiles.get(u)!;
    const prefix = (k: number | 'all') => (k === 'all' ? rows : rows.slice(0, k));
    const s: SessionScore = {
      filename: f,
      user: u,
      actions: rows.length,
      twoClass: twoClassSessionScore(m2, rows),
      oneClass: oneClassSessionScore(m1, rows),
      profile: scorePointer(mp, population, rows),
      twoClassByK: ACTION_STEPS.map((k) => twoClassSessionScore(m2, prefix(k))),
      oneClassByK: ACTION_STEPS.map((k) => oneClassSessionScore(m1, prefix(k))),
      profileByK: ACTION_STEPS.map((k) => scorePointer(mp, population, prefix(k))),
    };
    const label = labels?.get(`${u}/${f}`);
    if (label !== undefined) s.illegal = label.illegal;
    sessions.push(s);
    progress('scoring test sessions', ++done, testFiles.length);
  }

  if (options.scoresOut !== undefined) {
    await writeFile(options.scoresOut, `filename,user,score\n${sessions.map((s) => `${s.filename},${s.user},${s.twoClass}`).join('\n')}\n`);
  }

  const trainingActions: Record<string, number> = {};
  for (const u of users) trainingActions[u] = training.get(u)?.length ?? 0;
  const result: MouseEvalResult = { users, trainingActions, sessions, labelled: 0, seconds: 0 };
  const labelled = sessions.filter((s) => s.illegal !== undefined);
  result.labelled = labelled.length;
  if (labels !== undefined && labelled.length > 0) {
    const y = labelled.map((s) => s.illegal!);
    result.pooled = {
      twoClass: aucMannWhitney(labelled.map((s) => s.twoClass), y),
      oneClass: aucMannWhitney(labelled.map((s) => s.oneClass), y),
      profile: aucMannWhitney(labelled.map((s) => s.profile), y),
    };
    result.perUser = {};
    for (const u of users) {
      const mine = labelled.filter((s) => s.user === u);
      if (mine.length === 0) continue;
      const yu = mine.map((s) => s.illegal!);
      result.perUser[u] = {
        sessions: mine.length,
        illegal: yu.filter(Boolean).length,
        twoClass: aucMannWhitney(mine.map((s) => s.twoClass), yu),
        oneClass: aucMannWhitney(mine.map((s) => s.oneClass), yu),
        profile: aucMannWhitney(mine.map((s) => s.profile), yu),
      };
    }
    result.byActions = ACTION_STEPS.map((k, i) => ({
      k,
      twoClass: aucMannWhitney(labelled.map((s) => s.twoClassByK[i]!), y),
      oneClass: aucMannWhitney(labelled.map((s) => s.oneClassByK[i]!), y),
      profile: aucMannWhitney(labelled.map((s) => s.profileByK[i]!), y),
    }));
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

const fmt = (x: number): string => (Number.isNaN(x) ? '  n/a' : x.toFixed(3));

/** The CLI action for `loopgate eval mouse`: options { data, labels?, scoresOut?, json? }. */
export async function mouseEvalCommand(options: { data: string; labels?: string; scoresOut?: string; json?: boolean }): Promise<void> {
  let bar: Progress | undefined;
  let stage = '';
  const result = await runMouseEval({
    data: options.data,
    ...(options.labels !== undefined ? { labels: options.labels } : {}),
    ...(options.scoresOut !== undefined ? { scoresOut: options.scoresOut } : {}),
    onProgress: (s, done, total) => {
      if (s !== stage) {
        bar?.stop();
        stage = s;
        bar = new Progress(s, s.includes('users') ? 'users' : 'sessions', total);
      }
      bar?.tick(done);
    },
  });
  bar?.stop();
  if (options.json === true) {
    const { sessions, ...summary } = result;
    process.stdout.write(`${JSON.stringify({ ...summary, sessions: sessions.length }, null, 2)}\n`);
    return;
  }
  const out: string[] = [];
  out.push(`users: ${result.users.length}, test sessions scored: ${result.sessions.length}, labelled: ${result.labelled}, ${result.seconds.toFixed(1)} s`);
  if (result.pooled !== undefined && result.perUser !== undefined && result.byActions !== undefined) {
    out.push('', 'AUC            two-class  one-class  profile');
    out.push(`pooled             ${fmt(result.pooled.twoClass)}      ${fmt(result.pooled.oneClass)}    ${fmt(result.pooled.profile)}`);
    for (const [u, a] of Object.entries(result.perUser)) {
      out.push(`${u.padEnd(8)} ${`${a.sessions}/${a.illegal}`.padEnd(8)}  ${fmt(a.twoClass)}      ${fmt(a.oneClass)}    ${fmt(a.profile)}`);
    }
    out.push('', 'actions seen   two-class  one-class  profile');
    for (const r of result.byActions) out.push(`${String(r.k).padEnd(14)} ${fmt(r.twoClass)}      ${fmt(r.oneClass)}    ${fmt(r.profile)}`);
  }
  if (options.scoresOut !== undefined) out.push('', `scores written to ${options.scoresOut}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
