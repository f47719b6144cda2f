/**
 * Baselines in memory, backed by the learning log.
 *
 * The learning table is the source of truth: every trusted observation is appended there in the same
 * transaction as the decision that made it trusted, as a pointer to that decision. Baselines are folds of the
 * log, cached in memory (LRU) and folded after commit, in commit order, so a baseline never contains something
 * that was not durably learned.
 *
 * Snapshots make loading cheap without a per-principal index on the log (which would cost a random page write
 * per learned decision). A flush writes every changed baseline, then records a watermark H: from then on, every
 * entry up to H is inside some principal's snapshot, and every entry after H is folded into a baseline held in
 * memory (dirty until the next flush). Loading a principal is therefore just reading its snapshot; after a
 * restart the tail of the log after H is replayed once, at start. The global statistics carry their own fold
 * position (in their state), so the tail is never counted twice.
 */
import {
  deserialiseBaseline,
  deserialiseCounts,
  emptyBaseline,
  emptyCounts,
  foldBaseline,
  foldGlobal,
  observationOf,
  serialiseBaseline,
  serialiseCounts,
  type Baseline,
  type Counts,
  type Decay,
  type Observation,
  type SerialBaseline,
} from '../core/risk/baseline.js';
import type { BehaviourConfig } from '../core/behaviour/signals.js';
import type { Clock } from '../core/clock.js';
import type { LoopgateEvent } from '../core/events/schema.js';
import { MAX_UA_LENGTH, type TrackedFeature } from '../core/risk/features.js';
import type { BaselineException } from '../core/risk/exceptions.js';
import type { Store } from '../store/store.js';
import type { Logger } from './logger.js';

export interface BaselineOptions {
  decay: Decay;
  subjectValueCap: number;
  globalValueCap: number;
  /** Principals kept in memory. */
  cacheSize: number;
  snapshotIntervalMs: number;
  behaviour: BehaviourConfig;
}

interface StoredDecisionShape {
  event: { type: string; context: { user_agent?: string } };
  features: Observation['features'];
}

/** The features of a stored decision, with the user agent (stored once, in the event) put back. */
export function featuresOfStored(d: StoredDecisionShape): Observation['features'] {
  const f = d.features;
  if (f.browser !== undefined && f.ua === undefined && d.event.context.user_agent !== undefined) {
    f.ua = d.event.context.user_agent.slice(0, MAX_UA_LENGTH);
  }
  return f;
}

/** The observation a learning entry points at: the features of the decision it names. */
export function observationFromDecision(body: string): Observation {
  const d = JSON.parse(body) as StoredDecisionShape;
  return observationOf(d.event as LoopgateEvent, featuresOfStored(d));
}

/**
 * Told of every change to the state scoring reads, in the order the changes happen, so that a copy of it (the
 * scoring thread's mirror) stays equal to this one: each fold is replayed there on the same state.
 */
export interface BaselineListener {
  globalFolded(seq: number, observation: Observation): void;
  baselineFolded(actorKey: string, seq: number, observation: Observation): void;
  exceptionsChanged(exceptions: Map<string, BaselineException[]>): void;
}

const SNAPSHOT_CHUNK = 500;
const EXCEPTIONS_RELOAD_MS = 30_000;

/** Folds an entry into a principal's baseline: the one fold, shared with the scoring thread's mirror. */
export function foldBaselineOnce(
  b: Baseline,
  seq: number,
  obs: Observation,
  options: Pick<BaselineOptions, 'decay' | 'subjectValueCap' | 'behaviour'>,
  global: Counts,
): void {
  foldBaseline(b, obs, options.decay, options.subjectValueCap, { config: options.behaviour, population: global.pointer });
  b.learnedSeq = seq;
}

