/**
 * Figures for the console's dashboard: the review queue (depth by status, ages, deadlines), decisions by outcome
 * over time, time to decision, and how often people overrode the machine's recommendation. Read-only; computed
 * from the decisions, cases and labels tables over a window (at most 10,000 rows of each are examined).
 */
import { sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';

const MAX_ROWS = 10_000;

export interface ReviewStats {
  window: { since: string; until: string; bucket_seconds: number };
  queue: {
    open: number;
    by_status: Record<string, number>;
    /** Open cases by age: under 15 min, under 1 h, under 4 h, under 1 d, older. */
    by_age: Array<{ label: string; count: number }>;
    overdue: number;
    oldest_age_seconds: number | null;
  };
  /** Decisions per time bucket and outcome. */
  decisions: Array<{ bucket: string; allow: number; challenge: number; review: number; deny: number }>;
  /** Cases closed in the window: how long people (or the deadline) took. */
  time_to_decision: { closed: number; p50_seconds: number | null; p90_seconds: number | null; by: Record<string, number> };
  /** Verdicts in the window, and those that went against the machine's recommendation. */
  verdicts: { total: number; overrides: number; by_label: Record<string, number> };
}

const AGE_BANDS: Array<[string, number]> = [
  ['< 15 min', 15 * 60_000],
  ['< 1 h', 3_600_000],
  ['< 4 h', 4 * 3_600_000],
  ['< 1 d', 86_400_000],
  ['older', Number.POSITIVE_INFINITY],
];

export class StatsService {
  constructor(private readonly deps: { store: Store; clock: Clock }) {}

  async review(windowMs: number, bucketMs: number): Promise<ReviewStats> {
    const { db } = this.deps.store;
    const now = this.deps.clock.now();
    const since = now - windowMs;
    const [open, decided, closed, labels] = await Promise.all([
      db.selectFrom('cases').select(['status', 'created_at', 'deadline_at']).where('closed_at', 'is', null).limit(MAX_ROWS).execute(),
      // Integer division of the millisecond time buckets the decisions in the database (both dialects divide integers exactly).
      db
        .selectFrom('decisions')
        .select([sql<number>`created_at / ${sql.lit(bucketMs)}`.as('b'), 'outcome', (eb) => eb.fn.countAll<number>().as('n')])
        .where('created_at', '>=', since)
        .groupBy([sql`created_at / ${sql.lit(bucketMs)}`, 'outcome'])
        .execute(),
      db.selectFrom('cases').innerJoin('decisions', 'decisions.id', 'cases.decision_id').select(['cases.created_at', 'cases.closed_at', 'cases.status', 'decisions.body']).where('cases.closed_at', '>=', since).limit(MAX_ROWS).execute(),
      db.selectFrom('labels').select(['label', 'body']).where('created_at', '>=', since).limit(MAX_ROWS).execute(),
    ]);

    const byStatus: Record<string, number> = {};
    const byAge = AGE_BANDS.map(([label]) => ({ label, count: 0 }));
    let overdue = 0;
    let oldest: number | null = null;
    for (const c of open) {
      byStatus[c.status] = (byStatus[c.status] ?? 0) + 1;
      const age = now - c.created_at;
      byAge[AGE_BANDS.findIndex(([, max]) => age < max)]!.count++;
      if (c.deadline_at <= now) overdue++;
      oldest = Math.max(oldest ?? 0, Math.floor(age / 1000));
    }

    const buckets = new Map<number, { allow: number; challenge: number; review: number; deny: number }>();
    for (let b = Math.floor(since / bucketMs); b <= Math.floor(now / bucketMs); b++) buckets.set(b, { allow: 0, challenge: 0, review: 0, deny: 0 });
    for (const d of decided) {
      const row = buckets.get(Number(d.b));
      if (row !== undefined && d.outcome in row) row[d.outcome as keyof typeof row] += Number(d.n);
    }

    const durations = closed.map((c) => (c.closed_at! - c.created_at) / 1000).sort((a, b) => a - b);
    const by: Record<string, number> = {};
    for (const c of closed) {
      const how = (JSON.parse(c.body) as { resolution?: { by?: string } }).resolution?.by ?? c.status;
      by[how] = (by[how] ?? 0) + 1;
    }

    const byLabel: Record<string, number> = {};
    let overrides = 0;
    for (const l of labels) {
      byLabel[l.label] = (byLabel[l.label] ?? 0) + 1;
      const lineage = JSON.parse(l.body) as { verdict?: string; machine?: { recommendation?: string } };
      if (lineage.machine?.recommendation !== undefined && lineage.verdict !== lineage.machine.recommendation) overrides++;
    }

    return {
      window: { since: new Date(since).toISOString(), until: new Date(now).toISOString(), bucket_seconds: bucketMs / 1000 },
      queue: { open: open.length, by_status: byStatus, by_age: byAge, overdue, oldest_age_seconds: oldest },
      decisions: [...buckets].map(([b, counts]) => ({ bucket: new Date(b * bucketMs).toISOString(), ...counts })),
      time_to_decision: { closed: durations.length, p50_seconds: quantile(durations, 0.5), p90_seconds: quantile(durations, 0.9), by },
      verdicts: { total: labels.length, overrides, by_label: byLabel },
    };
  }
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
}
