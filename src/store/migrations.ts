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
      // On SQLite an INTEGER PRIMARY KEY is the row id: entries are stored in sequence order with no second index.
      const position = dialect === 'postgres' ? bigint : 'integer';
      await db.schema
        .createTable('audit_entries')
        .addColumn('seq', position, (c) => c.primaryKey())
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
      // Search by actor, target, case, decision and time. Each index costs every append a page write, so the
      // decision and case indexes hold only the entries that have one (most have neither).
      await db.schema.createIndex('audit_actor').on('audit_entries').columns(['actor_id', 'seq']).execute();
      await db.schema.createIndex('audit_target').on('audit_entries').columns(['target_type', 'target_id', 'seq']).execute();
      await db.schema.createIndex('audit_decision').on('audit_entries').column('decision_id').where(sql.ref('decision_id'), 'is not', null).execute();
      await db.schema.createIndex('audit_case').on('audit_entries').column('case_id').where(sql.ref('case_id'), 'is not', null).execute();
      await db.schema.createIndex('audit_time').on('audit_entries').columns(['time']).execute();
      // Complete interior nodes of the Merkle tree (level ≥ 1; leaves are audit_entries.leaf_hash), clustered by
      // their key on SQLite.
      await db.schema
        .createTable('audit_nodes')
        .addColumn('level', 'smallint', (c) => c.notNull())
        .addColumn('idx', bigint, (c) => c.notNull())
        .addColumn('hash', bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_nodes_pk', ['level', 'idx'])
        .$call((b) => (dialect === 'sqlite' ? b.modifyEnd(sql`without rowid`) : b))
        .execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('size', position, (c) => c.primaryKey())
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
      for (const statement of auditGuards(dialect)) await sql.raw(statement).execute(db);
    },
    async down(db: Kysely<unknown>) {
      if (dialect === 'postgres') await sql.raw('DROP FUNCTION IF EXISTS loopgate_audit_guard() CASCADE').execute(db);
      await db.schema.alterTable('decisions').dropColumn('audit_seq').execute();
      for (const t of ['loopgate_state', 'audit_checkpoints', 'audit_nodes', 'audit_entries']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  }),
  '0003_review': () => ({
    async up(db: Kysely<unknown>) {
      // People and services. The id is the account name (immutable): policies compare it with event fields such
      // as `case.subject.manager == reviewer.id`.
      await db.schema
        .createTable('principals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('sponsor', 'text')
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('roles')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('permissions', 'text', (c) => c.notNull())
        .addColumn('builtin', 'smallint', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('role_bindings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('condition', 'text')
        .addColumn('expires_at', bigint)
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('role_bindings_principal').on('role_bindings').column('principal_id').execute();
      // Passwords (argon2id), TOTP secrets (with the last accepted time step: the replay guard) and passkeys.
      await db.schema
        .createTable('credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('counter', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('confirmed', 'smallint', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('last_used_at', bigint)
        .execute();
      await db.schema.createIndex('credentials_principal').on('credentials').columns(['principal_id', 'type']).execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('expires_at', bigint)
        .addColumn('revoked_at', bigint)
        .addColumn('last_used_at', bigint)
        .execute();
      // Sessions are found by the hash of their token; the token itself is never stored.
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('principal_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('acr', 'text', (c) => c.notNull())
        .addColumn('amr', 'text', (c) => c.notNull())
        .addColumn('auth_time', bigint, (c) => c.notNull())
        .addColumn('csrf_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .addColumn('revoked_at', bigint)
        .execute();
      // Failed credential checks per key (account, address), for rate limits and lockout.
      await db.schema
        .createTable('auth_failures')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('window_start', bigint, (c) => c.notNull())
        .addColumn('locked_until', bigint)
        .execute();
      // One-time challenges: WebAuthn ceremonies and verdict signatures (the payload the challenge commits to).
      await db.schema
        .createTable('challenges')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('principal_id', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .addColumn('used_at', bigint)
        .execute();
      await db.schema
        .createTable('cases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('decision_id', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('subject_id', 'text', (c) => c.notNull())
        .addColumn('risk_level', 'text', (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('deadline_at', bigint, (c) => c.notNull())
        .addColumn('warned_at', bigint)
        .addColumn('escalations', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('claimed_by', 'text')
        .addColumn('lease_until', bigint)
        .addColumn('outcome', 'text')
        .addColumn('closed_at', bigint)
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cases_status').on('cases').columns(['status', 'created_at']).execute();
      await db.schema.createIndex('cases_deadline').on('cases').columns(['deadline_at']).where(sql.ref('closed_at'), 'is', null).execute();
      await db.schema
        .createTable('verdicts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('case_id', 'text', (c) => c.notNull())
        .addColumn('reviewer_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        // One person never counts twice, even if two requests race.
        .addUniqueConstraint('verdicts_one_per_reviewer', ['case_id', 'reviewer_id'])
        .execute();
      // Human labels with their lineage: what the learning pipeline trains on.
      await db.schema
        .createTable('labels')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('decision_id', 'text', (c) => c.notNull())
        .addColumn('case_id', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('baseline_exceptions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('actor_key', 'text', (c) => c.notNull())
        .addColumn('feature', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('until', bigint, (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('baseline_exceptions_actor').on('baseline_exceptions').columns(['actor_key', 'until']).execute();
      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('active', 'smallint', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('webhook_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', bigint, (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('delivered_at', bigint)
        .execute();
      await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['next_attempt_at']).where(sql.ref('status'), '=', 'pending').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of [
        'webhook_deliveries', 'webhooks', 'baseline_exceptions', 'labels', 'verdicts', 'cases', 'challenges',
        'auth_failures', 'sessions', 'api_keys', 'credentials', 'role_bindings', 'roles', 'principals',
      ]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  }),
  // When a case's deadline warning is due (null once sent, or when its route has none): the sweeper's index.
  '0004_review_indexes': () => ({
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('cases').addColumn('warn_at', 'bigint').execute();
      await db.schema.createIndex('cases_warn').on('cases').columns(['warn_at']).where(sql.ref('warn_at'), 'is not', null).execute();
      await db.schema.createIndex('cases_lease').on('cases').columns(['lease_until']).where(sql.ref('lease_until'), 'is not', null).execute();
      await db.schema.createIndex('labels_decision').on('labels').columns(['decision_id']).execute();
      await db.schema.createIndex('verdicts_reviewer').on('verdicts').columns(['reviewer_id', 'created_at']).execute();
      // A passkey's credential id, unique: usernameless sign-in finds its owner by it, and a second registration of
      // one id (even racing) is refused by the database.
      await db.schema.alterTable('credentials').addColumn('credential_id', 'text').execute();
      await db.schema.createIndex('credentials_credential_id').on('credentials').column('credential_id').unique().execute();
    },
    async down(db: Kysely<unknown>) {
      for (const i of ['credentials_credential_id', 'verdicts_reviewer', 'labels_decision', 'cases_lease', 'cases_warn']) await db.schema.dropIndex(i).ifExists().execute();
      await db.schema.alterTable('credentials').dropColumn('credential_id').execute();
      await db.schema.alterTable('cases').dropColumn('warn_at').execute();
    },
  }),
};

const APPEND_ONLY = ['audit_entries', 'audit_nodes', 'audit_checkpoints'];

/** The names of the guard triggers, to check that they are still there. */
export function auditGuardTriggers(dialect: Dialect): string[] {
  return dialect === 'sqlite'
    ? ['audit_entries_in_sequence', ...APPEND_ONLY.flatMap((t) => [`${t}_no_update`, `${t}_no_delete`])]
    : ['audit_entries_in_sequence', ...APPEND_ONLY.map((t) => `${t}_append_only`)];
}

/**
 * The database's own guards on the audit tables: entries are appended in sequence (no gap, no duplicate), and
 * nothing in the log is ever updated or deleted. Someone with the right to change the schema can drop them; then
 * `loopgate audit verify` still finds what they did, and the next start records their absence and restores them.
 * The sequence guard also lets the SQLite writer pipeline appends (store.ts, `ordersWrites`): an entry whose
 * predecessor failed to commit is refused. The statements can be run again (they replace what is there).
 */
export function auditGuards(dialect: Dialect): string[] {
  if (dialect === 'sqlite') {
    return [
      `CREATE TRIGGER IF NOT EXISTS audit_entries_in_sequence BEFORE INSERT ON audit_entries
         WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), -1) + 1 FROM audit_entries)
         BEGIN SELECT RAISE(ABORT, 'audit entries are appended in sequence'); END`,
      ...APPEND_ONLY.flatMap((t) => [
        `CREATE TRIGGER IF NOT EXISTS ${t}_no_update BEFORE UPDATE ON ${t} BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
        `CREATE TRIGGER IF NOT EXISTS ${t}_no_delete BEFORE DELETE ON ${t} BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
      ]),
    ];
  }
  return [
    `CREATE OR REPLACE FUNCTION loopgate_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF TG_OP <> 'INSERT' THEN
         RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'integrity_constraint_violation';
       END IF;
       IF TG_TABLE_NAME = 'audit_entries' AND NEW.seq IS DISTINCT FROM (SELECT coalesce(max(seq), -1) + 1 FROM audit_entries) THEN
         RAISE EXCEPTION 'audit entries are appended in sequence' USING ERRCODE = 'integrity_constraint_violation';
       END IF;
       RETURN NEW;
     END $$`,
    'DROP TRIGGER IF EXISTS audit_entries_in_sequence ON audit_entries',
    'CREATE TRIGGER audit_entries_in_sequence BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION loopgate_audit_guard()',
    ...APPEND_ONLY.flatMap((t) => [
      `DROP TRIGGER IF EXISTS ${t}_append_only ON ${t}`,
      `CREATE TRIGGER ${t}_append_only BEFORE UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION loopgate_audit_guard()`,
    ]),
  ];
}

export class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(Object.entries(migrations).map(([name, make]) => [name, make(this.dialect)]));
  }
}
