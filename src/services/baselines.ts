/**
 * Baselines in memory, backed by the learning log.
 *
 * The learning table is the source of truth: every trusted observation is appended there in the same
 * transaction as the decision that made it trusted. Baselines are folds of that log, cached in memory (LRU) and
 * snapshotted to the database now and then with the sequence number they include, so that loading a principal
 * is "snapshot + the entries after it" and nothing learned is lost on a crash. Folding happens after commit,
 * in commit order, so a baseline never contains something that was not durably learned.
 */
import {
  deserialiseBaseline,
  deserialiseCounts,
  emptyBaseline,
  emptyCounts,
  fold,
  foldBaseline,
  serialiseBaseline,
  serialiseCounts,
  type Baseline,
  type Counts,
  type Decay,
  type Observation,
  type SerialBaseline,
} from '../core/risk/baseline.js';
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';
import type { Logger } from './logger.js';

export interface BaselineOptions {
  decay: Decay;
  subjectValueCap: number;
  globalValueCap: number;
  /** Principals kept in memory. */
  cacheSize: number;
  snapshotIntervalMs: number;
}

/** The observation a learning entry points at: the features of the decision it names. */
export function observationFromDecision(body: string): Observation {
  const d = JSON.parse(body) as { event: { type: string }; features: Observation['features'] };
  return { timeMs: d.features.time_ms, isLogin: d.event.type === 'login', features: d.features };
}

const SNAPSHOT_CHUNK = 500;

export class BaselineService {
  private readonly cache = new Map<string, Baseline>();
  private readonly loading = new Map<string, Promise<Baseline>>();
  private readonly dirty = new Set<string>();
  /** Dirty baselines pushed out of the cache, kept until their snapshot is written. */
  private readonly evictedDirty = new Map<string, Baseline>();
  private global: Counts = emptyCounts();
  private globalDirty = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: BaselineOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Loads the global statistics: the last snapshot plus every learning entry after it. */
  async start(): Promise<void> {
    const snap = await this.store.loadGlobalSnapshot();
    this.global = snap === undefined ? emptyCounts() : deserialiseCounts(JSON.parse(snap.state));
    let after = this.global.learnedSeq;
    let replayed = 0;
    for (;;) {
      const page = await this.store.learningPage(after, 5000);
      if (page.length === 0) break;
      for (const e of page) {
        fold(this.global, observationFromDecision(e.body), this.options.decay, this.options.globalValueCap);
        this.global.learnedSeq = e.seq;
        after = e.seq;
      }
      replayed += page.length;
    }
    if (replayed > 0) this.globalDirty = true;
    this.logger.info({ learned: this.global.n, replayed }, 'baselines: global statistics loaded');
    this.timer = setInterval(() => void this.flushSnapshots().catch((e) => this.logger.error({ err: e }, 'baseline snapshot failed')), this.options.snapshotIntervalMs);
    this.timer.unref();
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

  private async loadFromStore(actorKey: string): Promise<Baseline> {
    let baseline = this.evictedDirty.get(actorKey);
    if (baseline === undefined) {
      const snap = await this.store.loadBaselineSnapshot(actorKey);
      baseline = snap === undefined ? emptyBaseline(actorKey) : deserialiseBaseline(JSON.parse(snap.state) as SerialBaseline);
    }
    const entries = await this.store.learningFor(actorKey, baseline.learnedSeq);
    for (const e of entries) this.foldInto(baseline, e.seq, observationFromDecision(e.body));
    if (entries.length > 0) this.dirty.add(actorKey);
    // A learn() may have raced with this load and already cached a fresher copy.
    const raced = this.cache.get(actorKey);
    if (raced !== undefined) return raced;
    this.insert(actorKey, baseline);
    return baseline;
  }

  /** Folds a durably logged observation (called after commit, in commit order). */
  learn(actorKey: string, seq: number, observation: Observation): void {
    if (seq > this.global.learnedSeq) {
      fold(this.global, observation, this.options.decay, this.options.globalValueCap);
      this.global.learnedSeq = seq;
      this.globalDirty = true;
    }
    const cached = this.cache.get(actorKey);
    if (cached !== undefined) {
      if (this.foldInto(cached, seq, observation)) this.dirty.add(actorKey);
      return;
    }
    // Not in memory: the entry is in the log, so the next load replays it. If a load is under way, fold into
    // its result once it arrives (the load may or may not have read this entry; foldInto skips duplicates).
    const pending = this.loading.get(actorKey);
    if (pending !== undefined) {
      void pending.then((b) => {
        if (this.foldInto(b, seq, observation)) this.dirty.add(actorKey);
      });
    }
  }

  private foldInto(b: Baseline, seq: number, obs: Observation): boolean {
    if (seq <= b.learnedSeq) return false;
    foldBaseline(b, obs, this.options.decay, this.options.subjectValueCap);
    b.learnedSeq = seq;
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

  /** Writes snapshots of every changed baseline (and the global statistics). */
  async flushSnapshots(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    this.flushing = this.writeSnapshots().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeSnapshots(): Promise<void> {
    const keys = [...this.dirty];
    this.dirty.clear();
    const now = this.clock.now();
    for (let i = 0; i < keys.length; i += SNAPSHOT_CHUNK) {
      const rows: Array<{ actor_key: string; state: string; learned_seq: number }> = [];
      for (const key of keys.slice(i, i + SNAPSHOT_CHUNK)) {
        const b = this.cache.get(key) ?? this.evictedDirty.get(key);
        if (b === undefined) continue;
        rows.push({ actor_key: key, state: JSON.stringify(serialiseBaseline(b)), learned_seq: b.learnedSeq });
      }
      try {
        await this.store.saveBaselineSnapshots(rows, now);
      } catch (e) {
        for (const r of rows) this.dirty.add(r.actor_key);
        throw e;
      }
      for (const r of rows) this.evictedDirty.delete(r.actor_key);
    }
    if (this.globalDirty) {
      this.globalDirty = false;
      const state = JSON.stringify(serialiseCounts(this.global));
      try {
        await this.store.saveGlobalSnapshot(state, this.global.learnedSeq, now);
      } catch (e) {
        this.globalDirty = true;
        throw e;
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    // A flush already under way may have started before the last changes: repeat until nothing is left.
    do await this.flushSnapshots();
    while (this.dirty.size > 0 || this.globalDirty);
  }

  /** For tests and diagnostics. */
  stats(): { cached: number; dirty: number; evictedDirty: number; globalEvents: number } {
    return { cached: this.cache.size, dirty: this.dirty.size, evictedDirty: this.evictedDirty.size, globalEvents: this.global.n };
  }
}