export class BaselineService {
  private readonly cache = new Map<string, Baseline>();
  private readonly loading = new Map<string, Promise<Baseline>>();
  private readonly dirty = new Set<string>();
  /** Dirty baselines pushed out of the cache, kept until their snapshot is written. */
  private readonly evictedDirty = new Map<string, Baseline>();
  /** Learning entries folded into the global statistics but not yet into their (loading) principal's baseline. */
  private readonly unfolded = new Map<number, string>();
  private global: Counts = emptyCounts();
  private globalDirty = false;
  /** Every learning entry up to this sequence number is in some principal's stored snapshot. */
  private watermark = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Baseline exceptions in force, by actor: few, read on every decision, so all of them are kept in memory. */
  private exceptions = new Map<string, BaselineException[]>();
  private exceptionsTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly listeners: BaselineListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly options: BaselineOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Loads the global statistics and replays the tail of the learning log after the watermark into the global
   * statistics (entries it does not have yet) and into the baselines of the principals it concerns.
   */
  async start(): Promise<void> {
    const snap = await this.store.loadGlobalSnapshot();
    this.global = snap === undefined ? emptyCounts() : deserialiseCounts(JSON.parse(snap.state));
    this.watermark = snap?.learned_seq ?? 0;
    const tail = new Map<string, Array<{ seq: number; obs: Observation }>>();
    let after = Math.min(this.watermark, this.global.learnedSeq);
    let replayed = 0;
    for (;;) {
      const page = await this.store.learningPage(after, 5000);
      if (page.length === 0) break;
      for (const e of page) {
        const obs = observationFromDecision(e.body);
        if (e.seq > this.global.learnedSeq) {
          foldGlobal(this.global, obs, this.options.decay, this.options.globalValueCap);
          this.global.learnedSeq = e.seq;
          this.globalDirty = true;
        }
        if (e.seq > this.watermark) {
          let list = tail.get(e.actor_key);
          if (list === undefined) tail.set(e.actor_key, (list = []));
          list.push({ seq: e.seq, obs });
        }
        after = e.seq;
      }
      replayed += page.length;
    }
    for (const [actorKey, entries] of tail) {
      const baseline = await this.loadSnapshot(actorKey);
      for (const e of entries) this.foldInto(baseline, e.seq, e.obs);
      this.insert(actorKey, baseline);
      this.dirty.add(actorKey);
    }
    this.logger.info({ learned: this.global.n, replayed, principals: tail.size }, 'baselines: global statistics loaded');
    this.timer = setInterval(
      () => void this.flushSnapshots().catch((e) => this.logger.error({ err: e }, 'baseline snapshot failed')),
      this.options.snapshotIntervalMs,
    );
    this.timer.unref();
    await this.reloadExceptions();
    // Another instance may add exceptions: they are read again now and then (this instance's own apply at once).
    this.exceptionsTimer = setInterval(
      () => void this.reloadExceptions().catch((e) => this.logger.error({ err: e }, 'reloading baseline exceptions failed')),
      EXCEPTIONS_RELOAD_MS,
    );
    this.exceptionsTimer.unref();
  }

  /** Follows every later change (see BaselineListener). */
  subscribe(listener: BaselineListener): void {
    this.listeners.push(listener);
  }

  /** Every exception in force, by actor. */
  allExceptions(): Map<string, BaselineException[]> {
    return this.exceptions;
  }

  /** The exceptions in force for an actor (none: undefined). */
  exceptionsFor(actorKey: string): BaselineException[] | undefined {
    return this.exceptions.get(actorKey);
  }

  /** Makes a committed exception apply at once in this process. */
  addException(actorKey: string, exception: BaselineException): void {
    this.exceptions.set(actorKey, [...(this.exceptions.get(actorKey) ?? []), exception]);
    for (const l of this.listeners) l.exceptionsChanged(this.exceptions);
  }

  private async reloadExceptions(): Promise<void> {
    const rows = await this.store.db.selectFrom('baseline_exceptions').selectAll().where('until', '>', this.clock.now()).execute();
    const next = new Map<string, BaselineException[]>();
    for (const r of rows) {
      const list = next.get(r.actor_key) ?? [];
      list.push({ feature: r.feature as TrackedFeature, value: r.value, until: r.until, reason: r.reason, created_by: r.created_by });
      next.set(r.actor_key, list);
    }
    this.exceptions = next;
    for (const l of this.listeners) l.exceptionsChanged(next);
  }

  get globalStats(): Counts {
    return this.global;
  }

  /** The cached baseline, or undefined when it must be loaded (call `load`). Cheap: the hot path calls it. */
  peek(actorKey: string): Baseline | undefined {
    const b = this.cache.get(actorKey);
    if (b !== undefined) {
      this.cache.delete(actorKey);
      this.cache.set(actorKey, b);
    }
    return b;
  }

  async load(actorKey: string): Promise<Baseline> {
    const cached = this.peek(actorKey);
    if (cached !== undefined) return cached;
    let pending = this.loading.get(actorKey);
    if (pending === undefined) {
      pending = this.loadFromStore(actorKey).finally(() => this.loading.delete(actorKey));
      this.loading.set(actorKey, pending);
    }
    return pending;
  }

  private async loadSnapshot(actorKey: string): Promise<Baseline> {
    const kept = this.evictedDirty.get(actorKey);
    if (kept !== undefined) return kept;
    const snap = await this.store.loadBaselineSnapshot(actorKey);
    return snap === undefined ? emptyBaseline(actorKey) : deserialiseBaseline(JSON.parse(snap.state) as SerialBaseline);
  }

