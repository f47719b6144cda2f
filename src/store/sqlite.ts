/**
 * SQLite through better-sqlite3: the embedded default. The connection on the event loop only reads (and runs
 * migrations before start); every write goes to the single writer thread (sqlite-writer.ts), which commits each
 * batch in one transaction with `synchronous=FULL`. The decision batch uses statements prepared once in the
 * writer from SQL that Kysely generated from the schema.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type CompiledQuery, type Insertable } from 'kysely';
import type { PreparedAudit } from './audit-tree.js';
import type { AuditEntriesTable, AuditNodesTable, Database } from './schema.js';
import { SqliteWriter, type WriteStep } from './sqlite-writer.js';
import { staleToConflict, Store, type GuardedQuery, type DecisionWrite, type DecisionWriteResult, type NewDecisionRow, type NewLearningRow } from './store.js';

const DECISION_COLUMNS = [
  'id', 'created_at', 'event_time', 'event_type', 'subject_id', 'actor_key', 'ip', 'failed', 'outcome', 'status',
  'risk_score', 'risk_level', 'policy_version', 'learned', 'body', 'audit_seq',
] as const satisfies ReadonlyArray<keyof NewDecisionRow>;
const LEARNING_COLUMNS = ['actor_key', 'decision_id', 'source', 'created_at'] as const satisfies ReadonlyArray<keyof NewLearningRow>;
const AUDIT_ENTRY_COLUMNS = [
  'seq', 'time', 'action', 'actor_kind', 'actor_id', 'target_type', 'target_id', 'decision_id', 'case_id', 'entry', 'leaf_hash',
] as const satisfies ReadonlyArray<keyof Insertable<AuditEntriesTable>>;
const AUDIT_NODE_COLUMNS = ['level', 'idx', 'hash'] as const satisfies ReadonlyArray<keyof Insertable<AuditNodesTable>>;

/** Audit rows as one prepared statement per row: cheaper than building and parsing a multi-row insert per batch. */
function auditSteps(audit: PreparedAudit | undefined): WriteStep[] {
  if (audit === undefined) return [];
  return [
    { name: 'insertAuditEntry', params: [], rows: audit.entries.map((e) => AUDIT_ENTRY_COLUMNS.map((c) => e[c] ?? null)) },
    { name: 'insertAuditNode', params: [], rows: audit.nodes.map((n) => AUDIT_NODE_COLUMNS.map((c) => n[c])) },
  ];
}

export class SqliteStore extends Store {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  // One writer thread commits jobs in the order they were posted: appends can be pipelined.
  protected override readonly ordersWrites = true;
  private writer: SqliteWriter | undefined;

  static open(path: string): SqliteStore {
    const file = resolve(path);
    mkdirSync(dirname(file), { recursive: true });
    const sqlite = new BetterSqlite3(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    // Checkpoints happen in the writer thread, between batches, never on the event loop.
    sqlite.pragma('wal_autocheckpoint = 0');
    return new SqliteStore(sqlite, file);
  }

  private constructor(
    readonly sqlite: BetterSqlite3.Database,
    private readonly file: string,
  ) {
    super(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }));
    this.location = file;
  }

  async start(): Promise<void> {
    if (this.writer !== undefined) return;
    await this.loadAuditTree();
    const placeholders = <K extends string>(cols: readonly K[]) => Object.fromEntries(cols.map((c) => [c, null])) as Record<K, null>;
    const statements = {
      insertDecision: this.db.insertInto('decisions').values(placeholders(DECISION_COLUMNS) as never).compile().sql,
      insertLearning: this.db.insertInto('learning').values(placeholders(LEARNING_COLUMNS) as never).compile().sql,
      insertAuditEntry: this.db.insertInto('audit_entries').values(placeholders(AUDIT_ENTRY_COLUMNS) as never).compile().sql,
      insertAuditNode: this.db.insertInto('audit_nodes').values(placeholders(AUDIT_NODE_COLUMNS) as never).compile().sql,
      updateDecision: this.db
        .updateTable('decisions')
        .set({ status: '', body: '' })
        .where('id', '=', '')
        .where('status', '=', 'pending')
        .compile().sql,
    };
    this.writer = new SqliteWriter({ file: this.file, statements });
    await this.writer.whenReady();
    // From here on this connection only reads: a write on it would bypass the writer and fail loudly.
    this.sqlite.pragma('query_only = ON');
  }

  private requireWriter(): SqliteWriter {
    if (this.writer === undefined) throw new Error('SqliteStore.start() has not been called');
    return this.writer;
  }

  protected async writeDecisionBatch(batch: DecisionWrite[], audit: PreparedAudit | undefined): Promise<DecisionWriteResult[]> {
    const steps: WriteStep[] = [];
    for (const w of batch) {
      steps.push({ name: 'insertDecision', params: DECISION_COLUMNS.map((c) => w.decision[c] ?? null) });
      for (const u of w.updates) steps.push({ name: 'updateDecision', params: [u.status, u.body, u.id, 'pending'] });
      for (const q of w.extra ?? []) steps.push({ sql: q.sql, params: [...q.parameters] });
      for (const l of w.learning) steps.push({ name: 'insertLearning', params: LEARNING_COLUMNS.map((c) => l[c]), capture: true });
    }
    const seqs = await this.requireWriter().write([...steps, ...auditSteps(audit)]);
    let next = 0;
    return batch.map((w) => ({ learningSeqs: w.learning.map(() => seqs[next++]!) }));
  }

  protected async writeQueries(queries: Array<CompiledQuery | GuardedQuery>, audit?: PreparedAudit): Promise<void> {
    const steps = queries.map((q): WriteStep => {
      if ('sql' in q) return { sql: q.sql, params: [...q.parameters] };
      const step: WriteStep = { sql: q.query.sql, params: [...q.query.parameters], expect: q.expectRows, expectMessage: q.conflict };
      if (q.code !== undefined) step.expectCode = q.code;
      return step;
    });
    try {
      await this.requireWriter().write([...steps, ...auditSteps(audit)]);
    } catch (e) {
      throw staleToConflict(e);
    }
  }

  async close(): Promise<void> {
    await this.writer?.close();
    await this.db.destroy();
  }
}
