/**
 * The tables, as Kysely sees them. Times are integers (milliseconds since the epoch) so that both stores
 * compare and index them the same way; documents are JSON text so they round-trip byte for byte.
 */
import type { ColumnType, Generated } from 'kysely';

/** PostgreSQL returns BIGINT as a string unless told otherwise; the pool parses it (see postgres.ts). */
type BigIntColumn = ColumnType<number, number, number>;

export interface DecisionsTable {
  seq: Generated<number>;
  id: string;
  created_at: BigIntColumn;
  event_time: BigIntColumn;
  event_type: string;
  subject_id: string;
  actor_key: string;
  ip: string | null;
  /** 1 when a login or MFA attempt reported a failed credential check (for velocity). */
  failed: number;
  outcome: string;
  status: string;
  risk_score: number | null;
  risk_level: string;
  policy_version: string;
  learned: number;
  body: string;
  /** The audit entry (a batch of decisions) that recorded this decision. */
  audit_seq: number | null;
}

/**
 * Trusted observations, in the order they were learned: the source of truth for baselines. Each row points at
 * the decision whose features were learned (its own, or the challenged decision an MFA event answered).
 */
export interface LearningTable {
  seq: Generated<number>;
  actor_key: string;
  decision_id: string;
  source: string;
  created_at: BigIntColumn;
}

/** Snapshots of per-principal baselines; `learned_seq` is the last learning entry folded in. */
export interface BaselinesTable {
  actor_key: string;
  state: string;
  learned_seq: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface BaselineGlobalTable {
  id: string;
  state: string;
  /** The snapshot watermark: every learning entry up to it is in a principal's snapshot. */
  learned_seq: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface PolicyVersionsTable {
  version: string;
  activated_at: BigIntColumn;
  files: string;
}

/** The audit log: one row per entry, its canonical JSON and its Merkle leaf hash. */
export interface AuditEntriesTable {
  seq: number;
  time: BigIntColumn;
  action: string;
  actor_kind: string;
  actor_id: string;
  target_type: string;
  target_id: string;
  decision_id: string | null;
  case_id: string | null;
  entry: string;
  leaf_hash: Uint8Array;
}

/** Complete interior nodes of the audit Merkle tree. */
export interface AuditNodesTable {
  level: number;
  idx: BigIntColumn;
  hash: Uint8Array;
}

export interface AuditCheckpointsTable {
  size: BigIntColumn;
  created_at: BigIntColumn;
  root: Uint8Array;
  key_id: string;
  note: string;
}

/** Small named values Loopgate keeps between runs (e.g. the hash of the configuration last recorded). */
export interface StateTable {
  key: string;
  value: string;
}

export interface Database {
  audit_entries: AuditEntriesTable;
  audit_nodes: AuditNodesTable;
  audit_checkpoints: AuditCheckpointsTable;
  loopgate_state: StateTable;
  decisions: DecisionsTable;
  learning: LearningTable;
  baselines: BaselinesTable;
  baseline_global: BaselineGlobalTable;
  policy_versions: PolicyVersionsTable;
}
