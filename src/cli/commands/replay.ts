/**
 * `loopgate replay FILE.jsonl`: bulk events through the same pipeline as the API, for importing history (which
 * builds baselines from trusted outcomes) or, with --dry-run, for seeing what a policy would decide.
 * Events are processed in file order with a bounded number in flight, so they share group commits.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { LoopgateError } from '../../core/errors.js';
import type { Outcome } from '../../core/policy/types.js';
import { Progress } from '../progress.js';
import { configFrom, eventOf, openForCommand, type CommonOptions } from './shared.js';

interface ReplayOptions extends CommonOptions {
  dryRun?: boolean;
  concurrency: number;
  json?: boolean;
}

export interface ReplaySummary {
  file: string;
  events: number;
  decided: number;
  invalid: number;
  failed: number;
  outcomes: Record<Outcome, number>;
  levels: Record<string, number>;
  learned: number;
  elapsed_seconds: number;
  per_second: number;
  dry_run: boolean;
  first_errors: Array<{ line: number; error: string }>;
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of createReadStream(file)) {
    const buf = chunk as Buffer;
    for (let i = 0; i < buf.length; i++) if (buf[i] === 10) n++;
    if (buf.length > 0) last = buf[buf.length - 1]!;
  }
  return last === 10 ? n : n + 1;
}

export async function runReplay(file: string, options: ReplayOptions): Promise<void> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', '--concurrency must be a whole number ≥ 1');
  }
  const total = await countLines(file);
  const lg = await openForCommand(configFrom(options));
  const summary: ReplaySummary = {
    file,
    events: 0,
    decided: 0,
    invalid: 0,
    failed: 0,
    outcomes: { allow: 0, challenge: 0, review: 0, deny: 0 },
    levels: {},
    learned: 0,
    elapsed_seconds: 0,
    per_second: 0,
    dry_run: options.dryRun === true,
    first_errors: [],
  };
  const progress = new Progress('replay', 'events', total);
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let lineNo = 0;
  try {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      summary.events++;
      const at = lineNo;
      const task = (async () => {
        try {
          const { decision } = await lg.decisions.decide(eventOf(JSON.parse(line)), { dryRun: options.dryRun === true });
          summary.decided++;
          summary.outcomes[decision.outcome]++;
          summary.levels[decision.risk.level] = (summary.levels[decision.risk.level] ?? 0) + 1;
          if (decision.learned) summary.learned++;
        } catch (e) {
          const invalid = e instanceof SyntaxError || (e instanceof LoopgateError && e.status < 500);
          if (invalid) summary.invalid++;
          else summary.failed++;
          recordError(summary.first_errors, { line: at, error: e instanceof Error ? e.message : String(e) });
        }
        progress.tick(summary.decided + summary.invalid + summary.failed);
      })();
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    progress.stop();
    await lg.close();
  }
  summary.elapsed_seconds = Math.round((performance.now() - started) / 10) / 100;
  summary.per_second = summary.elapsed_seconds > 0 ? Math.round(summary.events / summary.elapsed_seconds) : summary.events;
  if (options.json === true) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(formatSummary(summary));
  if (summary.failed > 0) process.exitCode = 1;
}

function formatSummary(s: ReplaySummary): string {
  const pct = (n: number) => (s.decided === 0 ? '0%' : `${((100 * n) / s.decided).toFixed(1)}%`);
  const lines = [
    `${s.file}: ${s.events.toLocaleString('en-US')} events in ${s.elapsed_seconds}s (${s.per_second.toLocaleString('en-US')}/s)${s.dry_run ? ' — dry run, nothing stored' : ''}`,
    `  decided ${s.decided}, invalid ${s.invalid}, failed ${s.failed}${s.dry_run ? '' : `, learned into baselines ${s.learned}`}`,
    `  outcomes: ${Object.entries(s.outcomes).map(([o, n]) => `${o} ${n} (${pct(n)})`).join(', ')}`,
    `  risk levels: ${Object.entries(s.levels).map(([l, n]) => `${l} ${n}`).join(', ') || 'none'}`,
  ];
  for (const e of s.first_errors) lines.push(`  line ${e.line}: ${e.error}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Keeps the first errors by line, not by when they failed: events are decided concurrently (in the scoring thread a
 * bad event fails after a later line that is not JSON at all).
 */
function recordError(first: Array<{ line: number; error: string }>, error: { line: number; error: string }): void {
  first.push(error);
  first.sort((a, b) => a.line - b.line);
  if (first.length > FIRST_ERRORS) first.length = FIRST_ERRORS;
}

const FIRST_ERRORS = 10;
