import { describe, it, expect } from 'vitest';
import { GroupCommitter, type BatchWriter } from '../../src/store/group-commit.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits (on timers, so that I/O and immediates run) until `condition` holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await sleep(1);
  if (!condition()) throw new Error('condition not reached');
}

interface Options {
  /** How long a commit takes. */
  commitMs?: number;
  /** Which batches fail to commit. */
  fails?: (batch: string[]) => boolean;
  /** When true, each commit waits until the test calls `gates[i]()`. */
  manualCommit?: boolean;
}

/** A writer that records every batch and how many commits overlap. */
function instrumentedWriter(options: Options = {}) {
  const batches: string[][] = [];
  const gates: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const write: BatchWriter<string, string> = async (items) => {
    batches.push([...items]);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (options.manualCommit) await new Promise<void>((resolve) => gates.push(resolve));
      else await sleep(options.commitMs ?? 0);
      if (options.fails?.(items)) throw new Error(`commit failed: ${items.join(',')}`);
      return items.map((i) => `ok:${i}`);
    } finally {
      inFlight--;
    }
  };
  return {
    write,
    batches,
    gates,
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

describe('GroupCommitter', () => {
  it('commits items submitted in the same tick in one batch', async () => {
    const w = instrumentedWriter();
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    const results = await Promise.all(['a', 'b', 'c'].map((x) => gc.submit(x)));
    expect(w.batches).toEqual([['a', 'b', 'c']]);
    expect(results).toEqual(['ok:a', 'ok:b', 'ok:c']);
  });

  it('does not commit before the next turn of the event loop', async () => {
    const w = instrumentedWriter();
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    const p = gc.submit('a');
    expect(w.batches).toEqual([]);
    expect(gc.pending).toBe(1);
    await p;
    expect(w.batches).toEqual([['a']]);
  });

  it('acknowledges only once the commit has resolved', async () => {
    const w = instrumentedWriter({ manualCommit: true });
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    let acknowledged = false;
    const p = gc.submit('a').then(() => (acknowledged = true));
    await waitFor(() => w.gates.length === 1);
    await sleep(5);
    expect(acknowledged).toBe(false);
    w.gates[0]!();
    await p;
    expect(acknowledged).toBe(true);
  });

  it('splits batches at maxBatch, in submission order', async () => {
    const w = instrumentedWriter();
    const gc = new GroupCommitter(w.write, { maxBatch: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => gc.submit(x)));
    expect(w.batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('answers each caller with the result at its own position', async () => {
    const w = instrumentedWriter();
    const gc = new GroupCommitter(w.write, { maxBatch: 3 });
    const items = Array.from({ length: 10 }, (_, i) => `x${i}`);
    expect(await Promise.all(items.map((x) => gc.submit(x)))).toEqual(items.map((x) => `ok:${x}`));
  });

  it('groups items that arrive during a commit into the next batch', async () => {
    const w = instrumentedWriter({ manualCommit: true });
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    const first = gc.submit('a');
    await waitFor(() => w.gates.length === 1);
    const more = ['b', 'c', 'd'].map((x) => gc.submit(x));
    await sleep(5);
    expect(w.batches).toEqual([['a']]); // nothing else committed while the first batch is in flight
    w.gates[0]!();
    await first;
    await waitFor(() => w.gates.length === 2);
    w.gates[1]!();
    await Promise.all(more);
    expect(w.batches).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('never has more than one commit in flight and commits in submission order', async () => {
    const w = instrumentedWriter({ commitMs: 2 });
    const gc = new GroupCommitter(w.write, { maxBatch: 4 });
    const all: Array<Promise<string>> = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 6; i++) all.push(gc.submit(`r${round}i${i}`));
      await sleep(1);
    }
    await Promise.all(all);
    expect(w.maxInFlight).toBe(1);
    expect(w.batches.flat()).toEqual(Array.from({ length: 30 }, (_, k) => `r${Math.floor(k / 6)}i${k % 6}`));
    for (const b of w.batches) expect(b.length).toBeLessThanOrEqual(4);
  });

  it('retries a failing batch item by item, so one bad item rejects only its own caller', async () => {
    const w = instrumentedWriter({ fails: (batch) => batch.includes('bad') });
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    const settled = await Promise.allSettled(['a', 'bad', 'c'].map((x) => gc.submit(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe('commit failed: bad');
    expect(w.batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('rejects a failing single-item batch without retrying it', async () => {
    const w = instrumentedWriter({ fails: () => true });
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    await expect(gc.submit('a')).rejects.toThrow('commit failed: a');
    expect(w.batches).toEqual([['a']]);
  });

  it('keeps working after a failed commit', async () => {
    let failNext = true;
    const w = instrumentedWriter({ fails: () => (failNext ? ((failNext = false), true) : false) });
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    await expect(gc.submit('a')).rejects.toThrow();
    expect(await gc.submit('b')).toBe('ok:b');
  });

  it('drain() resolves only after everything queued is committed', async () => {
    const w = instrumentedWriter({ commitMs: 3 });
    const gc = new GroupCommitter(w.write, { maxBatch: 2 });
    const done: string[] = [];
    for (const x of ['a', 'b', 'c', 'd', 'e']) void gc.submit(x).then((r) => done.push(r));
    await gc.drain();
    expect(done.sort()).toEqual(['ok:a', 'ok:b', 'ok:c', 'ok:d', 'ok:e']);
    expect(gc.pending).toBe(0);
  });

  it('drain() also waits for failed items to be reported', async () => {
    const w = instrumentedWriter({ fails: (b) => b.includes('x'), commitMs: 1 });
    const gc = new GroupCommitter(w.write, { maxBatch: 10 });
    const outcomes: string[] = [];
    for (const x of ['a', 'x']) void gc.submit(x).then(() => outcomes.push(`${x}:ok`), () => outcomes.push(`${x}:failed`));
    await gc.drain();
    await sleep(0);
    expect(outcomes.sort()).toEqual(['a:ok', 'x:failed']);
  });

  it('accepts submissions made while callers are being answered', async () => {
    const w = instrumentedWriter();
    const gc = new GroupCommitter(w.write, { maxBatch: 100 });
    const second = gc.submit('a').then(() => gc.submit('b'));
    expect(await second).toBe('ok:b');
    expect(w.batches).toEqual([['a'], ['b']]);
  });
});
