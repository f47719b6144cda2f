/**
 * SQLite through better-sqlite3: the embedded default. One connection serves Kysely (reads, occasional writes)
 * and the hot-path batch insert, which runs synchronously inside one transaction with statements prepared once
 * from SQL that Kysely generated from the same schema.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely';
import type { Database } from './schema.js';
import { Store, type DecisionWrite, type DecisionWriteResult, type NewDecisionRow, type NewLearningRow } from './store.js';
import { WalSync } from './wal-sync.js';

const DECISION_COLUMNS = [
  'id', 'created_at', 'event_time', 'event_type', 'subject_id', 'actor_key', 'ip', 'failed', 'outcome', 'status',
  'risk_score', 'risk_level', 'policy_version', 'learned', 'body',
] as const satisfies ReadonlyArray<keyof NewDecisionRow>;
const LEARNING_COLUMNS = ['actor_key', 'decision_id', 'source', 'created_at', 'observation'] as const satisfies ReadonlyArray<
  keyof NewLearningRow
>;

export class SqliteStore extends Store {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  private readonly walSync: WalSync;
  private stmts: { decision: BetterSqlite3.Statement; learning: BetterSqlite3.Statement; update: BetterSqlite3.Statement } | undefined;

  static open(path: string): SqliteStore {
    const file = resolve(path);
    mkdirSync(dirname(file), { recursive: true });
    const sqlite = new BetterSqlite3(file);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL: commits do not fsync; WalSync makes them durable off the event loop (see wal-sync.ts).
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    return new SqliteStore(sqlite, file);
  }

  private constructor(
    readonly sqlite: BetterSqlite3.Database,
    file: string,
  ) {
    super(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }));
    this.location = file;
    this.walSync = new WalSync(`${file}-wal`);
  }

  /** Statements can only be prepared once the tables exist, so this runs lazily after migrations. */
  private prepared(): NonNullable<SqliteStore['stmts']> {
    if (this.stmts !== undefined) return this.stmts;
    const placeholder = <K extends string>(cols: readonly K[]) => Object.fromEntries(cols.map((c) => [c, null])) as Record<K, null>;
    const decisionSql: CompiledQuery = this.db.insertInto('decisions').values(placeholder(DECISION_COLUMNS) as never).compile();
    const learningSql: CompiledQuery = this.db.insertInto('learning').values(placeholder(LEARNING_COLUMNS) as never).compile();
    const updateSql: CompiledQuery = this.db
      .updateTable('decisions')
      .set({ status: '', body: '' })
      .where('id', '=', '')
      .compile();
    this.stmts = {
      decision: this.sqlite.prepare(decisionSql.sql),
      learning: this.sqlite.prepare(learningSql.sql),
      update: this.sqlite.prepare(updateSql.sql),
    };
    return this.stmts;
  }

  async appendDecisions(batch: DecisionWrite[]): Promise<DecisionWriteResult[]> {
    const { decision, learning, update } = this.prepared();
    // A Kysely call elsewhere may be between BEGIN and COMMIT on this connection; never interleave with it.
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
    const results = this.sqlite.transaction(() =>
      batch.map((w) => {
        decision.run(DECISION_COLUMNS.map((c) => w.decision[c] ?? null));
        for (const u of w.updates) update.run(u.status, u.body, u.id);
        return {
          learningSeqs: w.learning.map((l) => Number(learning.run(LEARNING_COLUMNS.map((c) => l[c])).lastInsertRowid)),
        };
      }),
    )();
    await this.walSync.sync();
    return results;
  }

  async durable(): Promise<void> {
    await this.walSync.sync();
  }

  get fsyncCount(): number {
    return this.walSync.syncCount;
  }

  async close(): Promise<void> {
    await this.walSync.close();
    await this.db.destroy();
  }
}
