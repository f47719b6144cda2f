/**
 * Schema migrations, in code so that they ship inside the package and run the same on both stores. Each
 * migration is told the dialect, so that the few type differences (auto-increment keys, floating point) stay
 * here and nowhere else.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

type MigrationFactory = (dialect: Dialect) => Migration;

const seqColumn = (dialect: Dialect) => (dialect === 'postgres' ? 'bigserial' : 'integer');
const bigint = 'bigint' as const;
const double = (dialect: Dialect) => (dialect === 'postgres' ? 'double precision' : 'real');

const migrations: Record<string, MigrationFactory> = {
  '0001_decisions': (dialect) => ({
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('decisions')
        .addColumn('seq', seqColumn(dialect), (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('event_time', bigint, (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('actor_key', 'text', (c) => c.notNull())
        .addColumn('ip', 'text')
        .addColumn('failed', 'smallint', (c) => c.notNull().defaultTo(0))
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('risk_score', double(dialect))
        .addColumn('risk_level', 'text', (c) => c.notNull())
        .addColumn('policy_version', 'text', (c) => c.notNull())
        .addColumn('learned', 'smallint', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute();
      // Every index costs on the hot path: each decision writes one page per index it touches, and an index on a
      // random key (a subject id) touches a different page for almost every row. Only what queries use today.
      await db.schema.createIndex('decisions_created').on('decisions').columns(['created_at']).execute();
      // Pending decisions only (challenges and reviews waiting for an answer): small, and final decisions never
      // touch it. Used to expire unanswered challenges.
      await db.schema
        .createIndex('decisions_pending')
        .on('decisions')
        .columns(['created_at'])
        .where(sql.ref('status'), '=', 'pending')
        .execute();

      await db.schema
        .createTable('learning')
        .addColumn('seq', seqColumn(dialect), (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('actor_key', 'text', (c) => c.notNull())
        .addColumn('decision_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();
      // No index by principal: baselines load from snapshots, and the tail after the snapshot watermark is
      // replayed at start (services/baselines.ts). Appends to this table touch only its last page.

      await db.schema
        .createTable('baselines')
        .addColumn('actor_key', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('learned_seq', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('baseline_global')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('learned_seq', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('policy_versions')
        .addColumn('version', 'text', (c) => c.primaryKey())
        .addColumn('activated_at', bigint, (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['policy_versions', 'baseline_global', 'baselines', 'learning', 'decisions']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  }),
  '0002_audit': (dialect) => ({
    async up(db: Kysely<unknown>) {
      const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
      await db.schema
        .createTable('audit_entries')
        .addColumn('seq', bigint, (c) => c.primaryKey())
        .addColumn('time', bigint, (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('actor_kind', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('decision_id', 'text')
        .addColumn('case_id', 'text')
        .addColumn('entry', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', bytes, (c) => c.notNull())
        .execute();
      // Search by actor, target, case, decision and time. Decisions are logged a batch per entry, so these grow
      // far slower than the decisions table.
      await db.schema.createIndex('audit_actor').on('audit_entries').columns(['actor_id', 'seq']).execute();
      await db.schema.createIndex('audit_target').on('audit_entries').columns(['target_type', 'target_id', 'seq']).execute();
      await db.schema.createIndex('audit_decision').on('audit_entries').columns(['decision_id']).execute();
      await db.schema.createIndex('audit_case').on('audit_entries').columns(['case_id']).execute();
      await db.schema.createIndex('audit_time').on('audit_entries').columns(['time']).execute();
      // Complete interior nodes of the Merkle tree (level ≥ 1; leaves are audit_entries.leaf_hash).
      await db.schema
        .createTable('audit_nodes')
        .addColumn('level', 'smallint', (c) => c.notNull())
        .addColumn('idx', bigint, (c) => c.notNull())
        .addColumn('hash', bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_nodes_pk', ['level', 'idx'])
        .execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('size', bigint, (c) => c.primaryKey())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('root', bytes, (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('loopgate_state')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      // The audit entry (a batch) that recorded each decision.
      await db.schema.alterTable('decisions').addColumn('audit_seq', bigint).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('decisions').dropColumn('audit_seq').execute();
      for (const t of ['loopgate_state', 'audit_checkpoints', 'audit_nodes', 'audit_entries']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  }),
};

export class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(Object.entries(migrations).map(([name, make]) => [name, make(this.dialect)]));
  }
}
