/**
 * The scoring thread's entry point (started by scoring-thread.ts; never imported by the main thread).
 *
 * It scores with the same `Scorer` as the main thread, on a mirror of the state scoring reads: the global
 * statistics, the baselines of the principals it has seen, the exceptions, the policy bundle and the velocity
 * detector. The main thread stays the authority: it sends each fold in the order it makes them (so the mirror
 * is the same fold of the same entries), a principal's baseline when asked for one, and every new exception
 * list and policy bundle. The velocity detector lives only here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { geoIpFromSpec } from '../adapters/geoip.js';
import { CallRegistry } from '../core/call-registry.js';
import type { Decision } from '../core/decision.js';
import { loadBundle, type CompiledBundle, type PolicySource } from '../core/policy/load.js';
import { foldGlobal, type Baseline, type Counts } from '../core/risk/baseline.js';
import { foldBaselineOnce } from './baselines.js';
import type { Logger } from './logger.js';
import { Scorer, type ScoringState } from './scoring.js';
import { deserialiseError, Outbox, serialiseError, type FromScoring, type ScoringThreadData, type ToScoring } from './scoring-messages.js';

function compile(sources: PolicySource[]): CompiledBundle {
  const result = loadBundle(sources);
  // The main thread activated this bundle, so it compiles here too; anything else is a bug worth stopping for.
  if (!result.ok) throw new Error(`the scoring thread could not compile the policy bundle: ${result.errors[0]?.message ?? 'unknown error'}`);
  return result.bundle;
}

async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as ScoringThreadData;
  const outbox = new Outbox<FromScoring>((batch) => port.postMessage(batch));
  const post = (m: FromScoring) => outbox.post(m);
  const queued: ToScoring[] = [];
  let handle: ((m: ToScoring) => void) | undefined;
  // Messages sent while the databases open are handled afterwards, in order.
  port.on('message', (batch: ToScoring[]) => {
    if (handle === undefined) queued.push(...batch);
    else for (const m of batch) handle(m);
  });

  const logger = threadLogger(post, {});
  const geo = await geoIpFromSpec(data.geo);
  const global: Counts = data.global;
  let exceptions = new Map(data.exceptions);
  let bundle = compile(data.bundle);
  const cache = new Map<string, Baseline>();
  const loading = new Map<string, Promise<Baseline>>();
  // Questions waiting for the main thread (not a Map: see core/call-registry.ts).
  const asks = new CallRegistry<{ resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const ask = <T>(m: { t: 'need-baseline'; actorKey: string } | { t: 'need-target'; requestId: string; decisionId: string; subjectId: string; prefix: string }) =>
    new Promise<T>((resolve, reject) => {
      const id = asks.add({ resolve: resolve as (v: unknown) => void, reject });
      post({ ask: id, ...m }); // `ask` first: see "Hidden classes" in docs/benchmarks.md
    });

  const peek = (actorKey: string): Baseline | undefined => {
    const b = cache.get(actorKey);
    if (b !== undefined) {
      cache.delete(actorKey);
      cache.set(actorKey, b);
    }
    return b;
  };
  const insert = (actorKey: string, b: Baseline) => {
    cache.set(actorKey, b);
    while (cache.size > data.baselines.cacheSize) cache.delete(cache.keys().next().value as string);
  };

  const state: ScoringState = {
    geo,
    logger,
    bundle: () => bundle,
    global: () => global,
    exceptionsFor: (actorKey) => exceptions.get(actorKey),
    peekBaseline: peek,
    loadBaseline(actorKey) {
      let pending = loading.get(actorKey);
      if (pending === undefined) {
        pending = ask<Baseline>({ t: 'need-baseline', actorKey })
          .then((b) => {
            insert(actorKey, b);
            return b;
          })
          .finally(() => loading.delete(actorKey));
        loading.set(actorKey, pending);
      }
      return pending;
    },
    challengeTarget: (requestId, decisionId, subjectId, prefix) => ask<Decision>({ t: 'need-target', requestId, decisionId, subjectId, prefix }),
  };
  const scorer = new Scorer(state, data.settings);

  handle = (m) => {
    switch (m.t) {
      case 'score':
        scorer.score(m.request).then(
          (scored) => {
            // The body is the decision's JSON again: sent once, put back on the other side.
            if (scored.row !== undefined) scored.row.body = '';
            post({ t: 'scored', rid: m.rid, scored });
          },
          (e: unknown) => post({ t: 'failed', rid: m.rid, error: serialiseError(e) }),
        );
        return;
      case 'answer': {
        const a = asks.take(m.ask);
        if (a === undefined) return;
        if (m.error !== undefined) a.reject(deserialiseError(m.error));
        else a.resolve(m.value);
        return;
      }
      case 'global-fold':
        if (m.seq > global.learnedSeq) {
          foldGlobal(global, m.obs, data.baselines.decay, data.baselines.globalValueCap);
          global.learnedSeq = m.seq;
        }
        return;
      case 'fold': {
        // A principal not held here is sent whole, folds included, the next time it is needed.
        const b = cache.get(m.actorKey);
        if (b !== undefined && m.seq > b.learnedSeq) foldBaselineOnce(b, m.seq, m.obs, data.baselines, global);
        return;
      }
      case 'exceptions':
        exceptions = new Map(m.entries);
        return;
      case 'bundle':
        bundle = compile(m.sources);
        return;
      case 'attempts':
        for (const a of m.attempts) scorer.recordAttempt(a);
        return;
    }
  };
  for (const m of queued.splice(0)) handle(m);
  post({ t: 'ready' });
}

/** Log lines go to the main thread's logger (errors as plain data). */
function threadLogger(post: (m: FromScoring) => void, bindings: Record<string, unknown>): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (obj: object, msg?: string): void => {
      const plain: Record<string, unknown> = { ...bindings, thread: 'scoring' };
      for (const [k, v] of Object.entries(obj)) plain[k] = v instanceof Error ? serialiseError(v) : v;
      post(msg === undefined ? { t: 'log', level, obj: plain } : { t: 'log', level, obj: plain, msg });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => threadLogger(post, { ...bindings, ...more }),
  };
}

main().catch((e: unknown) => {
  // The main thread sees the exit and fails every request in flight (never an allow).
  process.stderr.write(`loopgate scoring thread failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
