/**
 * The storage port. One implementation per database; everything above this file is unaware of which one runs.
 * Every query is built with Kysely from one schema (schema.ts). Reads run directly; writes go through
 * `writeQueries`, which runs compiled queries in one durable transaction: on PostgreSQL a Kysely transaction, on
 * SQLite the single writer thread (sqlite-writer.ts). The decision batch, the hot path, has its own method.
 */
import { Kysely, Migrator, type CompiledQuery, type Insertable } from 'kysely';
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

/** A learning entry with the body of the decision it points at. */
export interface LearningEntry {
  seq: number;
  actor_key: string;
  body: string;
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

  /** Writes a batch of decisions atomically and durably. Called by the group committer only. */
  abstract commitDecisions(batch: DecisionWrite[]): Promise<DecisionWriteResult[]>;

  /** Runs compiled queries in one transaction; resolves once it is durable. */
  protected abstract writeQueries(queries: CompiledQuery[]): Promise<void>;

  /** Opens what writing needs (the SQLite writer thread); called after migrations. */
  abstract start(): Promise<void>;

  abstract close(): Promise<void>;

  /** Creates or upgrades the schema. Runs before `start()`. */
  async migrate(): Promise<{ applied: string[] }> {
    const migrator = new Migrator({ db: this.db, provider: new CodeMigrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) throw error;
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

  /** All learning entries after `afterSeq`, a page at a time, with the decisions they point at (replay at start). */
  async learningPage(afterSeq: number, limit: number): Promise<LearningEntry[]> {
    return this.db
      .selectFrom('learning')
      .innerJoin('decisions', 'decisions.id', 'learning.decision_id')
      .select(['learning.seq as seq', 'learning.actor_key as actor_key', 'decisions.body as body'])
      .where('learning.seq', '>', afterSeq)
      .orderBy('learning.seq')
      .limit(limit)
      .execute();
  }

  async saveBaselineSnapshots(rows: Array<{ actor_key: string; state: string; learned_seq: number }>, nowMs: number): Promise<void> {
    if (rows.length === 0) return;
    const query = this.db
      .insertInto('baselines')
      .values(rows.map((r) => ({ ...r, updated_at: nowMs })))
      .onConflict((oc) =>
        oc.column('actor_key').doUpdateSet((eb) => ({
          state: eb.ref('excluded.state'),
          learned_seq: eb.ref('excluded.learned_seq'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      );
    await this.writeQueries([query.compile()]);
  }

  async loadGlobalSnapshot(): Promise<Snapshot | undefined> {
    return this.db.selectFrom('baseline_global').select(['state', 'learned_seq']).where('id', '=', 'global').executeTakeFirst();
  }

  /** Saves the global statistics and the snapshot watermark (see services/baselines.ts). */
  async saveGlobalSnapshot(state: string, learnedSeq: number, nowMs: number): Promise<void> {
    const query = this.db
      .insertInto('baseline_global')
      .values({ id: 'global', state, learned_seq: learnedSeq, updated_at: nowMs })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          state: eb.ref('excluded.state'),
          learned_seq: eb.ref('excluded.learned_seq'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      );
    await this.writeQueries([query.compile()]);
  }

  /** Login and MFA attempts decided since a time, newest first, to warm up the velocity detector after a restart. */
  async recentAttempts(sinceMs: number, limit: number): Promise<RecentAttempt[]> {
    return this.db
      .selectFrom('decisions')
      .select(['event_time', 'actor_key', 'ip', 'failed'])
      .where('created_at', '>=', sinceMs)
      .where('event_type', 'in', ['login', 'mfa'])
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
  }

  /** Pending challenges decided before a time (candidates for expiry), oldest first. */
  async pendingChallenges(createdBefore: number, limit: number): Promise<StoredDecision[]> {
    return this.db
      .selectFrom('decisions')
      .select(['seq', 'id', 'status', 'body'])
      .where('status', '=', 'pending')
      .where('created_at', '<', createdBefore)
      .where('outcome', '=', 'challenge')
      .orderBy('created_at')
      .limit(limit)
      .execute();
  }

  /** Makes pending decisions final (only those still pending: a concurrent resolution wins). */
  async resolvePending(updates: Array<{ id: string; body: string }>): Promise<void> {
    if (updates.length === 0) return;
    await this.writeQueries(
      updates.map((u) =>
        this.db.updateTable('decisions').set({ status: 'final', body: u.body }).where('id', '=', u.id).where('status', '=', 'pending').compile(),
      ),
    );
  }

  async recordPolicyVersion(version: string, files: string, nowMs: number): Promise<void> {
    const query = this.db
      .insertInto('policy_versions')
      .values({ version, files, activated_at: nowMs })
      .onConflict((oc) => oc.column('version').doNothing());
    await this.writeQueries([query.compile()]);
  }
}
