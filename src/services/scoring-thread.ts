/**
 * The scoring thread, seen from the main thread: a `ScoringBackend` that sends each event to a worker thread
 * and keeps the worker's mirror of the state scoring reads equal to this thread's (see scoring-worker.ts).
 *
 * Why a thread: scoring is most of a decision's CPU (validation, enrichment, three back-off chains, travel,
 * velocity, typing and pointer models, CEL, serialising a 3 KB document). In the thread, the event loop that
 * serves HTTP only parses requests, commits and answers, so a slow score (a typing model rebuilt after a fold,
 * a long pointer trace) no longer holds up every other request, and the two cores share the work.
 *
 * Ordering is what keeps the mirror right. Every fold is sent when it is made, in the order it is made, on one
 * port; a principal's baseline is serialised and sent in the same synchronous step that reads it, so a fold is
 * either already in it or sent after it. The mirror ignores a fold for a principal it does not hold and asks for
 * the whole baseline the next time it needs it.
 *
 * Failure never allows: if the thread dies, every request it held fails (503) and a new thread is started.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { GeoSpec } from '../adapters/geoip.js';
import type { Decision } from '../core/decision.js';
import { CallRegistry } from '../core/call-registry.js';
import { LoopgateError } from '../core/errors.js';
import type { Baseline, Counts, Observation } from '../core/risk/baseline.js';
import type { BaselineException } from '../core/risk/exceptions.js';
import type { Attempt } from '../core/risk/velocity.js';
import type { BaselineListener, BaselineOptions, BaselineService } from './baselines.js';
import type { ScoringBackend } from './decisions.js';
import type { Logger } from './logger.js';
import type { PolicyService } from './policies.js';
import type { ScoreRequest, Scored, ScoringSettings } from './scoring.js';
import { deserialiseError, Outbox, serialiseError, type FromScoring, type ScoringThreadData, type ToScoring } from './scoring-messages.js';

export interface ScoringThreadDeps {
  baselines: BaselineService;
  policies: PolicyService;
  logger: Logger;
  geo: GeoSpec;
  /** The login and MFA attempts of the velocity window, from the store (to warm a thread started after a crash). */
  recentAttempts(): Promise<Attempt[]>;
  /** Reads and claims the challenge an mfa event answers (the decision service). */
  challengeTarget(requestId: string, decisionId: string, subjectId: string, prefix: string): Promise<Decision>;
}

/**
 * The worker's code: the build's file next to this one. Run from the sources (the tests), the thread runs the
 * build of the same sources, which `npm test` makes first: Node 20 cannot load TypeScript in a worker.
 */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const entry = here.endsWith('.ts') ? join(dirname(here), '../../dist/services/scoring-worker.js') : join(dirname(here), 'scoring-worker.js');
  if (!existsSync(entry)) throw new Error(`the scoring thread's code is missing (${entry}); run npm run build`);
  return entry;
}

/**
 * A baseline (or the global statistics) as plain data for the thread, exact: the snapshot format rounds the pointer
 * statistics, and a mirror must be the same state. The typing models built from a profile stay behind (they are
 * objects with methods, and the thread builds its own from the same entries).
 */
function transferable<T extends Counts & Partial<Pick<Baseline, 'behaviour'>>>(b: T): T {
  const view =
    b.behaviour === undefined
      ? b
      : { ...b, behaviour: { ...b.behaviour, fields: new Map([...b.behaviour.fields].map(([name, p]) => [name, { secret: p.secret, entries: p.entries }])) } };
  // Copied now, not when the batch is posted: a fold made before then must not be half in the copy (its sequence
  // number is what tells the thread whether to replay it).
  return structuredClone(view);
}

export class ScoringThread implements ScoringBackend, BaselineListener {
  private worker!: Worker;
  private outbox!: Outbox<ToScoring>;
  /** Calls waiting for the thread, by request id (not a Map: see core/call-registry.ts). */
  private readonly pending = new CallRegistry<{ resolve: (s: Scored) => void; reject: (e: Error) => void }>();
  private stopping = false;

  private constructor(
    private readonly deps: ScoringThreadDeps,
    private readonly settings: ScoringSettings,
    private readonly baselineOptions: ScoringThreadData['baselines'],
  ) {
    deps.baselines.subscribe(this);
    deps.policies.onActivate((bundle) => this.post({ t: 'bundle', sources: bundle.sources }));
  }

  static async start(deps: ScoringThreadDeps, settings: ScoringSettings, baselineOptions: BaselineOptions): Promise<ScoringThread> {
    const { decay, subjectValueCap, globalValueCap, behaviour, cacheSize } = baselineOptions;
    const thread = new ScoringThread(deps, settings, { decay, subjectValueCap, globalValueCap, behaviour, cacheSize });
    await thread.spawn();
    return thread;
  }

