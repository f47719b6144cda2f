/**
 * The mouse evaluation on a slice of the Balabit data (users 7 and 9), extracted to a temporary directory at run
 * time: the data set is never copied into the project.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION_STEPS, runMouseEval, type MouseEvalResult } from '../../src/cli/commands/eval-mouse.js';

const ARCHIVE = resolve(import.meta.dirname, '../../../shared/datasets/balabit-mouse/balabit-mouse.tar.xz');
const USERS = ['user7', 'user9'];

describe.skipIf(!existsSync(ARCHIVE))('eval mouse (Balabit, users 7 and 9)', () => {
  let tmp: string;
  let data: string;
  let result: MouseEvalResult;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'loopgate-mouse-'));
    const members = [
      'balabit-mouse/labels-dev.csv',
      ...USERS.flatMap((u) => [`balabit-mouse/training_files/${u}/*`, `balabit-mouse/test_files/${u}/*`]),
    ];
    execFileSync('tar', ['xJf', ARCHIVE, '-C', tmp, '--wildcards', ...members]);
    data = join(tmp, 'balabit-mouse');
    result = await runMouseEval({ data, labels: join(data, 'labels-dev.csv'), scoresOut: join(tmp, 'scores.csv') });
  });

  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('learns both users and scores every one of their test sessions', () => {
    expect(result.users).toEqual(USERS);
    for (const u of USERS) expect(result.trainingActions[u]).toBeGreaterThan(100);
    for (const u of USERS) {
      const files = readdirSync(join(data, 'test_files', u)).sort();
      const scored = result.sessions.filter((s) => s.user === u).map((s) => s.filename).sort();
      expect(scored).toEqual(files);
    }
    for (const s of result.sessions) {
      expect(Number.isFinite(s.twoClass)).toBe(true);
      expect(Number.isFinite(s.oneClass)).toBe(true);
      expect(s.twoClassByK).toHaveLength(ACTION_STEPS.length);
    }
  });

  it('writes filename,user,score for every test session', () => {
    const lines = readFileSync(join(tmp, 'scores.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('filename,user,score');
    expect(lines).toHaveLength(result.sessions.length + 1);
    expect(lines[1]).toMatch(/^session_\d+,user(7|9),-?[\d.e+-]+$/);
  });

  it('reports pooled, per-user and by-actions AUC well above chance', () => {
    expect(result.labelled).toBe(result.sessions.filter((s) => s.illegal !== undefined).length);
    expect(result.labelled).toBeGreaterThan(100);
    const pooled = result.pooled!;
    for (const auc of [pooled.twoClass, pooled.oneClass]) {
      expect(auc).toBeGreaterThanOrEqual(0);
      expect(auc).toBeLessThanOrEqual(1);
    }
    // The one-class model needs only the user's own actions: it separates these two users' impostors well. The
    // two-class model here has a single other user as negatives, which says little about the real impostors (on the
    // full data, with nine other users, it is the stronger one), so only its range is checked.
    expect(pooled.oneClass).toBeGreaterThan(0.8);
    expect(Object.keys(result.perUser!).sort()).toEqual(USERS);
    expect(result.byActions!.map((r) => r.k)).toEqual([...ACTION_STEPS]);
    for (const r of result.byActions!) {
      expect(r.twoClass).toBeGreaterThanOrEqual(0);
      expect(r.twoClass).toBeLessThanOrEqual(1);
    }
  });
});
