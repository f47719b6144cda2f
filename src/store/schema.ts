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

export interface PrincipalsTable {
  id: string;
  /** human | service | agent */
  kind: string;
  display_name: string;
  /** For a service or agent: the human accountable for it. */
  sponsor: string | null;
  /** JSON object: region, department, manager, email… (what scope conditions read as `reviewer.*`). */
  attributes: string;
  /** active | disabled */
  status: string;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
}

export interface RolesTable {
  name: string;
  description: string;
  /** JSON array of permission names. */
  permissions: string;
  builtin: number;
  created_at: BigIntColumn;
}

export interface RoleBindingsTable {
  id: string;
  principal_id: string;
  role: string;
  /** CEL over `case` and `reviewer`: which cases this binding reaches (none = all). */
  condition: string | null;
  expires_at: BigIntColumn | null;
  created_at: BigIntColumn;
  created_by: string;
}

export interface CredentialsTable {
  id: string;
  principal_id: string;
  /** password | totp | webauthn */
  type: string;
  label: string;
  /** password: the argon2id PHC string; totp: the base32 secret; webauthn: JSON of the stored public key. */
  secret: string;
  /** totp: the last accepted time step (the replay guard); webauthn: the signature counter. */
  counter: BigIntColumn;
  /** webauthn: the credential id (base64url), unique; null for other types. */
  credential_id: string | null;
  /** 0 while an enrolment waits for its first proof. */
  confirmed: number;
  created_at: BigIntColumn;
  last_used_at: BigIntColumn | null;
}

export interface ApiKeysTable {
  id: string;
  principal_id: string;
  /** SHA-256 (base64url) of the key's secret part. */
  hash: string;
  /** JSON array of roles (a subset of the principal's). */
  roles: string;
  label: string;
  created_at: BigIntColumn;
  created_by: string;
  expires_at: BigIntColumn | null;
  revoked_at: BigIntColumn | null;
  last_used_at: BigIntColumn | null;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  principal_id: string;
  /** mfa_pending | active */
  state: string;
  acr: string;
  /** JSON array of authentication methods (RFC 8176). */
  amr: string;
  /** When the principal last proved the strongest factor of this session (RFC 9470 max_age compares to it). */
  auth_time: BigIntColumn;
  csrf_hash: string;
  created_at: BigIntColumn;
  expires_at: BigIntColumn;
  revoked_at: BigIntColumn | null;
}

export interface AuthFailuresTable {
  key: string;
  failures: number;
  window_start: BigIntColumn;
  locked_until: BigIntColumn | null;
}

export interface ChallengesTable {
  id: string;
  purpose: string;
  principal_id: string | null;
  data: string;
  created_at: BigIntColumn;
  expires_at: BigIntColumn;
  used_at: BigIntColumn | null;
}

export interface CasesTable {
  id: string;
  decision_id: string;
  /** open | claimed | decided | escalated | expired | cancelled */
  status: string;
  event_type: string;
  subject_id: string;
  risk_level: string;
  /** JSON of the route (with escalation applied). */
  route: string;
  created_at: BigIntColumn;
  deadline_at: BigIntColumn;
  /** When the deadline warning is due; null once sent, or when the route has none. */
  warn_at: BigIntColumn | null;
  warned_at: BigIntColumn | null;
  escalations: number;
  claimed_by: string | null;
  lease_until: BigIntColumn | null;
  /** allow | deny once decided or expired. */
  outcome: string | null;
  closed_at: BigIntColumn | null;
  /** Optimistic concurrency: every change increments it and requires the version it read. */
  version: number;
}

export interface VerdictsTable {
  id: string;
  case_id: string;
  reviewer_id: string;
  role: string;
  verdict: string;
  label: string;
  body: string;
  created_at: BigIntColumn;
}

export interface LabelsTable {
  id: string;
  decision_id: string;
  case_id: string;
  label: string;
  body: string;
  created_at: BigIntColumn;
}

export interface BaselineExceptionsTable {
  id: string;
  actor_key: string;
  feature: string;
  value: string;
  until: BigIntColumn;
  reason: string;
  created_by: string;
  created_at: BigIntColumn;
}

export interface WebhooksTable {
  id: string;
  url: string;
  secret: string;
  events: string;
  active: number;
  created_at: BigIntColumn;
  created_by: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_type: string;
  payload: string;
  /** pending | delivered | dead */
  status: string;
  attempts: number;
  next_attempt_at: BigIntColumn;
  last_error: string | null;
  created_at: BigIntColumn;
  delivered_at: BigIntColumn | null;
}

export interface Database {
  principals: PrincipalsTable;
  roles: RolesTable;
  role_bindings: RoleBindingsTable;
  credentials: CredentialsTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  auth_failures: AuthFailuresTable;
  challenges: ChallengesTable;
  cases: CasesTable;
  verdicts: VerdictsTable;
  labels: LabelsTable;
  baseline_exceptions: BaselineExceptionsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
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
