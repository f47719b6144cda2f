/**
 * PostgreSQL through node-postgres: the production store. Commits are durable when they return
 * (synchronous_commit stays on), so the group-committed batch is one transaction with multi-row inserts.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely';
import type { Database } from './schema.js';
import type { PreparedAudit } from './audit-tree.js';
import { LoopgateError } from '../core/errors.js';
import { Store, type DecisionWrite, type DecisionWriteResult, type GuardedQuery } from './store.js';

// BIGINT (int8) columns hold millisecond times and sequence numbers, well inside Number's safe range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export interface PostgresOptions {
  poolSize: number;
}

export class PostgresStore extends Store {
  readonly dialect = 'postgres' as const;
  readonly location: string;

  static open(url: string, options: PostgresOptions): PostgresStore {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize });
    // An idle connection the server ends (a restart, a failover, an administrator) is reported here; unhandled, it
    // would crash the process. The pool has already dropped it and the next query connects anew; a query that was
    // running fails on its own and its caller reports it.
    pool.on('error', () => undefined);
    return new PostgresStore(pool, url);
  }

  private constructor(
    readonly pool: pg.Pool,
    url: string,
  ) {
    super(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
    this.location = redactUrl(url);
  }

  protected async writeDecisionBatch(batch: DecisionWrite[], audit: PreparedAudit | undefined): Promise<DecisionWriteResult[]> {
    return this.db.transaction().execute(async (trx) => {
      await trx.insertInto('decisions').values(batch.map((w) => w.decision)).execute();
      for (const w of batch) {
        for (const u of w.updates) {
          await trx
            .updateTable('decisions')
            .set({ status: u.status, body: u.body })
            .where('id', '=', u.id)
            .where('status', '=', 'pending')
            .execute();
        }
        for (const q of w.extra ?? []) await trx.executeQuery(q);
      }
      const learning = batch.flatMap((w) => w.learning);
      const seqs = new Map<string, number>();
      if (learning.length > 0) {
        const rows = await trx.insertInto('learning').values(learning).returning(['seq', 'decision_id', 'source']).execute();
        for (const r of rows) seqs.set(`${r.decision_id}\u0000${r.source}`, r.seq);
      }
      for (const q of this.auditInserts(audit)) await trx.executeQuery(q);
      return batch.map((w) => ({ learningSeqs: w.learning.map((l) => seqs.get(`${l.decision_id}\u0000${l.source}`)!) }));
    });
  }

  async start(): Promise<void> {
    // The pool connects on demand; commits are durable when they return (synchronous_commit).
    await this.loadAuditTree();
  }

  protected async writeQueries(queries: Array<CompiledQuery | GuardedQuery>, audit?: PreparedAudit): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const q of queries) {
        if ('sql' in q) {
          await trx.executeQuery(q);
          continue;
        }
        const r = await trx.executeQuery(q.query);
        if (q.expectRows !== undefined && Number(r.numAffectedRows ?? -1) !== q.expectRows) {
          throw new LoopgateError(q.code ?? 'LOOPGATE_ERR_CONFLICT', q.conflict ?? 'the row changed meanwhile; read it again');
        }
      }
      for (const q of this.auditInserts(audit)) await trx.executeQuery(q);
    });
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}
