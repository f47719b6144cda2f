import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { evaluateKeystroke, parseKeystrokeCsv, runEvalKeystroke } from '../../src/cli/commands/eval.js';

// The public data set is read from ../shared/datasets (never copied into the project); the test writes a slice of it
// (the first 8 users of keypad.csv) to a temporary file.
const KEYPAD = new URL('../../../shared/datasets/keystroke-monaco/keypad.csv', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'loopgate-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function firstUsers(csv: string, n: number): string {
  const lines = csv.split('\n');
  const seen = new Set<string>();
  const out = [lines[0]!];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const user = line.slice(0, line.indexOf(','));
    if (!seen.has(user)) {
      if (seen.size === n) break;
      seen.add(user);
    }
    out.push(line);
  }
  return `${out.join('\n')}\n`;
}

describe('loopgate eval keystroke', () => {
  const slice = join(dir, 'keypad-8.csv');
  writeFileSync(slice, firstUsers(readFileSync(KEYPAD, 'utf8'), 8));

  it('prints {detectors: [{name, mean_eer, sd_eer, zero_miss_far, users}]} with --json, and per-user rows with --csv', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const perUser = join(dir, 'per-user.csv');
    try {
      await runEvalKeystroke({ events: slice, train: 10, json: true, csv: perUser });
    } finally {
      spy.mockRestore();
    }
    const result = JSON.parse(out.join('')) as { detectors: Array<Record<string, unknown>> };
    expect(Object.keys(result)).toEqual(['detectors']);
    expect(result.detectors.map((d) => d.name)).toEqual(['scaled-manhattan', 'loopgate']);
    for (const d of result.detectors) {
      expect(Object.keys(d).sort()).toEqual(['mean_eer', 'name', 'sd_eer', 'users', 'zero_miss_far']);
      expect(d.users).toBe(8);
      for (const k of ['mean_eer', 'sd_eer', 'zero_miss_far'] as const) {
        expect(d[k]).toBeGreaterThanOrEqual(0);
        expect(d[k]).toBeLessThanOrEqual(1);
      }
    }
    const rows = readFileSync(perUser, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('detector,user,genuine,impostors,eer,zero_miss_far');
    expect(rows).toHaveLength(1 + 2 * 8);
    // 20 samples per user: 10 enrol, 10 genuine tests; 7 other users × 5 impostor samples.
    expect(rows[1]).toMatch(/^scaled-manhattan,0,10,35,/);
  });

  it('the Loopgate detector has a lower mean EER than scaled Manhattan on the slice', () => {
    const result = evaluateKeystroke(parseKeystrokeCsv(readFileSync(slice, 'utf8')), { train: 10 });
    const [sm, lg] = result.detectors;
    for (const d of result.detectors) for (const u of d.per_user) expect(u.eer).toBeGreaterThanOrEqual(0), expect(u.eer).toBeLessThanOrEqual(1);
    expect(lg!.mean_eer).toBeLessThan(sm!.mean_eer);
  });

  it('rejects a --train that leaves no genuine test', async () => {
    await expect(runEvalKeystroke({ events: slice, train: 40, json: true })).rejects.toThrow(/lower --train/);
  });
});
