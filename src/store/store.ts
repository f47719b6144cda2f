/**
 * The storage port. One implementation per database; everything above this file is unaware of which one runs.
 * Every query is built with Kysely from one schema (schema.ts). Reads run directly; writes go through
 * `writeQueries`, which runs compiled queries in one durable transaction: on PostgreSQL a Kysely transaction, on
 * SQLite the single writer thread (sqlite-writer.ts). The decision batch, the hot path, has its own method.
 */
import { Kysely, Migrator, sql, type CompiledQuery, type Insertable, type Selectable } from 'kysely';
import type { AuditInput } from '../core/audit/entry.js';
import { decompose, nodeKey, type NodeId } from '../core/audit/proofs.js';
import { isErrorCode, LoopgateError, type ErrorCode } from '../core/errors.js';
import type { Hash } from '../verify/merkle.js';
import { AuditTreeState, type PreparedAudit } from './audit-tree.js';
import { auditGuards, auditGuardTriggers, CodeMigrationProvider, type Dialect } from './migrations.js';
import type { AuditCheckpointsTable, AuditEntriesTable, Database, DecisionsTable, LearningTable } from './schema.js';

export type NewDecisionRow = Omit<Insertable<DecisionsTable>, 'seq'> & { seq?: never };
export type NewLearningRow = Omit<Insertable<LearningTable>, 'seq'> & { seq?: never };

/** Everything one decision writes, committed atomically with the rest of its batch. */
export interface DecisionWrite {
  decision: NewDecisionRow;
  learning: NewLearningRow[];
  /** Decisions this one resolves (e.g. an MFA event answering a challenge). */
  updates: Array<{ id: string; status: string; body: string; digest?: string }>;
  /** SHA-256 of the decision's body, when the caller computed it already (the scoring thread does). */
  digest?: string;
  /** Other rows the decision brings with it (the case a `review` opens, its webhook deliveries). */
  extra?: CompiledQuery[];
  /** Audit entries of those rows, besides the batch's own entry. */
  audit?: AuditInput[];
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

/** Audit entries to append in the same transaction as the change they record. */
export interface AuditRequest {
  inputs: AuditInput[];
  timeMs: number;
}

export type StoredAuditEntry = Pick<Selectable<AuditEntriesTable>, 'seq' | 'entry' | 'leaf_hash'>;
export type StoredCheckpoint = Selectable<AuditCheckpointsTable>;

export interface AuditSearch {
  actor?: string;
  target?: { type?: string; id: string };
  decision?: string;
  case?: string;
  action?: string;
  since?: number;
  until?: number;
  /** Entries with seq greater than this (paging). */
  after?: number;
  limit: number;
}

/** A write that must change exactly `expectRows` rows, or the whole transaction fails with LOOPGATE_ERR_CONFLICT. */
export interface GuardedQuery {
  query: CompiledQuery;
  expectRows?: number;
  /** The conflict's detail for the caller. */
  conflict?: string;
  /** The error code when the guard fails (default LOOPGATE_ERR_CONFLICT), e.g. LOOPGATE_ERR_NONCE_REUSED. */
  code?: ErrorCode;
}

/** The SQLite writer reports a failed row-count guard by its code (LOOPGATE_STALE or the guard's own); it becomes the caller's error. */
export function staleToConflict(e: unknown): unknown {
  const code = e instanceof Error ? (e as { code?: string }).code : undefined;
  if (code === 'LOOPGATE_STALE') return new LoopgateError('LOOPGATE_ERR_CONFLICT', (e as Error).message);
  if (code !== undefined && isErrorCode(code)) return new LoopgateError(code, (e as Error).message);
  return e;
}

export abstract class Store {
  abstract readonly dialect: Dialect;
  /** Human-readable location (file path or URL without password), for logs. */
  abstract readonly location: string;
  /** The audit tree as committed. */
  private committedTree: AuditTreeState | undefined;
  /** The audit tree after every write prepared so far (ahead of `committedTree` while writes are in flight). */
  private preparedTree: AuditTreeState | undefined;
  /** Bumped when a write that appends fails: writes prepared on top of it must be prepared again. */
  private generation = 0;
  /** Writes that append audit entries run one after another (unless the store keeps their order itself). */
  private writeChain: Promise<unknown> = Promise.resolve();

  /**
   * True when writes reach the database one at a time in the order they were submitted (SQLite's writer thread).
   * Appends are then pipelined: the next write is prepared against the tree the previous one will leave and sent
   * while that one commits. The database refuses an entry whose predecessor is missing (a trigger), so a write
   * prepared on top of one that failed fails too, and is prepared again.
   */
  protected readonly ordersWrites: boolean = false;

  constructor(readonly db: Kysely<Database>) {}

