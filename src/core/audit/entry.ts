/**
 * Audit entries. An entry is a JSON object written in canonical form (RFC 8785); its bytes are the Merkle leaf.
 * Each entry carries its sequence number and the leaf hash of the entry before it (`prev`), so that besides the
 * Merkle tree's signed roots, a single altered, removed, inserted or reordered entry is pinpointed by the chain.
 *
 * Personal data is kept out where a reference does: a decision is recorded by id and by the hash of its stored
 * document, not by its content.
 */
import { canonicalize } from '../../verify/canonical-json.js';

export const AUDIT_ENTRY_VERSION = 1;

export type AuditActorKind = 'system' | 'human' | 'agent' | 'service' | 'anonymous';

export interface AuditActor {
  kind: AuditActorKind;
  id: string;
  /** How strongly the actor had proven who they are (present for people once they sign in). */
  assurance?: { acr?: string; amr?: string[]; auth_time?: string; session?: string };
}

export interface AuditLinks {
  decision?: string;
  case?: string;
  policy_version?: string;
  model_version?: string;
  /** The value before the change (or its hash), where something changed. */
  previous?: unknown;
}

/** What a caller records; the log adds seq, time and prev. */
export interface AuditInput {
  action: string;
  actor: AuditActor;
  target: { type: string; id: string };
  reason?: string;
  links?: AuditLinks;
  /** Action-specific details. */
  data?: Record<string, unknown>;
}

export interface AuditEntry extends AuditInput {
  v: typeof AUDIT_ENTRY_VERSION;
  seq: number;
  time: string;
  /** Base64 leaf hash of the previous entry ("" for the first). */
  prev: string;
}

export const SYSTEM_ACTOR: AuditActor = { kind: 'system', id: 'loopgate' };

export function entryText(input: AuditInput, seq: number, timeMs: number, prev: string): { entry: AuditEntry; text: string } {
  const entry: AuditEntry = { v: AUDIT_ENTRY_VERSION, seq, time: new Date(timeMs).toISOString(), prev, ...input };
  return { entry, text: canonicalize(entry) };
}
