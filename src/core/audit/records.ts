/**
 * What each kind of change writes into the audit log. One builder per action, so that the vocabulary of actions
 * lives in one place (docs/audit.md lists it) and every door records a change the same way.
 *
 * Documents are referenced by id and SHA-256 digest (base64), never copied: the log proves what a decision said
 * without holding the personal data in it, and a decision body edited in the database no longer matches its digest.
 */
import { SYSTEM_ACTOR, type AuditActor, type AuditInput } from './entry.js';

export type DocumentDigest = readonly [id: string, sha256: string];

/** Decisions committed in one group commit, and challenges they resolved. */
export function decisionsRecorded(decisions: DocumentDigest[], resolved: DocumentDigest[]): AuditInput {
  const first = decisions[0]?.[0] ?? resolved[0]?.[0] ?? '';
  const input: AuditInput = {
    action: 'decisions.recorded',
    actor: SYSTEM_ACTOR,
    target: { type: 'decisions', id: first },
    data: { count: decisions.length, decisions: decisions.map(([id, sha256]) => ({ id, sha256 })) },
  };
  if (resolved.length > 0) input.data!.resolved = resolved.map(([id, sha256]) => ({ id, sha256 }));
  // No links.decision: a search by decision finds its batch through decisions.audit_seq.
  return input;
}

/** Challenges nobody answered in time, resolved as denied. */
export function challengesExpired(resolved: DocumentDigest[]): AuditInput {
  return {
    action: 'decisions.expired',
    actor: SYSTEM_ACTOR,
    target: { type: 'decisions', id: resolved[0]?.[0] ?? '' },
    reason: 'the challenge was not answered in time',
    data: { count: resolved.length, resolved: resolved.map(([id, sha256]) => ({ id, sha256 })) },
  };
}

export type ChangeTrigger = 'start' | 'watch' | 'signal' | 'api' | 'cli';

export function policyActivated(args: {
  version: string;
  previous: string | undefined;
  files: Array<{ path: string; sha256: string }>;
  trigger: ChangeTrigger;
  actor?: AuditActor;
}): AuditInput {
  return {
    action: 'policy.activated',
    actor: args.actor ?? SYSTEM_ACTOR,
    target: { type: 'policy_bundle', id: args.version },
    reason: `policy bundle activated (${args.trigger})`,
    links: { policy_version: args.version, ...(args.previous === undefined ? {} : { previous: args.previous }) },
    data: { trigger: args.trigger, files: args.files },
  };
}

export interface SettingChange {
  path: string;
  /** Absent when the setting was not set before (or is a secret). */
  from?: unknown;
  to?: unknown;
}

/** The configuration differs from the one last recorded (secrets appear only as "changed"). */
export function configurationChanged(digest: string, previousDigest: string | undefined, changes: SettingChange[]): AuditInput {
  return {
    action: 'config.changed',
    actor: SYSTEM_ACTOR,
    target: { type: 'configuration', id: digest },
    reason: previousDigest === undefined ? 'first start' : 'the configuration differs from the last one recorded',
    links: previousDigest === undefined ? {} : { previous: previousDigest },
    data: { changes },
  };
}

export function modelActivated(version: string, previous: string | undefined): AuditInput {
  return {
    action: 'model.activated',
    actor: SYSTEM_ACTOR,
    target: { type: 'risk_model', id: version },
    reason: previous === undefined ? 'first start' : 'the risk model configuration changed',
    links: { model_version: version, ...(previous === undefined ? {} : { previous }) },
  };
}

/** A checkpoint signing key came into use (first start, or after a rotation). */
export function signingKeyActivated(verifierKey: string, previous: string | undefined): AuditInput {
  return {
    action: 'audit.key_activated',
    actor: SYSTEM_ACTOR,
    target: { type: 'signing_key', id: verifierKey },
    reason: previous === undefined ? 'first checkpoint signing key' : 'the checkpoint signing key was rotated',
    links: previous === undefined ? {} : { previous },
  };
}

/** At start, the database triggers that keep the log append-only were missing: they are put back. */
export function auditGuardsRestored(): AuditInput {
  return {
    action: 'audit.guards_restored',
    actor: SYSTEM_ACTOR,
    target: { type: 'audit_log', id: 'guards' },
    reason: 'the database triggers that keep the audit log append-only and in sequence were missing (someone removed them)',
  };
}

/** Someone read the audit log through the API. */
export function auditRead(actor: AuditActor, what: string, query: Record<string, unknown>): AuditInput {
  return { action: 'audit.read', actor, target: { type: 'audit_log', id: what }, data: { query } };
}