  /** Writes decision rows, their learning rows and updates, and the audit rows, in one durable transaction. */
  protected abstract writeDecisionBatch(batch: DecisionWrite[], audit: PreparedAudit | undefined): Promise<DecisionWriteResult[]>;

  /** Runs compiled queries, then inserts the audit rows, in one transaction; resolves once it is durable. */
  protected abstract writeQueries(queries: Array<CompiledQuery | GuardedQuery>, audit?: PreparedAudit): Promise<void>;

  /**
   * Runs writes (plain or guarded by a row count) and appends their audit entries, in one durable transaction:
   * no change without its entry, no entry without its change. Resolves with the entries' sequence numbers.
   */
  async write(queries: Array<CompiledQuery | GuardedQuery>, audit?: AuditRequest): Promise<number[]> {
    return this.serialized(audit, async (prepared) => {
      await this.writeQueries(queries, prepared);
      return prepared === undefined ? [] : prepared.entries.map((e) => e.seq);
    });
  }

  /** Opens what writing needs (the SQLite writer thread) and loads the audit tree; called after migrations. */
  abstract start(): Promise<void>;

  // ---- the audit log: appended in the same transaction as what it records ----

  /** Loads the committed audit tree (its size and frontier) from the stored entries and nodes. */
  protected async loadAuditTree(): Promise<void> {
    const last = await this.db.selectFrom('audit_entries').select(['seq', 'leaf_hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (last === undefined) {
      this.committedTree = this.preparedTree = AuditTreeState.empty();
      return;
    }
    const size = last.seq + 1;
    const ids = decompose([0, size]);
    const nodes = await this.auditNodes(ids);
    const frontier = ids.map((id) => {
      const hash = nodes.get(nodeKey(id));
      if (hash === undefined) {
        throw new LoopgateError(
          'LOOPGATE_ERR_AUDIT_DAMAGED',
          `the audit log cannot be continued: node ${nodeKey(id)} of the tree of ${size} entries is missing; run \`loopgate audit verify\``,
        );
      }
      return { level: id.level, hash };
    });
    this.committedTree = this.preparedTree = AuditTreeState.restore(size, frontier, last.leaf_hash);
  }

  private get auditTree(): AuditTreeState {
    if (this.committedTree === undefined) throw new Error('Store.start() has not been called');
    return this.committedTree;
  }

  /**
   * Runs a write with the audit entries it carries. `write` must hand its queries to the database before its
   * first `await` (the order of submission is the order of the log). Its entries are prepared against the tree the
   * writes before it leave; the tree moves on only when it commits. A write prepared on top of one that then failed
   * is prepared again. Another process appending to the same log (a second instance on one database) makes the
   * write fail on the entries' key or sequence; the tree is then reloaded from the database and the write
   * prepared again.
   */
  private serialized<T>(audit: AuditRequest | undefined, write: (prepared: PreparedAudit | undefined) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      for (let tries = 1; ; tries++) {
        const generation = this.generation;
        const prepared = audit === undefined || audit.inputs.length === 0 ? undefined : this.preparedTree!.prepare(audit.inputs, audit.timeMs);
        if (prepared !== undefined) this.preparedTree = prepared.next;
        try {
          const result = await write(prepared);
          if (prepared !== undefined) this.committedTree = prepared.next;
          return result;
        } catch (e) {
          if (prepared === undefined) throw e;
          if (generation !== this.generation && tries < 5) continue; // prepared on top of a write that failed
          this.generation++;
          this.preparedTree = this.committedTree;
          if (tries >= 3 || !(await this.auditTreeIsStale())) throw e;
          await this.loadAuditTree();
        }
      }
    };
    if (this.ordersWrites) return run();
    const next = this.writeChain.then(run, run);
    this.writeChain = next.catch(() => undefined);
    return next;
  }

  /** True when the database holds more entries than the tree this process appends to. */
  private async auditTreeIsStale(): Promise<boolean> {
    const last = await this.db.selectFrom('audit_entries').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return (last === undefined ? 0 : Number(last.seq) + 1) !== this.auditTree.size;
  }

  /** The audit rows as multi-row inserts (stores without prepared row statements use these). */
  protected auditInserts(prepared: PreparedAudit | undefined): CompiledQuery[] {
    if (prepared === undefined) return [];
    // Chunks keep each statement under the databases' limits on bound parameters (SQLite 32766, PostgreSQL 65535).
    const out: CompiledQuery[] = [];
    for (let i = 0; i < prepared.entries.length; i += 1000) {
      out.push(this.db.insertInto('audit_entries').values(prepared.entries.slice(i, i + 1000)).compile());
    }
    for (let i = 0; i < prepared.nodes.length; i += 1000) {
      out.push(this.db.insertInto('audit_nodes').values(prepared.nodes.slice(i, i + 1000)).compile());
    }
    return out;
  }

