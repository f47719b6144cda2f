/**
 * The messages between the main thread and the scoring thread, and errors as plain data (a LoopgateError keeps
 * its code and field errors across the boundary, so a bad event is still a 400 naming each field).
 */
import type { GeoSpec } from '../adapters/geoip.js';
import { LoopgateError, isErrorCode, type FieldError } from '../core/errors.js';
import type { PolicySource } from '../core/policy/load.js';
import type { Counts, Observation } from '../core/risk/baseline.js';
import type { BaselineException } from '../core/risk/exceptions.js';
import type { Attempt } from '../core/risk/velocity.js';
import type { BaselineOptions } from './baselines.js';
import type { ScoreRequest, Scored, ScoringSettings } from './scoring.js';

/** What the main thread gives the scoring thread at start. */
export interface ScoringThreadData {
  settings: ScoringSettings;
  geo: GeoSpec;
  baselines: Pick<BaselineOptions, 'decay' | 'subjectValueCap' | 'globalValueCap' | 'behaviour' | 'cacheSize'>;
  /** The global statistics, as they are (structured clone: exact, unlike the snapshot format). */
  global: Counts;
  exceptions: Array<[string, BaselineException[]]>;
  bundle: PolicySource[];
}

/**
 * Messages travel in batches: everything one side posts during a turn of its event loop goes as one message
 * (in order), because a message costs a wake-up and a dispatch on the other side whatever its size.
 */
export class Outbox<M> {
  private queue: M[] = [];
  private scheduled = false;

  /**
   * @param maxBatch sent at once when this many are queued, so that the other side starts on the first ones
   *   while this side works on the rest (a batch per turn alone would make the two threads take turns).
   */
  constructor(
    private readonly send: (batch: M[]) => void,
    private readonly maxBatch = 8,
  ) {}

  post(m: M): void {
    this.queue.push(m);
    if (this.queue.length >= this.maxBatch) {
      const batch = this.queue;
      this.queue = [];
      this.send(batch);
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.send(batch);
  }
}

/** Messages from the main thread. */
export type ToScoring =
  | { t: 'score'; rid: number; request: ScoreRequest }
  | { t: 'answer'; ask: number; value?: unknown; error?: SerialError }
  | { t: 'global-fold'; seq: number; obs: Observation }
  | { t: 'fold'; actorKey: string; seq: number; obs: Observation }
  | { t: 'exceptions'; entries: Array<[string, BaselineException[]]> }
  | { t: 'bundle'; sources: PolicySource[] }
  | { t: 'attempts'; attempts: Attempt[] };

/** Messages to the main thread. */
export type FromScoring =
  | { t: 'ready' }
  | { t: 'scored'; rid: number; scored: Scored }
  | { t: 'failed'; rid: number; error: SerialError }
  | { t: 'need-baseline'; ask: number; actorKey: string }
  | { t: 'need-target'; ask: number; requestId: string; decisionId: string; subjectId: string; prefix: string }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg?: string };

/** An error as plain data: a LoopgateError keeps its code and field errors across the thread boundary. */
export interface SerialError {
  message: string;
  code?: string;
  errors?: FieldError[];
  extra?: Record<string, unknown>;
  stack?: string;
}

export function serialiseError(e: unknown): SerialError {
  if (e instanceof LoopgateError) {
    const out: SerialError = { message: e.message, code: e.code };
    if (e.errors !== undefined) out.errors = e.errors;
    if (e.extra !== undefined) out.extra = e.extra;
    return out;
  }
  if (e instanceof Error) return e.stack === undefined ? { message: e.message } : { message: e.message, stack: e.stack };
  return { message: String(e) };
}

export function deserialiseError(s: SerialError): Error {
  if (s.code !== undefined && isErrorCode(s.code)) {
    const options: { errors?: FieldError[]; extra?: Record<string, unknown> } = {};
    if (s.errors !== undefined) options.errors = s.errors;
    if (s.extra !== undefined) options.extra = s.extra;
    return new LoopgateError(s.code, s.message, options);
  }
  const e = new Error(s.message);
  if (s.stack !== undefined) e.stack = s.stack;
  return e;
}