  private async loadFromStore(actorKey: string): Promise<Baseline> {
    const baseline = await this.loadSnapshot(actorKey);
    // A learn() may have raced with this load and already cached a fresher copy.
    const raced = this.cache.get(actorKey);
    if (raced !== undefined) return raced;
    this.insert(actorKey, baseline);
    return baseline;
  }

  /** Folds a durably logged observation (called after commit, in commit order). */
  learn(actorKey: string, seq: number, observation: Observation): void {
    if (seq > this.global.learnedSeq) {
      foldGlobal(this.global, observation, this.options.decay, this.options.globalValueCap);
      this.global.learnedSeq = seq;
      this.globalDirty = true;
      for (const l of this.listeners) l.globalFolded(seq, observation);
    }
    const cached = this.peek(actorKey);
    if (cached !== undefined) {
      if (this.foldInto(cached, seq, observation, actorKey)) this.dirty.add(actorKey);
      return;
    }
    // Not in memory (evicted since its decision was scored): load it and fold. Until then the entry is held in
    // `unfolded`, which keeps the watermark below it, so no snapshot can claim to contain it.
    this.unfolded.set(seq, actorKey);
    void this.load(actorKey)
      .then((b) => {
        if (this.foldInto(b, seq, observation, actorKey)) this.dirty.add(actorKey);
      })
      .catch((e) => this.logger.error({ err: e, actor: actorKey }, 'baseline load failed; the entry is replayed at the next start'))
      .finally(() => this.unfolded.delete(seq));
  }

  /** Folds an entry into a baseline once; `actorKey` tells the listeners (absent while replaying at start). */
  private foldInto(b: Baseline, seq: number, obs: Observation, actorKey?: string): boolean {
    if (seq <= b.learnedSeq) return false;
    foldBaselineOnce(b, seq, obs, this.options, this.global);
    if (actorKey !== undefined) for (const l of this.listeners) l.baselineFolded(actorKey, seq, obs);
    return true;
  }

  private insert(actorKey: string, b: Baseline): void {
    this.cache.set(actorKey, b);
    this.evictedDirty.delete(actorKey);
    while (this.cache.size > this.options.cacheSize) {
      const [oldKey, old] = this.cache.entries().next().value as [string, Baseline];
      this.cache.delete(oldKey);
      if (this.dirty.has(oldKey)) this.evictedDirty.set(oldKey, old);
    }
  }

  /** Writes snapshots of every changed baseline, then the global statistics and the new watermark. */
  async flushSnapshots(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    this.flushing = this.writeSnapshots().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeSnapshots(): Promise<void> {
    // Everything folded so far (except entries still waiting for their principal to load) is covered once the
    // dirty baselines taken now are written: that is the new watermark.
    let watermark = this.global.learnedSeq;
    for (const seq of this.unfolded.keys()) watermark = Math.min(watermark, seq - 1);
    const globalState = this.globalDirty || watermark !== this.watermark ? JSON.stringify(serialiseCounts(this.global)) : undefined;
    this.globalDirty = false;
    const keys = [...this.dirty];
    this.dirty.clear();
    const now = this.clock.now();
    try {
      for (let i = 0; i < keys.length; i += SNAPSHOT_CHUNK) {
        const rows: Array<{ actor_key: string; state: string; learned_seq: number }> = [];
        for (const key of keys.slice(i, i + SNAPSHOT_CHUNK)) {
          const b = this.cache.get(key) ?? this.evictedDirty.get(key);
          if (b !== undefined) rows.push({ actor_key: key, state: JSON.stringify(serialiseBaseline(b)), learned_seq: b.learnedSeq });
        }
        await this.store.saveBaselineSnapshots(rows, now);
        for (const r of rows) if (!this.dirty.has(r.actor_key)) this.evictedDirty.delete(r.actor_key);
      }
      if (globalState !== undefined) {
        await this.store.saveGlobalSnapshot(globalState, watermark, now);
        this.watermark = watermark;
      }
    } catch (e) {
      for (const k of keys) this.dirty.add(k);
      this.globalDirty = true;
      throw e;
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    clearInterval(this.exceptionsTimer);
    // A flush already under way may have started before the last changes: repeat until nothing is left.
    do await this.flushSnapshots();
    while (this.dirty.size > 0 || this.globalDirty);
  }

  /** For tests and diagnostics. */
  stats(): { cached: number; dirty: number; evictedDirty: number; globalEvents: number; watermark: number } {
    return {
      cached: this.cache.size,
      dirty: this.dirty.size,
      evictedDirty: this.evictedDirty.size,
      globalEvents: this.global.n,
      watermark: this.watermark,
    };
  }
}