  /** Writes a batch of decisions and the audit entry recording them, atomically and durably. */
  async commitDecisions(batch: DecisionWrite[], audit: AuditRequest): Promise<DecisionWriteResult[]> {
    return this.serialized(audit, async (prepared) => {
      for (const w of batch) w.decision.audit_seq = prepared?.firstSeq ?? null;
      return this.writeDecisionBatch(batch, prepared);
    });
  }

  /** Appends audit entries on their own (interventions that change nothing else in the database). */
  async appendAudit(audit: AuditRequest): Promise<number[]> {
    return this.serialized(audit, async (prepared) => {
      await this.writeQueries([], prepared);
      return prepared === undefined ? [] : prepared.entries.map((e) => e.seq);
    });
  }

  /** True when every trigger that keeps the audit tables append-only and in sequence is in place. */
  async auditGuardsInPlace(): Promise<boolean> {
    const names = auditGuardTriggers(this.dialect);
    const found =
      this.dialect === 'sqlite'
        ? await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name IN (${sql.join(names)})`.execute(this.db)
        : await sql<{ n: number }>`SELECT count(*) AS n FROM pg_trigger WHERE NOT tgisinternal AND tgname IN (${sql.join(names)})`.execute(this.db);
    return Number(found.rows[0]?.n ?? 0) === names.length;
  }

  /** Puts the guards back, with the audit entry that records they had been removed, in one transaction. */
  async restoreAuditGuards(audit: AuditRequest): Promise<void> {
    await this.serialized(audit, async (prepared) => {
      await this.writeQueries(auditGuards(this.dialect).map((q) => sql.raw(q).compile(this.db)), prepared);
    });
  }

  /** The number of committed audit entries. */
  get auditSize(): number {
    return this.auditTree.size;
  }

  /** The size and root of the committed audit tree, read together. */
  auditHead(): { size: number; root: Hash } {
    return this.auditTree.head();
  }

  /** Hashes of aligned subtrees: level 0 from the entries' leaf hashes, higher levels from the stored nodes. */
  async auditNodes(ids: NodeId[]): Promise<Map<string, Hash>> {
    const out = new Map<string, Hash>();
    const byLevel = new Map<number, Set<number>>();
    for (const id of ids) {
      let set = byLevel.get(id.level);
      if (set === undefined) byLevel.set(id.level, (set = new Set()));
      set.add(id.index);
    }
    const leaves = [...(byLevel.get(0) ?? [])];
    byLevel.delete(0);
    if (leaves.length > 0) {
      const rows = await this.db.selectFrom('audit_entries').select(['seq', 'leaf_hash']).where('seq', 'in', leaves).execute();
      for (const r of rows) out.set(nodeKey({ level: 0, index: Number(r.seq) }), new Uint8Array(r.leaf_hash));
    }
    if (byLevel.size > 0) {
      const rows = await this.db
        .selectFrom('audit_nodes')
        .select(['level', 'idx', 'hash'])
        .where((eb) => eb.or([...byLevel].map(([level, idx]) => eb.and([eb('level', '=', level), eb('idx', 'in', [...idx])]))))
        .execute();
      for (const r of rows) out.set(nodeKey({ level: r.level, index: Number(r.idx) }), new Uint8Array(r.hash));
    }
    return out;
  }

  /** The number of stored entries, counted (works before start(), on a damaged log too). */
  async countAuditEntries(): Promise<number> {
    const r = await this.db.selectFrom('audit_entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Entries with seq after `afterSeq`, in order (keyset paging: a missing seq shows as a gap, not a shift). */
  async auditEntriesAfter(afterSeq: number, limit: number): Promise<StoredAuditEntry[]> {
    return this.db
      .selectFrom('audit_entries')
      .select(['seq', 'entry', 'leaf_hash'])
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
  }

  /** Stored interior nodes in (level, index) order after a position, for `audit verify`. */
  async auditNodesAfter(after: NodeId, limit: number): Promise<Array<{ level: number; idx: number; hash: Uint8Array }>> {
    return this.db
      .selectFrom('audit_nodes')
      .select(['level', 'idx', 'hash'])
      // A row-value comparison is a seek on the primary key; the equivalent OR is a scan from the start per page.
      .where(({ eb, refTuple, tuple }) => eb(refTuple('level', 'idx'), '>', tuple(after.level, after.index)))
      .orderBy('level')
      .orderBy('idx')
      .limit(limit)
      .execute();
  }

  async auditEntries(start: number, end: number): Promise<StoredAuditEntry[]> {
    return this.db
      .selectFrom('audit_entries')
      .select(['seq', 'entry', 'leaf_hash'])
      .where('seq', '>=', start)
      .where('seq', '<', end)
      .orderBy('seq')
      .execute();
  }

  async searchAudit(q: AuditSearch): Promise<StoredAuditEntry[]> {
    let query = this.db.selectFrom('audit_entries').select(['seq', 'entry', 'leaf_hash']);
    if (q.actor !== undefined) query = query.where('actor_id', '=', q.actor);
    if (q.target !== undefined) {
      query = query.where('target_id', '=', q.target.id);
      if (q.target.type !== undefined) query = query.where('target_type', '=', q.target.type);
    }
    // A linked decision or case is indexed in decision_id / case_id unless it is the entry's target.
    if (q.decision !== undefined) {
      // A decision is also recorded by the batch entry that carried it (decisions.audit_seq).
      const decision = q.decision;
      const carried = this.db.selectFrom('decisions').select('audit_seq').where('id', '=', decision);
      query = query.where((eb) =>
        eb.or([
          eb('decision_id', '=', decision),
          eb.and([eb('target_type', '=', 'decision'), eb('target_id', '=', decision)]),
          eb('seq', 'in', carried),
        ]),
      );
    }
    if (q.case !== undefined) {
      const id = q.case;
      query = query.where((eb) => eb.or([eb('case_id', '=', id), eb.and([eb('target_type', '=', 'case'), eb('target_id', '=', id)])]));
    }
    if (q.action !== undefined) query = query.where('action', '=', q.action);
    if (q.since !== undefined) query = query.where('time', '>=', q.since);
    if (q.until !== undefined) query = query.where('time', '<', q.until);
    if (q.after !== undefined) query = query.where('seq', '>', q.after);
    return query.orderBy('seq').limit(q.limit).execute();
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.db.selectFrom('audit_checkpoints').selectAll().orderBy('size', 'desc').limit(1).executeTakeFirst();
  }

  async checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    return this.db.selectFrom('audit_checkpoints').selectAll().where('size', '=', size).executeTakeFirst();
  }

  async allCheckpoints(): Promise<StoredCheckpoint[]> {
    return this.db.selectFrom('audit_checkpoints').selectAll().orderBy('size').execute();
  }

  async saveCheckpoint(cp: Insertable<AuditCheckpointsTable>): Promise<void> {
    await this.writeQueries([
      this.db.insertInto('audit_checkpoints').values(cp).onConflict((oc) => oc.column('size').doNothing()).compile(),
    ]);
  }

  async getState(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('loopgate_state').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  /** Sets a state value and appends the audit entries recording the change, in one transaction. */
  async setState(key: string, value: string, audit?: AuditRequest): Promise<void> {
    await this.serialized(audit, async (prepared) => {
      const upsert = this.db
        .insertInto('loopgate_state')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
        .compile();
      await this.writeQueries([upsert], prepared);
    });
  }

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
      .values(rows.map((r) => ({ actor_key: r.actor_key, state: r.state, learned_seq: r.learned_seq, updated_at: nowMs })))
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

  /** Makes pending decisions final (only those still pending: a concurrent resolution wins), with their audit entry. */
  async resolvePending(updates: Array<{ id: string; body: string }>, audit: AuditRequest): Promise<void> {
    if (updates.length === 0) return;
    await this.serialized(audit, async (prepared) => {
      await this.writeQueries([
        ...updates.map((u) =>
          this.db.updateTable('decisions').set({ status: 'final', body: u.body }).where('id', '=', u.id).where('status', '=', 'pending').compile(),
        ),
      ], prepared);
    });
  }

  /** Records an activated policy bundle with its files, and the audit entry of the activation, in one transaction. */
  async recordPolicyVersion(version: string, files: string, nowMs: number, audit?: AuditRequest): Promise<void> {
    await this.serialized(audit, async (prepared) => {
      const query = this.db
        .insertInto('policy_versions')
        .values({ version, files, activated_at: nowMs })
        // A bundle activated again (after another one) becomes the latest activated.
        .onConflict((oc) => oc.column('version').doUpdateSet({ activated_at: nowMs }));
      await this.writeQueries([query.compile()], prepared);
    });
  }

  /** Decisions in write order after `afterSeq`, with the audit entry that recorded each (for `audit verify`). */
  async decisionsAfter(afterSeq: number, limit: number): Promise<Array<{ seq: number; id: string; body: string; audit_seq: number | null }>> {
    return this.db
      .selectFrom('decisions')
      .select(['seq', 'id', 'body', 'audit_seq'])
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
  }

  /** The version of the bundle activated last (by this or an earlier run). */
  async lastActivatedPolicy(): Promise<string | undefined> {
    const r = await this.db.selectFrom('policy_versions').select('version').orderBy('activated_at', 'desc').limit(1).executeTakeFirst();
    return r?.version;
  }
}