  /** Starts a thread on the current state (at start, and after a crash). */
  private spawn(): Promise<void> {
    const { baselines, policies } = this.deps;
    const workerData: ScoringThreadData = {
      settings: this.settings,
      geo: this.deps.geo,
      baselines: this.baselineOptions,
      global: transferable(baselines.globalStats),
      exceptions: [...baselines.allExceptions()],
      bundle: policies.current().sources,
    };
    // Created in the same synchronous step as the state above is read: every later change is posted after it.
    const worker = new Worker(workerEntry(), { workerData });
    this.worker = worker;
    this.outbox = new Outbox<ToScoring>((batch) => worker.postMessage(batch));
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (batch: FromScoring[]) => {
        for (const m of batch) {
          if (m.t === 'ready') resolve();
          else this.receive(m);
        }
      });
      worker.on('error', (e) => {
        this.deps.logger.error({ err: e }, 'the scoring thread failed');
        reject(e);
      });
      worker.on('exit', (code) => {
        reject(new Error(`the scoring thread exited (${code}) before it was ready`));
        if (this.worker !== worker || this.stopping) return;
        this.failPending(new LoopgateError('LOOPGATE_ERR_NOT_READY', 'the scoring thread stopped; the decision was not made, retry'));
        this.deps.logger.error({ code }, 'the scoring thread stopped; starting a new one');
        this.spawn()
          .then(() => this.deps.recentAttempts())
          .then((attempts) => this.recordAttempts(attempts))
          .catch((e: unknown) => this.deps.logger.error({ err: e }, 'the scoring thread could not be started again'));
      });
    });
  }

  score(request: ScoreRequest): Promise<Scored> {
    if (this.stopping) return Promise.reject(new LoopgateError('LOOPGATE_ERR_SHUTTING_DOWN', 'Loopgate is shutting down; retry on another instance'));
    return new Promise<Scored>((resolve, reject) => {
      const rid = this.pending.add({ resolve, reject });
      this.post({ t: 'score', rid, request });
    });
  }

  recordAttempts(attempts: Attempt[]): void {
    this.post({ t: 'attempts', attempts });
  }

  globalFolded(seq: number, obs: Observation): void {
    this.post({ t: 'global-fold', seq, obs });
  }

  baselineFolded(actorKey: string, seq: number, obs: Observation): void {
    this.post({ t: 'fold', actorKey, seq, obs });
  }

  exceptionsChanged(exceptions: Map<string, BaselineException[]>): void {
    this.post({ t: 'exceptions', entries: [...exceptions] });
  }

  /** Waits for the requests in flight (at most 10 s; what is left then fails), then stops the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + 10_000;
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.failPending(new LoopgateError('LOOPGATE_ERR_SHUTTING_DOWN', 'Loopgate is shutting down; retry on another instance'));
    await this.worker.terminate();
  }

  /** Stops the thread as a crash would (for tests and drills): its requests fail and a new thread starts. */
  async crash(): Promise<void> {
    await this.worker.terminate();
  }

  private post(m: ToScoring): void {
    this.outbox.post(m);
  }

  private receive(m: FromScoring): void {
    switch (m.t) {
      case 'scored': {
        const p = this.pending.take(m.rid);
        if (p === undefined) return;
        if (m.scored.row !== undefined) m.scored.row.body = m.scored.json;
        p.resolve(m.scored);
        return;
      }
      case 'failed': {
        const p = this.pending.take(m.rid);
        if (p === undefined) return;
        p.reject(deserialiseError(m.error));
        return;
      }
      case 'need-baseline': {
        const outbox = this.outbox;
        // Serialised and queued in one step after the load: see the ordering note at the top.
        this.deps.baselines.load(m.actorKey).then(
          (b) => outbox.post({ t: 'answer', ask: m.ask, value: transferable(b) }),
          (e: unknown) => outbox.post({ t: 'answer', ask: m.ask, error: serialiseError(e) }),
        );
        return;
      }
      case 'need-target': {
        const outbox = this.outbox;
        this.deps.challengeTarget(m.requestId, m.decisionId, m.subjectId, m.prefix).then(
          (target) => outbox.post({ t: 'answer', ask: m.ask, value: target }),
          (e: unknown) => outbox.post({ t: 'answer', ask: m.ask, error: serialiseError(e) }),
        );
        return;
      }
      case 'log':
        this.deps.logger[m.level](m.obj, m.msg);
        return;
    }
  }

  private failPending(e: Error): void {
    for (const p of this.pending.takeAll()) p.reject(e);
  }
}
