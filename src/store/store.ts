/**
 * The storage port. One implementation per database; everything above this file is unaware of which one runs.
 * Reads and occasional writes go through Kysely and are identical for both; the group-committed append of
 * decisions is specialised per dialect because it is the hot path.
 */
import { Kysely, Migrator, type Insertable } from 'kysely';
import { CodeMigrationProvider, type Dialect } from './migrations.js';
import type { Database, DecisionsTable, LearningTable } from './schema.js';

export type NewDecisionRow = Omit<Insertable<DecisionsTable>, 'seq'> & { seq?: never };
export type NewLearningRow = Omit<Insertable<LearningTable>, 'seq'> & { seq?: never };

/** Everything one decision writes, committed atomically with the rest of its batch. */
export interface DecisionWrite {
  decision: NewDecisionRow;
  learning: NewLearningRow[];
  /** Decisions this one resolves (e.g. an MFA event answering a challenge). */
  updates: Array<{ id: string; status: string; body: string }>;
}

export interface DecisionWriteResult {
  /** Sequence numbers of the learning rows, in the order given. */
  learningSeqs: number[];
}

export interface StoredDecision {
  seq: number;
  id: string;
  status: string;
  body: string;
}

export interface LearningEntry {
  seq: number;
  actor_key: string;
  observation: string;
}

export interface RecentAttempt {
  event_time: number;
  actor_key: string;
  ip: string | null;
  failed: number;
}

export interface Snapshot {
  state: string;
  learned_seq: number;
}

export abstract class Store {
  abstract readonly dialect: Dialect;
  /** Human-readable location (file path or URL without password), for logs. */
  abstract readonly location: string;

  constructor(readonly db: Kysely<Database>) {}

  /** Writes a batch atomically and durably. Called by the group committer only. */
  abstract appendDecisions(batch: DecisionWrite[]): Promise<DecisionWriteResult[]>;

  /** Makes every write so far durable (SQLite: syncs the WAL; PostgreSQL commits are already durable). */
  abstract durable(): Promise<void>;

  abstract close(): Promise<void>;

  async migrate(): Promise<{ applied: string[] }> {
    const migrator = new Migrator({ db: this.db, provider: new CodeMigrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
    await this.durable();
    return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('policy_versions').select('version').limit(1).execute();
  }

  async getDecision(id: string): Promise<StoredDecision | undefined> {
    return this.db.selectFrom('decisions').select(['seq', 'id', 'status', 'body']).where('id', '=', id).executeTakeFirst();
  }

  async countDecisions(): Promise<number> {
    const r = await this.db.selectFrom('decisions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async countLearning(actorKey?: string): Promise<number> {
    let q = this.db.selectFrom('learning').select((eb) => eb.fn.countAll<number>().as('n'));
    if (actorKey !== undefined) q = q.where('actor_key', '=', actorKey);
    const r = await q.executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async loadBaselineSnapshot(actorKey: string): Promise<Snapshot | undefined> {
    return this.db
      .selectFrom('baselines')
      .select(['state', 'learned_seq'])
      .where('actor_key', '=', actorKey)
      .executeTakeFirst();
  }

  async learningFor(actorKey: string, afterSeq: number): Promise<LearningEntry[]> {
    return this.db
      .selectFrom('learning')
      .select(['seq', 'actor_key', 'observation'])
      .where('actor_key', '=', actorKey)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .execute();
  }

  /** All learning entries after `afterSeq`, a page at a time (for rebuilding the global statistics). */
  async learningPage(afterSeq: number, limit: number): Promise<LearningEntry[]> {
    return this.db
      .selectFrom('learning')
      .select(['seq', 'actor_key', 'observation'])
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
  }

  async saveBaselineSnapshots(rows: Array<{ actor_key: string; state: string; learned_seq: number }>, nowMs: number): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto('baselines')
      .values(rows.map((r) => ({ ...r, updated_at: nowMs })))
      .onConflict((oc) =>
        oc.column('actor_key').doUpdateSet((eb) => ({
          state: eb.ref('excluded.state'),
          learned_seq: eb.ref('excluded.learned_seq'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  async loadGlobalSnapshot(): Promise<Snapshot | undefined> {
    return this.db.selectFrom('baseline_global').select(['state', 'learned_seq']).where('id', '=', 'global').executeTakeFirst();
  }

  async saveGlobalSnapshot(state: string, learnedSeq: number, nowMs: number): Promise<void> {
    await this.db
      .insertInto('baseline_global')
      .values({ id: 'global', state, learned_seq: learnedSeq, updated_at: nowMs })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          state: eb.ref('excluded.state'),
          learned_seq: eb.ref('excluded.learned_seq'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  /** Login and MFA attempts since a time, newest first, to warm up the velocity detector after a restart. */
  async recentAttempts(sinceMs: number, limit: number): Promise<RecentAttempt[]> {
    return this.db
      .selectFrom('decisions')
      .select(['event_time', 'actor_key', 'ip', 'failed'])
      .where('event_time', '>=', sinceMs)
      .where('event_type', 'in', ['login', 'mfa'])
      .orderBy('event_time', 'desc')
      .limit(limit)
      .execute();
  }

  async recordPolicyVersion(version: string, files: string, nowMs: number): Promise<void> {
    await this.db
      .insertInto('policy_versions')
      .values({ version, files, activated_at: nowMs })
      .onConflict((oc) => oc.column('version').doNothing())
      .execute();
    await this.durable();
  }
}
